/**
 * The start pack: the modules of an entry's last start in one file of the disk cache, so the next
 * start finds each module without reading its source and opening its cache entry.
 *
 * A warm start of 3,000 modules read and hashed every source (to find its cache key), then opened,
 * read and closed its entry file: seven system calls a module, and two strings as long as the
 * module that the start's scavenges copied (promoted during start(): 40 MB with them, 30 MB with
 * the pack; Node 20, 2026-12-02). The pack gives, for each file, the stamp its source had
 * (size, mtime, ctime, inode), the key its content had, and its entry's bytes up to the end of the
 * code cache: a module whose file still has that stamp is taken from the pack, read whole at the
 * start. Its code cache is a view of what was read, and its script a slice of one string made of
 * every ASCII script in the pack: one string of megabytes lives in V8's large-object space, where
 * the scavenges of the start do not copy it, as they copied 3,000 strings of their own twice. The
 * maps stay in the module's own entry file (cache-entry.ts), read when a stack asks.
 *
 * Trusting a stamp is what git does for `git status`, with the same guard ("racily clean"): the
 * content under a stamp is known only if the file cannot change again without changing it. ctime
 * moves on every write and no tool can set it back; a clock that counts in whole seconds (FAT,
 * some network mounts) can leave it unchanged by a second write within its tick. So a stamp is
 * recorded only when it was taken at least RACY_MS after the file's last change, and before the
 * file was read: a write after that read changes the stamp, and one before it is in what was hashed.
 *
 * The pack also keeps how the start resolved each module's relative imports where a directory's
 * listing alone answered (resolve.ts, `linkOf`): the file, and the directory with its stamp,
 * taken as a file's is, before the listing was read, and its real path. While the directory keeps
 * that stamp it holds the same names, so the resolver would answer the same: the next start takes
 * the file without asking it (PackLink).
 *
 * Layout: "DHP1" | entries | index (JSON) | index length (u32 LE) | "DHP1". The index goes last so
 * the pack is written as its entries are read, one at a time, and never held whole in memory. One
 * pack per entry file (`start-<hash of the entry>.pack`), written under a temporary name and
 * renamed into place.
 */
import { isAscii } from 'node:buffer';
import { closeSync, openSync, readFileSync, readSync, realpathSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { type EntryHead, type EntryLayout, entryIn, entryLayout } from './cache-entry.js';
import type { CompiledModule } from './compile.js';

const MAGIC = Buffer.from('DHP1', 'latin1');
/** The index's length and MAGIC, at the end. */
const TRAILER = 8;

/**
 * A file changed this recently is not trusted by its stamp (see above): 3 s, over the coarsest
 * timestamps in use (FAT's 2 s) with a second to spare for a file server's clock running behind.
 */
export const RACY_MS = 3000;

/**
 * A pack holds modules up to this many bytes; the modules past it are read as before. A start
 * holds its whole pack in memory while it runs (and a string of its scripts): 19 MB for 3,000
 * modules of ~45 lines, so this is ~10,000 such modules.
 */
export const MAX_PACK_BYTES = 64 * 1024 * 1024;

/** What a file's stat says of its content, as recorded: equal stamps, the same content. */
export interface Stamp {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/** A directory whose listing answered resolutions: its stamp, taken before the listing was read, and its real path. */
export interface DirStamp {
  dir: string;
  stamp: Stamp;
  real: string;
}

/** A relative import resolved to `file` by the listing of `dir` alone (see above). */
export interface PackLink {
  specifier: string;
  file: string;
  dir: DirStamp;
}

/** One module in the pack: `at`, `length` from the start of the file; `codeAt`, `codeEnd` from `at`. */
export interface PackedModule {
  file: string;
  /** The name of its directory in the disk cache (compile-cache.ts), where its maps are. */
  folder: string;
  hash: string;
  format: string;
  stamp: Stamp;
  at: number;
  length: number;
  codeAt: number;
  codeEnd: number;
  /** Its relative imports as the last start resolved them: specifier, file, index in the pack's directories. */
  links: ReadonlyArray<Link>;
}

type Link = [specifier: string, file: string, dir: number];
type DirRow = [dir: string, size: number, mtimeMs: number, ctimeMs: number, ino: number, real: string];

type Row = [
  file: string,
  folder: string,
  hash: string,
  format: string,
  size: number,
  mtimeMs: number,
  ctimeMs: number,
  ino: number,
  at: number,
  length: number,
  codeAt: number,
  codeEnd: number,
  links: Link[],
];

interface Index {
  /** What the keys were made with besides the source (compile.ts): another key, another pack. */
  key: string;
  modules: Row[];
  dirs: DirRow[];
}

export function stampOf(stats: Stats): Stamp {
  return { size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, ino: stats.ino };
}

/**
 * The stamp of `file` now, if it may be trusted for what is read from it next (see above);
 * undefined when it changed within RACY_MS or cannot be stat'ed.
 */
export function trustedStamp(file: string, now = Date.now()): Stamp | undefined {
  const stats = statSync(file, { throwIfNoEntry: false });
  if (!stats || Math.max(stats.mtimeMs, stats.ctimeMs) > now - RACY_MS) return undefined;
  return stampOf(stats);
}

export function sameStamp(a: Stamp, b: Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

/** The pack of a start, read whole, while that start runs. */
export class StartPackReader {
  /** Every ASCII script in the pack, one after the other (see above), and where each begins in it. */
  private readonly scripts: string;
  private readonly scriptAt = new Map<PackedModule, number>();

  /** Whether each directory of the pack still has its stamp and real path: found out when first asked. */
  private readonly dirsValid: Array<boolean | undefined> = [];

  private constructor(
    private bytes: Buffer | undefined,
    private readonly modules: Map<string, PackedModule>,
    private readonly dirs: readonly DirStamp[],
  ) {
    const parts: Buffer[] = [];
    let at = 0;
    for (const m of modules.values()) {
      const code = bytes!.subarray(m.at + m.codeAt, m.at + m.codeEnd);
      if (!isAscii(code)) continue;
      this.scriptAt.set(m, at);
      parts.push(code);
      at += code.length;
    }
    this.scripts = Buffer.concat(parts, at).toString('latin1');
  }

  /** The pack at `path` if it was made with `key`; undefined when there is none, or it is damaged or another key's. */
  static open(path: string, key: string): StartPackReader | undefined {
    try {
      // One of another devhot's making, or damaged: not read whole past what this one writes.
      if (statSync(path).size > MAX_PACK_BYTES * 2) return undefined;
      const bytes = readFileSync(path);
      const size = bytes.length;
      if (size < MAGIC.length + TRAILER || !bytes.subarray(0, 4).equals(MAGIC) || !bytes.subarray(size - 4).equals(MAGIC)) return undefined;
      const at = size - TRAILER - bytes.readUInt32LE(size - TRAILER);
      if (at < MAGIC.length) return undefined;
      const index = JSON.parse(bytes.toString('utf8', at, size - TRAILER)) as Index;
      if (index.key !== key || !Array.isArray(index.modules) || !Array.isArray(index.dirs)) return undefined;
      const dirs = index.dirs.map(([dir, size, mtimeMs, ctimeMs, ino, real]) => ({ dir, stamp: { size, mtimeMs, ctimeMs, ino }, real }));
      const modules = new Map<string, PackedModule>();
      for (const [file, folder, hash, format, size, mtimeMs, ctimeMs, ino, from, length, codeAt, codeEnd, links] of index.modules) {
        // A row that points outside the entries is not a module of this pack.
        if (!(from >= MAGIC.length && from + length <= at && 0 <= codeAt && codeAt <= codeEnd && codeEnd <= length)) continue;
        const stamp = { size, mtimeMs, ctimeMs, ino };
        modules.set(file, {
          file,
          folder,
          hash,
          format,
          stamp,
          at: from,
          length,
          codeAt,
          codeEnd,
          links: Array.isArray(links) ? links : [],
        });
      }
      return new StartPackReader(bytes, modules, dirs);
    } catch {
      return undefined;
    }
  }

  get size(): number {
    return this.modules.size;
  }

  /** The module packed for `file` if the file still has the stamp it had, and compiles to `format`. */
  find(file: string, format: string): PackedModule | undefined {
    const packed = this.modules.get(file);
    if (!packed || packed.format !== format || !this.bytes) return undefined;
    const stats = statSync(file, { throwIfNoEntry: false });
    return stats && sameStamp(packed.stamp, stats) ? packed : undefined;
  }

  /** `packed`'s module, its maps in the entry file `mapsPath`; undefined when its bytes are not what the index says. */
  module(packed: PackedModule, mapsPath: string): CompiledModule | undefined {
    const bytes = this.bytes;
    const layout = bytes && entryLayout(bytes, packed.at, packed.length);
    if (!layout || !matches(layout, packed)) return undefined;
    const at = this.scriptAt.get(packed);
    const script = at === undefined ? undefined : this.scripts.slice(at, at + (packed.codeEnd - packed.codeAt));
    return entryIn(bytes, packed.at, layout, mapsPath, script);
  }

  /** `packed`'s links whose directory still has the stamp and real path it had. */
  linksOf(packed: PackedModule): PackLink[] {
    const links: PackLink[] = [];
    for (const [specifier, file, i] of packed.links) {
      const dir = this.dirs[i];
      if (dir && typeof specifier === 'string' && typeof file === 'string' && this.dirValid(i, dir)) links.push({ specifier, file, dir });
    }
    return links;
  }

  private dirValid(i: number, { dir, stamp, real }: DirStamp): boolean {
    let valid = this.dirsValid[i];
    if (valid === undefined) {
      const stats = statSync(dir, { throwIfNoEntry: false });
      valid = stats?.isDirectory() === true && sameStamp(stamp, stats) && realOf(dir) === real;
      this.dirsValid[i] = valid;
    }
    return valid;
  }

  /** Whether `buffer` is a view of this pack (a code cache not used yet, when the start ends). */
  holds(buffer: Buffer): boolean {
    return this.bytes !== undefined && buffer.buffer === this.bytes.buffer;
  }

  /** The pack's bytes are not needed any more: the modules read from it keep only what they use. */
  close(): void {
    this.bytes = undefined;
  }
}

function realOf(dir: string): string | undefined {
  try {
    return realpathSync.native(dir);
  } catch {
    return undefined;
  }
}

function matches(layout: EntryLayout, packed: PackedModule): boolean {
  return layout.file === packed.file && layout.hash === packed.hash && layout.codeAt === packed.codeAt && layout.codeEnd === packed.codeEnd;
}

/** A pack file opened again to copy modules out of it into the next pack (it may have been replaced since). */
export class PackCopier {
  private readonly fd: number | undefined;

  constructor(path: string) {
    try {
      this.fd = openSync(path, 'r');
    } catch {
      this.fd = undefined;
    }
  }

  /** `packed`'s head, if the file still holds it where the index said. */
  headOf(packed: PackedModule): EntryHead | undefined {
    if (this.fd === undefined) return undefined;
    try {
      const bytes = Buffer.allocUnsafe(packed.length);
      if (readSync(this.fd, bytes, 0, packed.length, packed.at) !== packed.length) return undefined;
      const layout = entryLayout(bytes, 0, packed.length);
      return layout && matches(layout, packed) ? { bytes, layout } : undefined;
    } catch {
      return undefined;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
  }
}

/** A pack written module by module, in place once `finish` renames it. */
export class StartPackWriter {
  private readonly fd: number;
  private readonly rows: Row[] = [];
  private readonly dirs: DirRow[] = [];
  /** Each directory stamp once: by path and stamp (two starts' stamps of a directory are two rows). */
  private readonly dirAt = new Map<string, number>();
  private at = 0;

  constructor(
    private readonly path: string,
    private readonly tmp: string,
    /** The entries' bytes at most (MAX_PACK_BYTES): a module past it is left out. */
    private readonly limit = MAX_PACK_BYTES,
  ) {
    this.fd = openSync(tmp, 'w', 0o600);
    this.put(MAGIC);
  }

  /** One module, with its links: its entry's head; left out when it is not `p`'s, or past the limit. */
  add(
    p: Omit<PackedModule, 'at' | 'length' | 'codeAt' | 'codeEnd' | 'links'>,
    links: readonly PackLink[],
    { bytes, layout }: EntryHead,
  ): void {
    if (layout.file !== p.file || layout.hash !== p.hash || this.at + layout.cacheEnd > this.limit) return;
    const s = p.stamp;
    this.rows.push([
      p.file,
      p.folder,
      p.hash,
      p.format,
      s.size,
      s.mtimeMs,
      s.ctimeMs,
      s.ino,
      this.at,
      layout.cacheEnd,
      layout.codeAt,
      layout.codeEnd,
      links.map((link): Link => [link.specifier, link.file, this.dirIndex(link.dir)]),
    ]);
    this.put(bytes.subarray(0, layout.cacheEnd));
  }

  finish(key: string): void {
    const index = Buffer.from(JSON.stringify({ key, modules: this.rows, dirs: this.dirs } satisfies Index), 'utf8');
    const trailer = Buffer.alloc(TRAILER);
    trailer.writeUInt32LE(index.length, 0);
    MAGIC.copy(trailer, 4);
    this.put(index);
    this.put(trailer);
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
  }

  /** Stop, leaving no file behind. */
  abandon(): void {
    try {
      closeSync(this.fd);
    } catch {
      // closed already
    }
    rmSync(this.tmp, { force: true });
  }

  private dirIndex({ dir, stamp: s, real }: DirStamp): number {
    const id = `${dir}\0${s.size}\0${s.mtimeMs}\0${s.ctimeMs}\0${s.ino}\0${real}`;
    let i = this.dirAt.get(id);
    if (i === undefined) {
      i = this.dirs.push([dir, s.size, s.mtimeMs, s.ctimeMs, s.ino, real]) - 1;
      this.dirAt.set(id, i);
    }
    return i;
  }

  private put(bytes: Buffer): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, this.at + done);
    this.at += bytes.length;
  }
}
