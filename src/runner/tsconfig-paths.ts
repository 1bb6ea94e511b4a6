/**
 * tsconfig `paths` and `baseUrl` as the resolver uses them: compiled once from the chain that
 * tsconfig.ts read, then asked for the candidate files of every bare specifier, in the order
 * TypeScript tries them. `paths` targets are relative to `baseUrl` or, without one, to the
 * config that declared `paths`.
 *
 * Only the resolver needs this, and only for bare specifiers, so a malformed `paths` fails
 * those resolutions (the resolver keeps the error) and nothing else.
 */
import path from 'node:path';
import { configPath, tsconfigError, type TsconfigChain } from './tsconfig.js';

export interface PathsPattern {
  /** The key before its `*` (the whole key when it has none). */
  readonly prefix: string;
  readonly suffix: string;
  readonly wildcard: boolean;
  /** Absolute targets, still holding their `*`. */
  readonly targets: readonly string[];
}

export interface TsconfigPaths {
  /** Absolute `baseUrl`, if any config in the chain sets one. */
  readonly baseUrl: string | undefined;
  /** Exact keys first, then patterns by prefix length, longest first (TypeScript's choice). */
  readonly patterns: readonly PathsPattern[];
}

export function compilePaths(chain: TsconfigChain): TsconfigPaths {
  const patterns: PathsPattern[] = [];
  const declared = chain.paths;
  if (declared !== undefined) {
    const base = chain.baseUrl ?? path.dirname(declared.file);
    for (const [key, value] of Object.entries(declared.map)) {
      if (!Array.isArray(value) || !value.every((t) => typeof t === 'string')) {
        throw tsconfigError(`"paths" entry '${key}' in ${declared.file} must be an array of strings`, 'Write it as "key": ["./target"].');
      }
      for (const pattern of [key, ...value]) {
        if (pattern.indexOf('*') !== pattern.lastIndexOf('*')) {
          throw tsconfigError(`"paths" pattern '${pattern}' in ${declared.file} has more than one '*'`, 'Use at most one * per pattern.');
        }
      }
      const star = key.indexOf('*');
      patterns.push({
        prefix: star === -1 ? key : key.slice(0, star),
        suffix: star === -1 ? '' : key.slice(star + 1),
        wildcard: star !== -1,
        targets: value.map((t: string) => configPath(t, base, chain.configDir)),
      });
    }
  }
  // Stable sort keeps declaration order among equals, as TypeScript's first-best-match does.
  patterns.sort((a, b) => (a.wildcard === b.wildcard ? b.prefix.length - a.prefix.length : a.wildcard ? 1 : -1));
  return { baseUrl: chain.baseUrl, patterns };
}

/** Absolute paths to try for a non-relative specifier: the best `paths` match, then `baseUrl`. */
export function tsconfigCandidates(config: TsconfigPaths, specifier: string): string[] {
  const out: string[] = [];
  for (const p of config.patterns) {
    if (!p.wildcard) {
      if (specifier !== p.prefix) continue;
      out.push(...p.targets);
      break;
    }
    if (specifier.length < p.prefix.length + p.suffix.length) continue;
    if (!specifier.startsWith(p.prefix) || !specifier.endsWith(p.suffix)) continue;
    const match = specifier.slice(p.prefix.length, specifier.length - p.suffix.length);
    // TypeScript substitutes the first '*' only; slicing avoids '$' patterns of String#replace.
    for (const t of p.targets) {
      const star = t.indexOf('*');
      out.push(path.resolve(star === -1 ? t : t.slice(0, star) + match + t.slice(star + 1)));
    }
    break;
  }
  if (config.baseUrl !== undefined) out.push(path.resolve(config.baseUrl, specifier));
  return out;
}
