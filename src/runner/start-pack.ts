/**
 * The start pack: the modules of an entry's last start in one file of the disk cache, so the next
 * start finds each module without reading its source and opening its cache entry.
 *
 * A warm start of 3,000 modules read and hashed every source (to find its cache key), then opened,
 * read and closed its entry file: ~9,000 system calls and two strings as long as the module for
 * each, ~25% of the scavenger's copying. The pack gives, for each file, the stamp its source had
 * (size, mtime, ctime, inode), the key its content had, and its entry's bytes up to the end of the
 * code cache: a module whose file still has that stamp is read from the one open file at its
 * offset. The maps stay in the module's own entry file (cache-entry.ts), read when a stack asks.
 *
 * Trusting a stamp is what git does for `git status`, with the same guard ("racily clean"): the
 * content under a stamp is known only if the file cannot change again without changing it. ctime
 * moves on every write and no tool can set it back; a clock that counts in whole seconds (FAT,
 * some network mounts) can leave it unchanged by a second write within its tick. So a stamp is
 * recorded only when it was taken at least RACY_MS after the file's last change, and before the
 * file was read: a write after that read changes the stamp, and one before it is in what was hashed.
 *
 * Layout: "DHP1" | entries | index (JSON) | index length (u32 LE) | "DHP1". The index goes last so
 * the pack is written as its entries are read, one at a time, and never held whole in memory. One
 * pack per entry file (`start-<hash of the entry>.pack`), written under a temporary name and
 * renamed into place.
 */
import { closeSync, fstatSync, openSync, readSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';

const MAGIC = Buffer.from('DHP1', 'latin1');
/** The index's length and MAGIC, at the end. */
const TRAILER = 8;

/**
 * A file changed this recently is not trusted by its stamp (see above): 3 s, over the coarsest
 * timestamps in use (FAT's 2 s) with a second to spare for a file server's clock running behind.
 */
export const RACY_MS = 3000;

/** What a file's stat says of its content, as recorded: equal stamps, the same content. */
export interface Stamp {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/** One module in the pack: `at`/`length` in bytes from the start of the entries. */
export interface PackedModule {
  file: string;
  /** The name of its directory in the disk cache (compile-cache.ts), where its maps are. */
  folder: string;
  hash: string;
  format: string;
  stamp: Stamp;
  at: number;
  length: number;
}

interface Index {
  /** What the keys were made with besides the source (compile.ts): another key, another pack. */
  key: string;
  modules: Array<
    [
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
    ]
  >;
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

/** The pack of a start, open for reading while that start runs. */
export class StartPackReader {
  private constructor(
    readonly fd: number,
    private readonly modules: Map<string, PackedModule>,
  ) {}

  /** The pack at `path` if it was made with `key`; undefined when there is none, or it is damaged or another key's. */
  static open(path: string, key: string): StartPackReader | undefined {
    let fd: number | undefined;
    try {
      fd = openSync(path, 'r');
      const size = fstatSync(fd).size;
      const trailer = Buffer.alloc(TRAILER);
      if (size < MAGIC.length + TRAILER || readSync(fd, trailer, 0, TRAILER, size - TRAILER) !== TRAILER) throw new Error('cut short');
      if (!trailer.subarray(4).equals(MAGIC)) throw new Error('not a pack');
      const length = trailer.readUInt32LE(0);
      const at = size - TRAILER - length;
      if (at < MAGIC.length) throw new Error('damaged');
      const bytes = Buffer.allocUnsafe(length);
      if (readSync(fd, bytes, 0, length, at) !== length) throw new Error('cut short');
      const index = JSON.parse(bytes.toString('utf8')) as Index;
      if (index.key !== key || !Array.isArray(index.modules)) throw new Error('another key');
      const modules = new Map<string, PackedModule>();
      for (const [file, folder, hash, format, size, mtimeMs, ctimeMs, ino, at, len] of index.modules) {
        modules.set(file, { file, folder, hash, format, stamp: { size, mtimeMs, ctimeMs, ino }, at, length: len });
      }
      return new StartPackReader(fd, modules);
    } catch {
      if (fd !== undefined) closeSync(fd);
      return undefined;
    }
  }

  get size(): number {
    return this.modules.size;
  }

  /** The module packed for `file` if the file still has the stamp it had, and compiles to `format`. */
  find(file: string, format: string): PackedModule | undefined {
    const packed = this.modules.get(file);
    if (!packed || packed.format !== format) return undefined;
    const stats = statSync(file, { throwIfNoEntry: false });
    return stats && sameStamp(packed.stamp, stats) ? packed : undefined;
  }

  /** `packed`'s bytes, copied out of the file. */
  bytesOf(packed: PackedModule): Buffer | undefined {
    const out = Buffer.allocUnsafe(packed.length);
    try {
      return readSync(this.fd, out, 0, packed.length, packed.at) === packed.length ? out : undefined;
    } catch {
      return undefined;
    }
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // closed already
    }
  }
}

/** A pack written module by module, in place once `finish` renames it. */
export class StartPackWriter {
  private readonly fd: number;
  private readonly rows: Index['modules'] = [];
  private at = 0;

  constructor(
    private readonly path: string,
    private readonly tmp: string,
  ) {
    this.fd = openSync(tmp, 'w', 0o600);
    this.put(MAGIC);
  }

  add(p: Omit<PackedModule, 'at' | 'length'>, bytes: Buffer): void {
    const s = p.stamp;
    this.rows.push([p.file, p.folder, p.hash, p.format, s.size, s.mtimeMs, s.ctimeMs, s.ino, this.at, bytes.length]);
    this.put(bytes);
  }

  finish(key: string): void {
    const index = Buffer.from(JSON.stringify({ key, modules: this.rows } satisfies Index), 'utf8');
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

  private put(bytes: Buffer): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, this.at + done);
    this.at += bytes.length;
  }
}
