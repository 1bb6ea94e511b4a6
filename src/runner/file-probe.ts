/**
 * How a path becomes a file, the way Node and TypeScript users expect: the path itself, then its
 * TypeScript twin (`./a.js` → `./a.ts`, what NodeNext users write), then with an extension
 * appended, then as a directory (package.json `main`, then `index`). In user code an
 * extensionless file is never the answer (`./config` means config.ts); inside node_modules Node's
 * own rules apply (extensionless files count, no TS twins, only `.js`/`.json`/`.node` appended).
 *
 * Every stat and realpath is cached until `clear()`: the resolver asks about the same paths for
 * every import of every module. Most are answered by the directory's listing (dir-listing.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { isMissing } from '../shared/fs-read.js';
import type { PackageJson } from '../shared/package-json.js';
import { DIR, DirListings, FILE } from './dir-listing.js';
import type { DirStamp } from './start-pack.js';

/** File extensions devhot evaluates itself. */
export const USER_EXTENSIONS: readonly string[] = Object.freeze(['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs', '.json']);
/** What Node's CJS loader appends; inside node_modules a `.ts` shipped next to the `.js` must not win. */
const NODE_EXTENSIONS: readonly string[] = ['.js', '.json', '.node'];
/** What TypeScript users write under NodeNext (`./a.js`) for the file they have (`./a.ts`). */
const TS_TWINS: ReadonlyMap<string, readonly string[]> = new Map([
  ['.js', ['.ts', '.tsx']],
  ['.jsx', ['.tsx']],
  ['.mjs', ['.mts']],
  ['.cjs', ['.cts']],
]);
const NODE_MODULES = `${path.sep}node_modules${path.sep}`;

export class FileProbe {
  private readonly stats = new Map<string, number>();
  private readonly reals = new Map<string, string>();
  private readonly listings = new DirListings();
  /** Real root + sep: a project that itself lives under some node_modules is still user code. */
  private readonly rootPrefix: string;
  /** Every kind asked since `resetCertain()` came from a listing, none from a stat (`linkDir`). */
  private certain = true;

  constructor(
    root: string,
    /** package.json of a directory (for `main`). */
    private readonly packageJson: (dir: string) => PackageJson | undefined,
  ) {
    this.rootPrefix = realpathOr(root) + path.sep;
  }

  /** File, then directory. `tried` collects the candidates, for the error message only. */
  probe(base: string, dirOnly: boolean, tried?: string[]): string | undefined {
    const inNodeModules = this.inNodeModules(base);
    if (!dirOnly) {
      const file = this.probeFile(base, inNodeModules, tried);
      if (file !== undefined) return file;
    }
    return this.isDirectory(base) ? this.probeDir(base, inNodeModules, tried) : undefined;
  }

  /** An `exports` target: the file itself, or its TS twin outside node_modules. */
  probeTarget(target: string): string | undefined {
    if (this.isFile(target)) return target;
    if (this.inNodeModules(target)) return undefined;
    const ext = path.extname(target);
    return TS_TWINS.get(ext)
      ?.map((twin) => target.slice(0, -ext.length) + twin)
      .find((file) => this.isFile(file));
  }

  /** The candidates `probe` tries, for a message saying what was looked for. */
  tried(base: string, dirOnly: boolean): string[] {
    const tried: string[] = [];
    this.probe(base, dirOnly, tried);
    return tried;
  }

  isFile(file: string, tried?: string[]): boolean {
    tried?.push(file);
    return this.stat(file) === FILE;
  }

  isDirectory(file: string): boolean {
    return this.stat(file) === DIR;
  }

  realpath(file: string): string {
    let real = this.reals.get(file);
    if (real === undefined) {
      // A plain file's real path is its directory's (cached once per directory) and its name.
      real =
        this.stat(file) === FILE && this.listings.isPlainFile(file)
          ? path.join(this.realpath(path.dirname(file)), path.basename(file))
          : realpathOr(file);
      this.reals.set(file, real);
    }
    return real;
  }

  inNodeModules(file: string): boolean {
    return file.includes(NODE_MODULES, file.startsWith(this.rootPrefix) ? this.rootPrefix.length - 1 : 0);
  }

  /** A start notes, for its pack, the stamp of each directory it lists (`linkDir`). */
  set stamping(on: boolean) {
    this.listings.stamping = on;
  }

  resetCertain(): void {
    this.certain = true;
  }

  /**
   * The directory under whose stamp `file`, probed from `base` since `resetCertain()`, is what
   * the listing alone gave (start-pack.ts, PackLink): every name tried was answered by the
   * directory's listing, read with its trusted stamp, and `file` is a plain file there. The
   * probe tries only names in base's directory before its index files; a file from a directory
   * below it (package.json `main`, `index`) depends on more than this listing: none.
   */
  linkDir(base: string, file: string): DirStamp | undefined {
    const dir = path.dirname(base);
    if (!this.certain || path.dirname(file) !== dir || !this.listings.isPlainFile(file)) return undefined;
    const stamp = this.listings.stampOf(dir);
    return stamp && { dir, stamp, real: this.realpath(dir) };
  }

  /** A discovery begins (dir-listing.ts): directory listings answer until its `endBatch()`. */
  beginBatch(): void {
    this.listings.open();
  }

  endBatch(): void {
    this.listings.close();
  }

  clear(): void {
    this.stats.clear();
    this.reals.clear();
    this.listings.clear();
  }

  private probeFile(base: string, inNodeModules: boolean, tried?: string[]): string | undefined {
    const ext = path.extname(base);
    // In user code an extensionless file is not something devhot can evaluate: './config' means config.ts.
    if ((inNodeModules || ext !== '') && this.isFile(base, tried)) return base;
    if (!inNodeModules) {
      for (const twin of TS_TWINS.get(ext) ?? []) {
        const file = base.slice(0, -ext.length) + twin;
        if (this.isFile(file, tried)) return file;
      }
    }
    for (const e of inNodeModules ? NODE_EXTENSIONS : USER_EXTENSIONS) {
      if (this.isFile(base + e, tried)) return base + e;
    }
    return undefined;
  }

  /** package.json `main` (probed like a path), then `index`. */
  private probeDir(dir: string, inNodeModules: boolean, tried?: string[]): string | undefined {
    const main = this.packageJson(dir)?.main;
    if (typeof main === 'string' && main !== '') {
      const base = path.resolve(dir, main);
      const file =
        this.probeFile(base, inNodeModules, tried) ??
        (this.isDirectory(base) ? this.probeFile(path.join(base, 'index'), inNodeModules, tried) : undefined);
      if (file !== undefined) return file;
    }
    return this.probeFile(path.join(dir, 'index'), inNodeModules, tried);
  }

  private stat(file: string): number {
    let kind = this.stats.get(file);
    if (kind === undefined) {
      // The listings' answers are not kept here: each discovery asks its own.
      kind = this.listings.kindOf(file);
      if (kind !== undefined) return kind;
      kind = 0;
      try {
        const st = fs.statSync(file, { throwIfNoEntry: false });
        kind = st === undefined ? 0 : st.isFile() ? FILE : st.isDirectory() ? DIR : 0;
      } catch (error) {
        // 'a.ts/index' when a.ts is a file: ENOTDIR just means "not there".
        if (!isMissing(error)) throw error;
      }
      this.stats.set(file, kind);
    }
    // A stat's answer, now or earlier: not the listing's.
    this.certain = false;
    return kind;
  }
}

function realpathOr(file: string): string {
  try {
    return fs.realpathSync.native(file);
  } catch {
    return file;
  }
}
