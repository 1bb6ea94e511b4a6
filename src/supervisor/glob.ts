/**
 * Glob patterns for --include/--exclude, matched by devhot's watcher (watch-rules.ts):
 * `*` and `?` stay within a path segment, `**` spans segments, `{a,b}` is a choice. A pattern
 * without a slash matches a file or directory name at any depth (`*.test.ts`, `fixtures`); a
 * plain path matches itself and everything below it.
 */
export type Matcher = (relativePath: string) => boolean;

export function isGlob(pattern: string): boolean {
  return /[*?{}[\]]/.test(pattern);
}

function toRegExp(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches zero or more directories; a trailing `**` matches anything.
        if (glob[i + 2] === '/') {
          out += '(?:.*/)?';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else {
        out += '[^/]*';
      }
    } else if (ch === '?') {
      out += '[^/]';
    } else if (ch === '{') {
      const end = glob.indexOf('}', i);
      if (end === -1) {
        out += '\\{';
        continue;
      }
      out += `(?:${glob
        .slice(i + 1, end)
        .split(',')
        .map(toRegExp)
        .join('|')})`;
      i = end;
    } else {
      out += ch.replace(/[.+^$()|[\]\\]/g, '\\$&');
    }
  }
  return out;
}

function compile(raw: string): Matcher {
  const pattern = raw.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/$/, '');
  if (!isGlob(pattern)) {
    return (path) => path === pattern || path.startsWith(`${pattern}/`) || (!pattern.includes('/') && path.split('/').includes(pattern));
  }
  const re = new RegExp(`^${toRegExp(pattern)}(?:/.*)?$`);
  if (pattern.includes('/')) return (path) => re.test(path);
  // No slash: the name of any file or directory on the path.
  return (path) => path.split('/').some((_, i, parts) => re.test(parts.slice(i).join('/')) || re.test(parts[i]!));
}

export function createMatcher(patterns: readonly string[]): Matcher {
  const tests = patterns.map(compile);
  return (path) => tests.some((t) => t(path));
}
