/**
 * What a directory holds, read once with one readdir, so the resolver's questions about its
 * files (is `a.ts` a file? what is its real path?) cost no syscall each. At a warm start of
 * 3,000 modules the resolver's stat and realpath calls, one or two per imported file, took
 * ~100 ms of the app's main thread (CPU profile); ~30 directory reads answer them. Warm start()
 * at 3,000 modules, runs alternating with the build before: median 978 -> 935 ms, and on a busier
 * hour 1,464 -> 1,372 ms; the main thread's CPU 920 -> 850 ms (medians of 6; runner bench
 * project, Node 20, 2 cores, 2026-11-30).
 *
 * The listing answers only what it knows for certain, and says `undefined` ("ask the file
 * system") otherwise:
 * - a symbolic link is stat'ed as before (where readdir reports no types, Node lstat's the
 *   entries itself);
 * - a name not listed is missing, unless a listed name differs from it only in case or Unicode
 *   normalisation (a case-insensitive file system, as macOS and Windows have, would find it), or
 *   on Windows (short 8.3 names, trailing dots);
 * - a directory that cannot be listed (read permission denied, search allowed) is left to stat.
 *
 * Listings are read and kept only while a discovery runs (`open()` ... `close()`, nested), before
 * the code it loads runs: code may write a file and import it at once, and a listing read earlier
 * would say it is missing. Between discoveries every question goes to the file system (and the
 * probe's stat cache) as before.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isMissing } from '../shared/fs-read.js';
import { type Stamp, trustedStamp } from './start-pack.js';

export const FILE = 1;
export const DIR = 2;
/** Listed, but only a stat can tell what it is (a link, an unknown type). */
const ASK = -1;

interface Listing {
  kinds: Map<string, number>;
  /** The names folded, made when a name is not found: is it there under another case? */
  folded: Set<string> | undefined;
  /** Read while `stamping`: the directory's trusted stamp, taken before the read (start-pack.ts). */
  stamp: Stamp | undefined;
}

/** Directories that could not be read (missing, or not directories). */
const ABSENT = null;
/** Directories that cannot be listed but may hold files. */
const UNLISTABLE = undefined;

const fold = (name: string): string => name.normalize('NFC').toLowerCase();

export class DirListings {
  private readonly listings = new Map<string, Listing | typeof ABSENT | typeof UNLISTABLE>();
  private opened = 0;
  /** A start notes, for its pack, the stamp of each directory it lists (file-probe.ts, `linkDir`). */
  stamping = false;

  /** A discovery begins: listings may be read and used until its `close()`. */
  open(): void {
    this.opened++;
  }

  close(): void {
    this.opened = Math.max(0, this.opened - 1);
    if (this.opened === 0) this.listings.clear();
  }

  /** FILE, DIR or 0 (missing or something else) when the listing is sure; undefined: stat it. */
  kindOf(file: string): number | undefined {
    if (this.opened === 0) return undefined;
    const dir = path.dirname(file);
    if (dir === file) return undefined;
    const listing = this.listingOf(dir);
    if (listing === ABSENT) return 0;
    if (listing === UNLISTABLE) return undefined;
    const name = path.basename(file);
    const kind = listing.kinds.get(name);
    if (kind !== undefined) return kind === ASK ? undefined : kind;
    if (process.platform === 'win32') return undefined;
    listing.folded ??= new Set([...listing.kinds.keys()].map(fold));
    return listing.folded.has(fold(name)) ? undefined : 0;
  }

  /** A file listed as a plain file (not a link): its own name is its real name in its directory. */
  isPlainFile(file: string): boolean {
    const listing = this.listings.get(path.dirname(file));
    return !!listing && listing.kinds.get(path.basename(file)) === FILE;
  }

  /**
   * The stamp `dir` had before its listing was read, if it was read while stamping and the stamp
   * was trusted. The names it lists hold while the directory keeps it; what a link leads to does
   * not, and the listing leaves a link to a stat (file-probe.ts counts that answer out).
   */
  stampOf(dir: string): Stamp | undefined {
    const listing = this.listings.get(dir);
    return listing ? listing.stamp : undefined;
  }

  clear(): void {
    this.listings.clear();
  }

  private listingOf(dir: string): Listing | typeof ABSENT | typeof UNLISTABLE {
    if (this.listings.has(dir)) return this.listings.get(dir);
    let listing: Listing | typeof ABSENT | typeof UNLISTABLE;
    try {
      // Before the read: a change after it then changes the stamp as well.
      const stamp = this.stamping ? trustedStamp(dir) : undefined;
      const kinds = new Map<string, number>();
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        kinds.set(entry.name, entry.isFile() ? FILE : entry.isDirectory() ? DIR : entry.isSymbolicLink() ? ASK : 0);
      }
      listing = { kinds, folded: undefined, stamp };
    } catch (error) {
      listing = isMissing(error) ? ABSENT : UNLISTABLE;
    }
    this.listings.set(dir, listing);
    return listing;
  }
}
