/**
 * Maps an import specifier to what the runner loads: a user source file (transformed and
 * evaluated by devhot), a Node built-in, or an external file Node loads natively.
 *
 * Order: built-ins; `data:`/`file:` URLs; relative and absolute paths (with the extension and
 * `.js`→`.ts` probing TypeScript users rely on); `#imports`; tsconfig `paths`/`baseUrl`;
 * packages in node_modules via `exports` (Node's algorithm) or `main`.
 * It runs for every import of every module, so all fs lookups and results are cached.
 */
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DevhotError, ErrorCodes } from '../errors.js';
import { readIfExists } from '../shared/fs-read.js';
import { createPackageJsonReader, type PackageJson, type PackageJsonReader } from '../shared/package-json.js';
import { FileProbe, USER_EXTENSIONS } from './file-probe.js';
import type { DirStamp, PackLink } from './start-pack.js';
import { findInNodeModules } from './node-modules.js';
import { exportedSubpaths, resolvePackageExports, resolvePackageImports, splitPackageSpecifier } from './package-exports.js';
import { readTsconfig, type TsconfigHost } from './tsconfig.js';
import { compilePaths, tsconfigCandidates, type TsconfigPaths } from './tsconfig-paths.js';

export interface ResolverOptions {
  /** Project root (absolute). */
  root: string;
  /** Path to tsconfig.json (absolute or relative to root); undefined = look for root/tsconfig.json; false = none. */
  tsconfig?: string | false;
  /**
   * The runner's package.json reader, shared with its format lookup so each file is read once.
   * Default: a reader of this resolver's own. `clearCache()` clears it.
   */
  packages?: PackageJsonReader;
}

export type ResolveResult =
  /** Absolute real path of a source file devhot transforms and evaluates itself. */
  | { kind: 'user'; file: string }
  /** 'node:fs' form for Node built-ins. */
  | { kind: 'builtin'; id: string }
  /** file:// URL inside node_modules (or a .node addon, or a data: URL), loaded natively by Node. */
  | { kind: 'external'; url: string };

export interface Resolver {
  /** importer: absolute path of the importing file. kind: 'require' switches the 'import' condition to 'require'. */
  resolve(specifier: string, importer: string, kind?: 'import' | 'require'): ResolveResult;
  /** Forget cached fs lookups (files added/removed/renamed, tsconfig/package.json changed). */
  clearCache(): void;
  /** Resolve many at once (a discovery, before its code runs): directories are listed once, not stat'ed per file. */
  batch<T>(run: () => Promise<T>): Promise<T>;
  /** Files whose change invalidates resolution (tsconfig chain, package.json files read), absolute. */
  readonly configFiles: ReadonlySet<string>;
  /** While on (a start), note the links of what `resolve` answers (`linkOf`); off forgets them. */
  noteLinks(on: boolean): void;
  /**
   * A relative import `resolve` answered from its directory's listing alone while noting links,
   * with that directory's stamp: the start pack keeps it (start-pack.ts, PackLink).
   */
  linkOf(specifier: string, importer: string, kind: 'import' | 'require'): PackLink | undefined;
}

// Node's default conditions. 'module-sync' is on wherever require(esm) is (Node 20.19+, 22.12+),
// which our engines floor (>= 20.19) guarantees; 'node-addons' is on unless --no-addons.
const IMPORT_CONDITIONS: ReadonlySet<string> = new Set(['node', 'import', 'module-sync', 'node-addons', 'default']);
const REQUIRE_CONDITIONS: ReadonlySet<string> = new Set(['node', 'require', 'module-sync', 'node-addons', 'default']);
const URL_SCHEME = /^[a-z][a-z\d+.-]*:/i;

export function createResolver(options: ResolverOptions): Resolver {
  return new DevhotResolver(options);
}

class DevhotResolver implements Resolver {
  readonly configFiles = new Set<string>();
  private readonly root: string;
  private readonly tsconfigFile: string | undefined;
  private readonly tsconfigRequired: boolean;
  private readonly results = new Map<string, ResolveResult>();
  /** Links noted while `noting`, by the key of `results`. */
  private readonly links = new Map<string, PackLink>();
  private noting = false;
  /** The directory stamp the last `resolvePath` found its file under (FileProbe.linkDir). */
  private lastLink: DirStamp | undefined;
  private readonly packages: PackageJsonReader;
  private readonly files: FileProbe;
  private readonly scopes = new Map<string, string | null>();
  private tsconfig: TsconfigPaths | undefined;
  /** A broken tsconfig fails the resolutions that need it, not the resolver's construction. */
  private tsconfigError: unknown;
  private readonly host: TsconfigHost = {
    readFile: (file) => {
      const text = readIfExists(file);
      if (text !== undefined) this.configFiles.add(file);
      return text;
    },
    isFile: (file) => this.files.isFile(file),
    findPackageDir: (name, fromDir) => this.findPackageDir(name, fromDir),
    readPackageJson: (dir) => this.packageJson(dir),
  };

  constructor(options: ResolverOptions) {
    this.root = path.resolve(options.root);
    this.packages = options.packages ?? createPackageJsonReader({ root: this.root });
    this.files = new FileProbe(this.root, (dir) => this.packageJson(dir));
    this.tsconfigRequired = typeof options.tsconfig === 'string';
    this.tsconfigFile = options.tsconfig === false ? undefined : path.resolve(this.root, options.tsconfig ?? 'tsconfig.json');
    this.loadTsconfig();
  }

  resolve(specifier: string, importer: string, kind: 'import' | 'require' = 'import'): ResolveResult {
    // Everything below depends on the importer only through its directory.
    const dir = path.dirname(importer);
    const key = `${kind}\0${dir}\0${specifier}`;
    let result = this.results.get(key);
    if (result === undefined) {
      this.lastLink = undefined;
      result = this.resolveUncached(specifier, dir, importer, kind);
      this.results.set(key, result);
      const link = this.lastLink;
      if (this.noting && link && result.kind === 'user' && isRelative(specifier))
        this.links.set(key, { specifier, file: result.file, dir: link });
    }
    return result;
  }

  noteLinks(on: boolean): void {
    this.noting = on;
    this.files.stamping = on;
    if (!on) this.links.clear();
  }

  linkOf(specifier: string, importer: string, kind: 'import' | 'require'): PackLink | undefined {
    return this.links.get(`${kind}\0${path.dirname(importer)}\0${specifier}`);
  }

  async batch<T>(run: () => Promise<T>): Promise<T> {
    this.files.beginBatch();
    try {
      return await run();
    } finally {
      this.files.endBatch();
    }
  }

  clearCache(): void {
    this.results.clear();
    this.links.clear();
    this.files.clear();
    this.packages.clear();
    this.scopes.clear();
    this.configFiles.clear();
    this.loadTsconfig();
  }

  private resolveUncached(specifier: string, dir: string, importer: string, kind: 'import' | 'require'): ResolveResult {
    const builtin = this.builtin(specifier, importer);
    if (builtin !== undefined) return builtin;
    if (specifier.startsWith('data:')) return { kind: 'external', url: specifier };
    if (specifier.startsWith('file:')) {
      let file: string;
      try {
        file = fileURLToPath(specifier);
      } catch (error) {
        throw this.resolveError(specifier, importer, 'Use a file:// URL of a local file.', error);
      }
      return this.resolvePath(file, specifier, importer, specifier.endsWith('/'));
    }
    if (isRelative(specifier) || path.isAbsolute(specifier)) {
      const dirOnly = specifier.endsWith('/') || specifier === '.' || specifier === '..';
      return this.resolvePath(path.resolve(dir, specifier), specifier, importer, dirOnly);
    }
    if (specifier.startsWith('#')) return this.resolveImportsField(specifier, dir, importer, kind);
    if (URL_SCHEME.test(specifier)) {
      throw this.resolveError(specifier, importer, 'Only file:, data: and node: URLs can be imported in Node.');
    }
    return this.resolveWithPaths(specifier, dir, importer) ?? this.resolvePackage(specifier, dir, importer, kind);
  }

  private builtin(specifier: string, importer: string): ResolveResult | undefined {
    if (specifier.startsWith('node:')) {
      if (isBuiltin(specifier)) return { kind: 'builtin', id: specifier };
      throw this.resolveError(
        specifier,
        importer,
        `Node ${process.version} has no built-in module '${specifier.slice(5)}'; check the name.`,
      );
    }
    return isBuiltin(specifier) ? { kind: 'builtin', id: `node:${specifier}` } : undefined;
  }

  /** Rule 3: a file or directory path. */
  private resolvePath(abs: string, specifier: string, importer: string, dirOnly: boolean): ResolveResult {
    this.files.resetCertain();
    const file = this.files.probe(abs, dirOnly);
    if (file !== undefined) {
      if (this.noting && !dirOnly) this.lastLink = this.files.linkDir(abs, file);
      return this.classify(file, specifier, importer);
    }
    throw this.resolveError(specifier, importer, `Check the path and the file extension; ${this.tried(abs, dirOnly)}.`);
  }

  /** Rule 4: '#alias' from the nearest package.json `imports`, then tsconfig `paths` as a fallback. */
  private resolveImportsField(specifier: string, dir: string, importer: string, kind: 'import' | 'require'): ResolveResult {
    const scope = this.packageScope(dir);
    const pkg = scope === undefined ? undefined : this.packageJson(scope);
    const r = resolvePackageImports(pkg?.imports, specifier, kind === 'require' ? REQUIRE_CONDITIONS : IMPORT_CONDITIONS);
    if (scope !== undefined && r.kind === 'path') {
      const target = path.resolve(scope, r.path);
      const file = this.files.probe(target, false);
      if (file !== undefined) return this.classify(file, specifier, importer);
      throw this.resolveError(
        specifier,
        importer,
        `"imports" in ${this.rel(path.join(scope, 'package.json'))} maps it to ${this.rel(target)}, which does not exist; ${this.tried(target, false)}.`,
      );
    }
    if (scope !== undefined && r.kind === 'bare') {
      // Node resolves a bare target as a package seen from the package.json's directory.
      return this.builtin(r.specifier, importer) ?? this.resolvePackage(r.specifier, scope, importer, kind);
    }
    // Projects often alias '#/x' or '#x' through tsconfig `paths` instead.
    const viaPaths = this.resolveWithPaths(specifier, dir, importer);
    if (viaPaths !== undefined) return viaPaths;
    const where = scope === undefined ? 'package.json' : this.rel(path.join(scope, 'package.json'));
    throw this.resolveError(
      specifier,
      importer,
      r.kind === 'none' && scope !== undefined
        ? `Define '${specifier}' in the "imports" field of ${where} (${r.reason}).`
        : `Add a package.json with an "imports" field defining '${specifier}' (none found above ${this.rel(dir)}).`,
    );
  }

  /** Rule 5: tsconfig `paths`, then `baseUrl`; undefined when nothing there matches a file. */
  private resolveWithPaths(specifier: string, dir: string, importer: string): ResolveResult | undefined {
    if (this.tsconfigFile === undefined || this.files.inNodeModules(dir)) return undefined;
    if (this.tsconfigError !== undefined) throw this.tsconfigError;
    if (this.tsconfig === undefined) return undefined;
    for (const candidate of tsconfigCandidates(this.tsconfig, specifier)) {
      const file = this.files.probe(candidate, false);
      if (file !== undefined) return this.classify(file, specifier, importer);
    }
    return undefined;
  }

  /** Rule 6: a package, by self-reference or from node_modules. */
  private resolvePackage(specifier: string, dir: string, importer: string, kind: 'import' | 'require'): ResolveResult {
    const parsed = splitPackageSpecifier(specifier);
    if (parsed === undefined) {
      throw this.resolveError(specifier, importer, `'${specifier}' is not a valid package name; relative paths start with './'.`);
    }
    const scope = this.packageScope(dir);
    const own = scope === undefined ? undefined : this.packageJson(scope);
    // Node allows a package to import itself by name only through its `exports`.
    let pkgDir = own?.name === parsed.name && own.exports != null ? scope : undefined;
    pkgDir ??= this.findPackageDir(parsed.name, dir);
    if (pkgDir === undefined) {
      const error = new DevhotError(ErrorCodes.RESOLVE, `Cannot find package '${parsed.name}' imported from ${this.rel(importer)}`, {
        fix: `Run npm install ${parsed.name}; if '${specifier}' is one of your files, start the path with './' or map it in tsconfig "paths".`,
      });
      throw Object.assign(error, { specifier, importer });
    }
    const pkg = this.packageJson(pkgDir);
    const pkgJson = this.rel(path.join(pkgDir, 'package.json'));
    if (pkg?.exports != null) {
      const conditions = kind === 'require' ? REQUIRE_CONDITIONS : IMPORT_CONDITIONS;
      const r = resolvePackageExports(pkg.exports, parsed.subpath, conditions);
      if (r.kind === 'none') {
        throw this.resolveError(
          specifier,
          importer,
          `${pkgJson} "exports": ${r.reason}. Import one of: ${exportedSubpaths(pkg.exports).join(', ')}.`,
        );
      }
      // Node takes export targets literally; the TS twin is for workspace packages whose
      // exports name the built .js while devhot runs the .ts source.
      const target = path.resolve(pkgDir, r.path);
      const file = this.files.probeTarget(target);
      if (file !== undefined) return this.classify(file, specifier, importer);
      throw this.resolveError(
        specifier,
        importer,
        `${pkgJson} "exports" points to ${this.rel(target)}, which does not exist; reinstall the package, or build it if it is a workspace package.`,
      );
    }
    const target = path.join(pkgDir, parsed.subpath);
    const dirOnly = parsed.subpath === '.' || parsed.subpath.endsWith('/');
    const file = this.files.probe(target, dirOnly);
    if (file !== undefined) return this.classify(file, specifier, importer);
    throw this.resolveError(specifier, importer, `Check the import path or reinstall ${parsed.name}; ${this.tried(target, dirOnly)}.`);
  }

  private classify(file: string, specifier: string, importer: string): ResolveResult {
    const real = this.files.realpath(file);
    const ext = path.extname(real);
    if (ext === '.node' || this.files.inNodeModules(real)) return { kind: 'external', url: pathToFileURL(real).href };
    if (USER_EXTENSIONS.includes(ext)) return { kind: 'user', file: real };
    const error = new DevhotError(
      ErrorCodes.UNSUPPORTED_FILE,
      `Cannot import ${this.rel(real)} ('${specifier}') from ${this.rel(importer)}: devhot does not evaluate ${ext === '' ? 'files without an extension' : `${ext} files`}`,
      {
        fix: `Import only ${USER_EXTENSIONS.join(' ')} files from server code; read other files with fs (e.g. fs.readFileSync(new URL('${specifier}', import.meta.url))) or serve them as static assets.`,
      },
    );
    // What import() needs to report it as Node would (ERR_UNKNOWN_FILE_EXTENSION).
    throw Object.assign(error, { file: real });
  }

  private tried(base: string, dirOnly: boolean): string {
    const tried = this.files.tried(base, dirOnly);
    return tried.length === 0 ? `${this.rel(base)} is not a directory` : `devhot tried: ${tried.map((f) => this.rel(f)).join(', ')}`;
  }

  /** The package's real directory in the nearest node_modules (workspace links → source). */
  private findPackageDir(name: string, fromDir: string): string | undefined {
    const dir = findInNodeModules(name, fromDir, (d) => this.files.isDirectory(d));
    return dir === undefined ? undefined : this.files.realpath(dir);
  }

  /** Node's LOOKUP_PACKAGE_SCOPE: the nearest directory with a package.json, not crossing node_modules. */
  private packageScope(dir: string): string | undefined {
    const cached = this.scopes.get(dir);
    if (cached !== undefined) return cached ?? undefined;
    let scope: string | null;
    if (path.basename(dir) === 'node_modules') scope = null;
    else if (this.packageJson(dir) !== undefined) scope = dir;
    else {
      const parent = path.dirname(dir);
      scope = parent === dir ? null : (this.packageScope(parent) ?? null);
    }
    this.scopes.set(dir, scope);
    return scope ?? undefined;
  }

  private packageJson(dir: string): PackageJson | undefined {
    const pkg = this.packages.read(dir);
    // Recorded on every hit, not only on a read from disk: the reader is shared, so the format
    // lookup may have read this file before the resolver first asked for it.
    if (pkg !== undefined) this.configFiles.add(path.join(dir, 'package.json'));
    return pkg;
  }

  private loadTsconfig(): void {
    this.tsconfig = undefined;
    this.tsconfigError = undefined;
    const file = this.tsconfigFile;
    if (file === undefined) return;
    // Watched even while missing: creating a root tsconfig.json changes resolution.
    this.configFiles.add(file);
    if (!this.tsconfigRequired && !this.files.isFile(file)) return;
    try {
      this.tsconfig = compilePaths(readTsconfig(file, this.host));
    } catch (error) {
      this.tsconfigError = error;
    }
  }

  private rel(file: string): string {
    return path.relative(this.root, file) || '.';
  }

  private resolveError(specifier: string, importer: string, fix: string, cause?: unknown): DevhotError {
    const error = new DevhotError(ErrorCodes.RESOLVE, `Cannot find module '${specifier}' imported from ${this.rel(importer)}`, {
      fix,
      cause,
    });
    // What import() needs to report it as Node would (ERR_MODULE_NOT_FOUND, absolute paths).
    return Object.assign(error, { specifier, importer });
  }
}

export function isRelative(specifier: string): boolean {
  return specifier === '.' || specifier === '..' || specifier.startsWith('./') || specifier.startsWith('../');
}
