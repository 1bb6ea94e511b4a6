/**
 * The one reader of a tsconfig `extends` chain. Its two users take different parts of one
 * result: the resolver `baseUrl` and `paths` (tsconfig-paths.ts), esbuild the compiler options
 * that change its output (esbuild-tsconfig.ts). The rules are TypeScript's, so devhot runs what
 * tsc accepts and stops where tsc stops:
 *
 * 1. `extends` is a string or an array of strings. Bases apply in order, later ones win, and the
 *    config itself wins over all; compilerOptions merge option by option, so a `paths` replaces
 *    the whole `paths` it extends.
 * 2. A relative or absolute `extends` names a file (`.json` added if needed); a bare one names a
 *    package, resolved as a NodeNext `require` of a JSON file: its `exports`, else its
 *    `tsconfig` field, else its tsconfig.json.
 * 3. A base that is not there is an error (tsc: TS5083 for a file, TS6053 for a package), and so
 *    is a chain that comes back to a config it is inside (TS18000). A base reached twice through
 *    different configs (a diamond) is no loop: tsc applies it both times, and so do we.
 * 4. Paths written in a config are relative to that config; `${configDir}` is the directory of
 *    the root config (TS 5.5).
 *
 * Errors are DEVHOT_ERR_TSCONFIG with the file and the fix.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DevhotError, ErrorCodes } from '../errors.js';
import { isMissing, readIfExists } from '../shared/fs-read.js';
import { createPackageJsonReader, type PackageJson, type PackageJsonReader } from '../shared/package-json.js';
import { parseJsonc } from './jsonc.js';
import { findInNodeModules } from './node-modules.js';
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

export interface TsconfigChain {
  /** Every config file of the chain, root first, each once. */
  readonly files: readonly string[];
  /** compilerOptions merged across the chain, values as written. */
  readonly compilerOptions: Readonly<Record<string, unknown>>;
  /** Absolute `baseUrl`, resolved against the config that set it; undefined when none does. */
  readonly baseUrl: string | undefined;
  /** The `paths` that won and the config that declared it (its targets are relative to it). */
  readonly paths: { readonly map: Readonly<Record<string, unknown>>; readonly file: string } | undefined;
  /** The root config's directory: what `${configDir}` stands for. */
  readonly configDir: string;
}

/** What one config contributes, its bases merged in. */
interface Layer {
  options: Record<string, unknown>;
  baseUrl?: string;
  paths?: { map: Record<string, unknown>; file: string };
}

// TypeScript resolves a package `extends` as a NodeNext require of a JSON file.
const EXTENDS_CONDITIONS: ReadonlySet<string> = new Set(['node', 'require', 'types', 'default']);

/**
 * Read `file` (absolute) and every config it extends. `host` defaults to plain disk reads; the
 * resolver passes its cached lookups. Throws a DevhotError (DEVHOT_ERR_TSCONFIG) when the chain
 * is broken.
 */
export function readTsconfig(file: string, host: TsconfigHost = diskHost()): TsconfigChain {
  const files = new Set<string>();
  const configDir = path.dirname(file);
  const layer = readLayer(file, host, files, configDir, []);
  return { files: [...files], compilerOptions: layer.options, baseUrl: layer.baseUrl, paths: layer.paths, configDir };
}

/** A path written in a config: `${configDir}` is the root config's directory, else relative to `dir`. */
export function configPath(value: string, dir: string, configDir: string): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript's literal `${configDir}` token
  if (value.startsWith('${configDir}')) return path.join(configDir, value.slice('${configDir}'.length));
  return path.resolve(dir, value);
}

export function tsconfigError(message: string, fix: string, cause?: unknown): DevhotError {
  return new DevhotError(ErrorCodes.TSCONFIG, message, { fix, ...(cause === undefined ? {} : { cause }) });
}

/** `stack`: the configs that extend this one, root first; only a file on it makes a loop. */
function readLayer(file: string, host: TsconfigHost, files: Set<string>, configDir: string, stack: string[]): Layer {
  if (stack.includes(file)) {
    throw tsconfigError(`Circular "extends" in tsconfig: ${[...stack, file].join(' → ')}`, 'Remove one of the "extends".');
  }
  const text = host.readFile(file);
  if (text === undefined) {
    const by = stack.at(-1);
    throw tsconfigError(
      by === undefined ? `Cannot find tsconfig ${file}` : `Cannot find tsconfig ${file} (extended by ${by})`,
      by === undefined
        ? 'Check the tsconfig path (--tsconfig), or leave it out to use tsconfig.json in the root if there is one.'
        : 'Check the "extends" path.',
    );
  }
  files.add(file);
  let json: unknown;
  try {
    json = parseJsonc(text);
  } catch (error) {
    throw tsconfigError(
      `Cannot parse ${file}: ${(error as Error).message}`,
      'Fix the JSON syntax (comments and trailing commas are fine).',
      error,
    );
  }
  if (!isObject(json)) throw tsconfigError(`${file} is not a JSON object`, 'A tsconfig must be an object like {"compilerOptions": {}}.');
  const ext = json.extends;
  const bases = typeof ext === 'string' ? [ext] : Array.isArray(ext) ? (ext as unknown[]) : [];
  const merged: Layer = { options: {} };
  for (const base of bases) {
    if (typeof base !== 'string') throw tsconfigError(`"extends" in ${file} must hold strings`, 'Write "extends": "./base.json".');
    const layer = readLayer(resolveExtends(base, file, host), host, files, configDir, [...stack, file]);
    Object.assign(merged.options, layer.options);
    if (layer.baseUrl !== undefined) merged.baseUrl = layer.baseUrl;
    if (layer.paths !== undefined) merged.paths = layer.paths;
  }
  const options = json.compilerOptions;
  if (isObject(options)) {
    Object.assign(merged.options, options);
    if (typeof options.baseUrl === 'string') merged.baseUrl = configPath(options.baseUrl, path.dirname(file), configDir);
    if (isObject(options.paths)) merged.paths = { map: options.paths, file };
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
    throw tsconfigError(
      `Cannot find '${spec}' extended by ${from}`,
      `Check the "extends" path; devhot tried: ${candidates.join(', ') || '(nothing)'}.`,
    );
  }
  return found;
}

/**
 * Plain disk reads, for a caller without the resolver's caches (esbuild's options are read once
 * per runner). `packages` reads the package.json of an `extends` package.
 */
function diskHost(packages: PackageJsonReader = createPackageJsonReader()): TsconfigHost {
  const stat = (file: string): fs.Stats | undefined => {
    try {
      return fs.statSync(file, { throwIfNoEntry: false });
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  };
  return {
    readFile: readIfExists,
    isFile: (file) => stat(file)?.isFile() === true,
    findPackageDir: (name, fromDir) => {
      const dir = findInNodeModules(name, fromDir, (d) => stat(d)?.isDirectory() === true);
      // Real path, as the resolver gives: a linked workspace package is read from its source.
      return dir === undefined ? undefined : fs.realpathSync.native(dir);
    },
    readPackageJson: (dir) => packages.read(dir),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
