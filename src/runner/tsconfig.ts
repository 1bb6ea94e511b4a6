/**
 * Loads the parts of a tsconfig chain that affect resolution (`baseUrl`, `paths`) and turns a
 * specifier into the candidate paths TypeScript would try. Follows TypeScript's rules:
 * `extends` is a string or an array (later entries win, the config itself wins over all), paths
 * in a config are relative to the file that declares them, `paths` targets are relative to
 * `baseUrl` or, without one, to the config that declared `paths`, and `${configDir}` means the
 * directory of the root config (TS 5.5).
 */
import path from 'node:path';
import { DevhotError, ErrorCodes } from '../errors.js';
import type { PackageJson } from '../shared/package-json.js';
import { parseJsonc } from './jsonc.js';
import { resolvePackageExports, splitPackageSpecifier } from './package-exports.js';

/** File access, injected so the resolver's caches serve tsconfig loading too. */
export interface TsconfigHost {
  /** Text of a file, or undefined when there is none. */
  readFile(file: string): string | undefined;
  isFile(file: string): boolean;
  /** Real directory of package `name` seen from `fromDir` (node_modules lookup), or undefined. */
  findPackageDir(name: string, fromDir: string): string | undefined;
  readPackageJson(dir: string): PackageJson | undefined;
}

export interface PathsPattern {
  /** The key before its `*` (the whole key when it has none). */
  readonly prefix: string;
  readonly suffix: string;
  readonly wildcard: boolean;
  /** Absolute targets, still holding their `*`. */
  readonly targets: readonly string[];
}

export interface Tsconfig {
  /** Every config file in the chain, root first. */
  readonly files: readonly string[];
  /** Absolute `baseUrl`, if any config in the chain sets one. */
  readonly baseUrl: string | undefined;
  /** Exact keys first, then patterns by prefix length, longest first (TypeScript's choice). */
  readonly patterns: readonly PathsPattern[];
}

interface Merged {
  baseUrl?: string;
  paths?: Record<string, unknown>;
  pathsDir?: string;
}

// TypeScript resolves a package `extends` as a NodeNext require of a JSON file.
const EXTENDS_CONDITIONS: ReadonlySet<string> = new Set(['node', 'require', 'types', 'default']);

export function loadTsconfig(file: string, host: TsconfigHost): Tsconfig {
  const files: string[] = [];
  const rootDir = path.dirname(file);
  const merged = loadChain(file, host, files, rootDir, []);
  const base = merged.baseUrl ?? merged.pathsDir ?? rootDir;
  const patterns: PathsPattern[] = [];
  for (const [key, value] of Object.entries(merged.paths ?? {})) {
    if (!Array.isArray(value) || !value.every((t) => typeof t === 'string')) {
      throw tsconfigError(`"paths" entry '${key}' in ${file} must be an array of strings`, 'Write it as "key": ["./target"].');
    }
    for (const pattern of [key, ...value]) {
      if (pattern.indexOf('*') !== pattern.lastIndexOf('*')) {
        throw tsconfigError(`"paths" pattern '${pattern}' in ${file} has more than one '*'`, 'Use at most one * per pattern.');
      }
    }
    const star = key.indexOf('*');
    patterns.push({
      prefix: star === -1 ? key : key.slice(0, star),
      suffix: star === -1 ? '' : key.slice(star + 1),
      wildcard: star !== -1,
      targets: value.map((t: string) => configPath(t, base, rootDir)),
    });
  }
  // Stable sort keeps declaration order among equals, as TypeScript's first-best-match does.
  patterns.sort((a, b) => (a.wildcard === b.wildcard ? b.prefix.length - a.prefix.length : a.wildcard ? 1 : -1));
  return { files, baseUrl: merged.baseUrl, patterns };
}

/** Absolute paths to try for a non-relative specifier: the best `paths` match, then `baseUrl`. */
export function tsconfigCandidates(config: Tsconfig, specifier: string): string[] {
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

function loadChain(file: string, host: TsconfigHost, files: string[], rootDir: string, stack: string[]): Merged {
  if (stack.includes(file)) {
    throw tsconfigError(`Circular "extends" in tsconfig: ${[...stack, file].join(' → ')}`, 'Remove one of the "extends".');
  }
  const text = host.readFile(file);
  if (text === undefined) {
    const by = stack.at(-1);
    throw tsconfigError(
      by === undefined ? `Cannot find tsconfig ${file}` : `Cannot find tsconfig ${file} (extended by ${by})`,
      'Check the path, or pass tsconfig: false to run without one.',
    );
  }
  files.push(file);
  let json: unknown;
  try {
    json = parseJsonc(text);
  } catch (error) {
    throw tsconfigError(`Cannot parse ${file}: ${(error as Error).message}`, 'Fix the JSON syntax (comments and trailing commas are fine).');
  }
  if (!isObject(json)) throw tsconfigError(`${file} is not a JSON object`, 'A tsconfig must be an object like {"compilerOptions": {}}.');
  const dir = path.dirname(file);
  const ext = json.extends;
  const bases = typeof ext === 'string' ? [ext] : Array.isArray(ext) ? (ext as unknown[]) : [];
  let merged: Merged = {};
  for (const base of bases) {
    if (typeof base !== 'string') throw tsconfigError(`"extends" in ${file} must hold strings`, 'Write "extends": "./base.json".');
    const baseFile = resolveExtends(base, file, host);
    merged = { ...merged, ...loadChain(baseFile, host, files, rootDir, [...stack, file]) };
  }
  const options = json.compilerOptions;
  if (isObject(options)) {
    if (typeof options.baseUrl === 'string') merged.baseUrl = configPath(options.baseUrl, dir, rootDir);
    if (isObject(options.paths)) {
      merged.paths = options.paths;
      merged.pathsDir = dir;
    }
  }
  return merged;
}

/** TypeScript's getExtendsConfigPath: a path (with '.json' added if needed) or a package. */
function resolveExtends(spec: string, from: string, host: TsconfigHost): string {
  const dir = path.dirname(from);
  const candidates: string[] = [];
  if (path.isAbsolute(spec) || /^\.\.?(\/|\\|$)/.test(spec)) {
    const file = path.resolve(dir, spec);
    candidates.push(file);
    if (!file.endsWith('.json')) candidates.push(`${file}.json`);
  } else {
    const parsed = splitPackageSpecifier(spec);
    const pkgDir = parsed && host.findPackageDir(parsed.name, dir);
    if (parsed === undefined || pkgDir === undefined) {
      throw tsconfigError(`Cannot find package '${spec}' extended by ${from}`, `Run npm install -D ${parsed?.name ?? spec}.`);
    }
    const pkg = host.readPackageJson(pkgDir);
    if (pkg?.exports != null) {
      const r = resolvePackageExports(pkg.exports, parsed.subpath, EXTENDS_CONDITIONS);
      if (r.kind === 'path') candidates.push(path.join(pkgDir, r.path));
    } else if (parsed.subpath === '.') {
      if (typeof pkg?.tsconfig === 'string') candidates.push(path.join(pkgDir, pkg.tsconfig));
      candidates.push(path.join(pkgDir, 'tsconfig.json'));
    } else {
      const file = path.join(pkgDir, parsed.subpath);
      candidates.push(file);
      if (!file.endsWith('.json')) candidates.push(`${file}.json`);
      candidates.push(path.join(file, 'tsconfig.json'));
    }
  }
  const found = candidates.find((c) => host.isFile(c));
  if (found === undefined) {
    throw tsconfigError(`Cannot find '${spec}' extended by ${from}`, `Check the "extends" path; devhot tried: ${candidates.join(', ') || '(nothing)'}.`);
  }
  return found;
}

/** A path written in a config: `${configDir}` is the root config's directory, else relative to `dir`. */
function configPath(value: string, dir: string, rootDir: string): string {
  if (value.startsWith('${configDir}')) return path.join(rootDir, value.slice('${configDir}'.length));
  return path.resolve(dir, value);
}

function tsconfigError(message: string, fix: string): DevhotError {
  return new DevhotError(ErrorCodes.TSCONFIG, message, { fix });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
