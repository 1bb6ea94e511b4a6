/**
 * The one reader of package.json files, for both processes: the supervisor reads the entry
 * (`devhot.entry`, `main`), the runner reads `exports`/`imports`/`main` to resolve and `type`
 * to choose a module format. Same rules everywhere: a byte-order mark is skipped (editors on
 * Windows write one and Node accepts it), a missing file is not an error, and invalid JSON is
 * one DevhotError naming the file, as Node's ERR_INVALID_PACKAGE_CONFIG is.
 *
 * A reader caches per directory, because the resolver asks for the same package.json on every
 * import. Each runner makes its own reader and hands it to its resolver and its format lookup:
 * nothing here is module-level state, so two runners in one process share nothing.
 */
import path from 'node:path';
import { DevhotError, ErrorCodes } from '../errors.js';
import { readIfExists } from './fs-read.js';

/** The fields devhot reads; values are unchecked JSON. */
export interface PackageJson {
  name?: unknown;
  /** "module" makes .js files ES modules; anything else (or nothing) CommonJS. */
  type?: unknown;
  main?: unknown;
  exports?: unknown;
  imports?: unknown;
  /** TypeScript reads this for `"extends": "some-package"`. */
  tsconfig?: unknown;
  /** devhot's own settings: `{ "entry": "src/server.ts" }`. */
  devhot?: unknown;
}

export interface PackageJsonReader {
  /** The package.json in `dir` (absolute), parsed; undefined when there is none. Cached. */
  read(dir: string): PackageJson | undefined;
  /**
   * Every package.json this reader has found, absolute. A change to one needs a restart. `clear()`
   * keeps them: answers derived from them (a directory's module format) may outlive the cache.
   */
  readonly files: ReadonlySet<string>;
  /** Forget what was read (files added, removed or renamed); the next `read` goes to disk. */
  clear(): void;
}

export interface PackageJsonReaderOptions {
  /** Errors name files relative to this directory (absolute when left out). */
  root?: string;
}

export function createPackageJsonReader(options: PackageJsonReaderOptions = {}): PackageJsonReader {
  // null: looked, no package.json there. Map#get's undefined: not looked yet.
  const cache = new Map<string, PackageJson | null>();
  const files = new Set<string>();
  const name = (file: string) => (options.root === undefined ? file : path.relative(options.root, file) || file);
  return {
    files,
    read(dir) {
      const cached = cache.get(dir);
      if (cached !== undefined) return cached ?? undefined;
      const file = path.join(dir, 'package.json');
      const text = readIfExists(file);
      let pkg: PackageJson | null = null;
      if (text !== undefined) {
        files.add(file);
        pkg = parse(text, name(file));
      }
      cache.set(dir, pkg);
      return pkg ?? undefined;
    },
    clear() {
      cache.clear();
    },
  };
}

function parse(text: string, shown: string): PackageJson {
  let json: unknown;
  try {
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    // DEVHOT_ERR_RESOLVE, the code the resolver always gave it: in the app process a broken
    // package.json is met while resolving an import or choosing a file's format.
    throw new DevhotError(ErrorCodes.RESOLVE, `Invalid JSON in ${shown}: ${(error as Error).message}`, {
      fix: 'Fix the syntax error in that package.json.',
      cause: error,
    });
  }
  // A package.json that is valid JSON but no object has none of the fields: read it as {}.
  return typeof json === 'object' && json !== null ? (json as PackageJson) : {};
}
