/**
 * The compile cache, keyed by a hash of the source, the options and the tool versions (see
 * compile.ts): in memory the latest version of each file, on disk the last few, so a second
 * start skips esbuild and the parser entirely. Disk writes happen off the update's critical
 * path: the result is in memory already, the disk is for next time.
 *
 * The disk copy holds the user's source (the code and the maps carry it), which may be private
 * (a config.ts with secrets, mode 0600): the directory is 0700 and every file 0600. It is bounded:
 * each file keeps its VERSIONS_KEPT most recent versions (a 10 MB file costs ~35 MB a version,
 * and every save is one), and the whole cache at most MAX_BYTES, the versions written longest ago
 * going first (a sweep after the first writes, and again after every SWEEP_EVERY_BYTES written).
 * Reads do not refresh a version's age: a warm start reads thousands, and the bound is rarely
 * reached (at worst a module is compiled again).
 *
 * Layout: `<dir>/<hash of the file's path>/<hash of the version>.dhc`, each file as cache-entry.ts
 * writes it (an earlier devhot's `.json` entries are not read, and go as the oldest versions).
 */
import { hash as digest } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { encodeEntry, readEntry } from './cache-entry.js';
import type { CompiledModule } from './compile.js';
import { SafePromise, safeSetTimeout } from './intrinsics.js';
import type { PackLink, Stamp } from './start-pack.js';
import { PACK_EXT, type PackHost, StartPacks } from './start-packs.js';

export interface CompileCacheStats {
  memoryHits: number;
  diskHits: number;
  misses: number;
  /** Of the disk hits, those read from the start pack (start-pack.ts). */
  packHits: number;
  /** Imports a start resolved from the pack's links, without the resolver (start-pack.ts). */
  packLinks: number;
}

export interface CompileCacheLimits {
  /** The whole cache on disk at most (bytes). Default MAX_BYTES. */
  maxBytes?: number;
  /** Versions kept per file. Default VERSIONS_KEPT. */
  versionsKept?: number;
}

/** 256 MiB: thousands of modules' worth (a 45-line module costs ~6 kB). */
export const MAX_BYTES = 256 * 1024 * 1024;
/** The latest version and two before it (an undo, a branch switched back and forth). */
export const VERSIONS_KEPT = 3;
/** After the first writes, the cache is swept once they have settled. */
const FIRST_SWEEP_MS = 5000;
const ENTRY_EXT = '.dhc';
const SWEEP_EVERY_BYTES = 32 * 1024 * 1024;
/** A sweep brings the cache down to this share of the bound, so it does not sweep on every write. */
const SWEEP_TARGET = 0.8;
/** Writes in flight at once after a start: enough to keep the disk busy, few enough to leave the event loop to requests. */
const WRITE_LANES = 8;
/**
 * Writes wait until no update has run for this long, and go with the others made meanwhile: not
 * in the middle of the next save's update. Written one by one as they came, the writes and the
 * prune of older versions (a readdir and a stat per version) took ~1.2 ms of main-thread time per
 * update at 3,000 modules, in promise callbacks that ran inside the next updates (the runner
 * bench's profile, 2026-11-30). The 3,000 writes after an empty start, made while the first saves
 * came, held each save's steps behind them: esbuild's answer took 4.5-11 ms instead of 3.5, and
 * save -> new response was 16 ms at the median instead of 12-15 (/tmp/drive2.mjs, the CLI bench's
 * 3,000-module project, saves 90 ms apart, 2026-11-30).
 */
export const WRITE_DELAY_MS = 500;

interface Entry {
  path: string;
  size: number;
  mtimeMs: number;
}

export class CompileCache {
  readonly stats: CompileCacheStats = { memoryHits: 0, diskHits: 0, misses: 0, packHits: 0, packLinks: 0 };
  private readonly latest = new Map<string, CompiledModule>();
  private readonly pendingWrites = new Set<Promise<void>>();
  /** Misses not written yet, the latest version per file (see `store`). */
  private readonly held = new Map<string, CompiledModule>();
  /** Updates (the start too) under way: writes wait for them to end (`defer`). */
  private holding = 0;
  /** Who waits for the holders to let go (the sweep). */
  private readonly quietWaiters: Array<() => void> = [];
  /** Bumped by each defer(): the lanes of an earlier release stop, even if the update is over. */
  private generation = 0;
  /**
   * Modules whose maps are read from their file (`mapsOnDisk`), by path: before
   * this process removes the file, their maps go back into memory. Weak: a replaced version is
   * collected as before.
   */
  private readonly mapsOnDisk = new Map<string, WeakRef<CompiledModule>>();
  private releaseTimer: NodeJS.Timeout | undefined;
  /** Each file directory's versions on disk as this process knows them, oldest first (`write`). */
  private readonly versions = new Map<string, string[]>();
  /**
   * The file directories on disk when this process opened the cache, and those it wrote since: a
   * file without one has no entry, so its lookup opens nothing. At an empty-cache start of 3,000
   * modules the failed opens took ~100 ms of the app's main thread (Node 20, 2026-11-30); reading
   * the names takes ~3 ms at a warm one, so they are read at the first lookup that needs them (a
   * start from the start pack needs none). Undefined: not read yet; null when the directory could
   * not be read: every lookup tries the file.
   */
  private folderSet: Set<string> | null | undefined;
  private readonly maxBytes: number;
  private readonly versionsKept: number;
  /**
   * The directory, normalised once, with a separator: a start makes three paths a module (its
   * folder, its entry, the folders read at open), and 9,000 `path.join` calls took 28 ms of a
   * start's first pass against 0.3 ms for the strings joined (Node 20 and 24, 2026-12-02); on
   * Node 24 the folders' alone were 26 of the 34 ms `createRunner` took in a profiled start.
   */
  private readonly prefix: string;
  private writes = 0;
  private bytesSinceSweep = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  /** The start packs of this cache's entries (start-packs.ts); none for a cache in memory only. */
  private readonly packs: StartPacks | undefined;

  /** `dir`: where compiled modules are kept between runs, or false for memory only. */
  constructor(
    private readonly dir: string | false,
    limits: CompileCacheLimits = {},
  ) {
    this.maxBytes = limits.maxBytes ?? MAX_BYTES;
    this.versionsKept = limits.versionsKept ?? VERSIONS_KEPT;
    const base = dir ? join(dir) : '';
    this.prefix = base.endsWith(sep) ? base : `${base}${sep}`;
    if (dir) this.packs = new StartPacks(this.packHost());
    if (dir) {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        // A cache made by an earlier devhot may be world-readable.
        chmodSync(dir, 0o700);
      } catch {
        // A read-only or missing disk only costs speed: writes fail quietly below.
      }
    }
  }

  lookup(file: string, hash: string): CompiledModule | undefined {
    const mem = this.latest.get(file);
    if (mem && mem.hash === hash) {
      this.stats.memoryHits++;
      return mem;
    }
    if (!this.dir) return undefined;
    const folder = this.dirOf(file);
    if (this.folders()?.has(folder) === false) return undefined;
    const path = `${folder}${sep}${hash}${ENTRY_EXT}`;
    const cached = readEntry(path);
    if (!cached) return undefined; // not cached yet, or unreadable: compile it
    this.mapsOnDisk.set(path, new WeakRef(cached));
    this.stats.diskHits++;
    this.latest.set(file, cached);
    return cached;
  }

  /** A freshly compiled module (a miss): the latest of its file, and written to disk for next time. */
  store(compiled: CompiledModule): CompiledModule {
    this.stats.misses++;
    this.latest.set(compiled.file, compiled);
    if (this.dir) this.hold(compiled);
    return compiled;
  }

  /** To be written: the latest unwritten version of a file replaces an earlier one (a burst of saves writes once). */
  private hold(compiled: CompiledModule): void {
    this.held.set(compiled.file, compiled);
    if (this.holding === 0) this.releaseLater();
  }

  /**
   * Write a module read from disk again: V8 rejected the code cache it had (it was made under other
   * V8 flags, a NODE_OPTIONS flag say) and made a new one (instance.ts). Else every later start
   * compiles it from scratch: the CLI bench's 3,000 modules, spawn -> first response, median 1.61 s
   * from rejected caches against 1.36 s (6 alternating pairs, Node 20, 2026-12-01). Only the
   * latest version of its file, and not over a newer one waiting to be written.
   */
  rewrite(compiled: CompiledModule): void {
    this.packs?.rewritten(compiled.file);
    if (this.dir && this.latest.get(compiled.file) === compiled && !this.held.has(compiled.file)) this.hold(compiled);
  }

  /**
   * Hold the disk writes until `resume()`, and WRITE_DELAY_MS after it: an update runs (a start,
   * a save). The disk is for the next start; this one is waited for. At 3,000 modules a start's
   * writes (a mkdir, an open, a write, a rename each, and JSON) took 2.4 s of the 6.4 s of CPU an
   * empty-cache start used (4.0 s with no disk cache; /tmp/startcpu.mjs on the bench's project,
   * Node 20, 2 cores, 2026-11-30). Calls nest: each defer() has its resume().
   */
  defer(): void {
    this.holding++;
    this.generation++;
    clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
  }

  resume(): void {
    this.holding = Math.max(0, this.holding - 1);
    if (this.holding > 0) return;
    this.wakeQuietWaiters();
    this.releaseLater();
  }

  /**
   * Wait for the disk writes still under way (before exit, or a second runner), held ones
   * included, and write the start pack if it is due: an app stopped right after its start (Ctrl-C,
   * a restart) would otherwise never leave one.
   */
  async flush(): Promise<void> {
    this.holding = 0;
    this.wakeQuietWaiters();
    this.release();
    await SafePromise.all(this.pendingWrites);
    this.packs?.flush();
  }

  /**
   * A start of `entry` begins: its modules may come from its start pack, made with `key` (what the
   * cache keys are made with besides the source), until `endStart`.
   */
  beginStart(entry: string, key: string): void {
    this.packs?.begin(entry, key);
  }

  /** Whether a start notes stamps: its discovery then stats a file before reading it (`noteStamp`). */
  get noting(): boolean {
    return this.packs?.noting ?? false;
  }

  /** `file`'s module from the start pack, if the file has the stamp the pack has for it; with the file's size. */
  fromPack(file: string, format: string): { compiled: CompiledModule; size: number } | undefined {
    return this.packs?.find(file, format);
  }

  /** The stamp `file` had before the source keyed `hash` was read from it (start-pack.ts, trustedStamp). */
  noteStamp(file: string, stamp: Stamp, hash: string, format: string): void {
    this.packs?.note(file, stamp, hash, format);
  }

  /** The links of `file`'s module from the start pack that still hold (start-packs.ts). */
  packedLinks(file: string): PackLink[] | undefined {
    return this.packs?.packedLinks(file);
  }

  /** How a start resolved `file`'s relative imports where a listing alone answered; `fromPack` of them from its links. */
  noteLinks(file: string, links: PackLink[], fromPack: number): void {
    this.stats.packLinks += fromPack;
    this.packs?.noteLinks(file, links, fromPack);
  }

  /** The start has ended with `modules`: the next pack is written from them, if it differs. */
  endStart(modules: Iterable<CompiledModule>): void {
    this.packs?.end(modules);
  }

  /** What the start packs need of the cache. */
  private packHost(): PackHost {
    return {
      prefix: this.prefix,
      entryAt: (folder, hash) => `${this.prefix}${folder}${sep}${hash}${ENTRY_EXT}`,
      folderOf: (file) => this.dirOf(file).slice(this.prefix.length),
      writing: () => this.holding > 0 || this.held.size > 0 || this.pendingWrites.size > 0,
      quiet: () => (this.holding > 0 ? new SafePromise<void>((wake) => this.quietWaiters.push(wake)) : undefined),
      served: (compiled, mapsPath) => {
        this.mapsOnDisk.set(mapsPath, new WeakRef(compiled));
        this.stats.diskHits++;
        this.stats.packHits++;
        this.latest.set(compiled.file, compiled);
      },
      latestOf: (file) => this.latest.get(file),
      delay: WRITE_DELAY_MS,
    };
  }

  /** The writes under way have ended (held ones are not started: see `flush` for that). */
  async settled(): Promise<void> {
    await SafePromise.all(this.pendingWrites);
  }

  /** Bring the disk cache under its bound now, oldest versions first (also runs by itself). */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepNow().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private folders(): Set<string> | undefined {
    if (this.folderSet === undefined) {
      try {
        this.folderSet = new Set(readdirSync(this.prefix).map((name) => `${this.prefix}${name}`));
      } catch {
        this.folderSet = null;
      }
    }
    return this.folderSet ?? undefined;
  }

  private dirOf(file: string): string {
    return `${this.prefix}${digest('sha256', file, 'hex').slice(0, 16)}`;
  }

  private pathOf(file: string, hash: string): string {
    return `${this.dirOf(file)}${sep}${hash}${ENTRY_EXT}`;
  }

  private wakeQuietWaiters(): void {
    for (const wake of this.quietWaiters.splice(0)) wake();
  }

  private releaseLater(): void {
    if (this.held.size === 0 || this.releaseTimer) return;
    this.releaseTimer = safeSetTimeout(() => this.release(), WRITE_DELAY_MS);
    this.releaseTimer.unref();
  }

  /**
   * Write what is held, WRITE_LANES at a time, so the app's requests are not queued behind
   * thousands of writes. A lane stops when an update begins (what it has not taken stays held,
   * for the release after that update).
   */
  private release(): void {
    clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    if (this.held.size === 0) return;
    const generation = this.generation;
    const lane = async (): Promise<void> => {
      while (this.holding === 0 && this.generation === generation) {
        const next = this.held.entries().next();
        if (next.done) return;
        this.held.delete(next.value[0]);
        await this.write(next.value[1]);
      }
    };
    const writes = SafePromise.all(Array.from({ length: Math.min(WRITE_LANES, this.held.size) }, lane)).then(() => {});
    this.pendingWrites.add(writes);
    void writes.finally(() => this.pendingWrites.delete(writes));
  }

  private async write(compiled: CompiledModule): Promise<void> {
    const dir = this.dirOf(compiled.file);
    const target = this.pathOf(compiled.file, compiled.hash);
    const bytes = Buffer.concat(encodeEntry(compiled));
    // On disk now, where the next start reads it: V8's code cache is not needed in memory.
    compiled.codeCache = undefined;
    compiled.makeCodeCache = undefined;
    // Write then rename, so a concurrent reader never sees half a file.
    const tmp = `${target}.${process.pid}.${++this.writes}.tmp`;
    this.counted(bytes.length);
    try {
      const versions = this.versions.get(dir) ?? (await this.versionsIn(dir));
      this.versions.set(dir, versions);
      await writeFile(tmp, bytes, { mode: 0o600 });
      await rename(tmp, target);
      this.folderSet?.add(dir);
      compiled.mapsOnDisk(target);
      this.mapsOnDisk.set(target, new WeakRef(compiled));
      // Keep the newest `versionsKept`, known from here on without reading the directory again.
      const at = versions.indexOf(target);
      if (at >= 0) versions.splice(at, 1);
      versions.push(target);
      while (versions.length > this.versionsKept) await this.remove(versions.shift()!);
    } catch {
      // A read-only or full disk only costs speed on the next start.
      rm(tmp, { force: true }).catch(() => {});
    }
  }

  /** The versions of one file on disk, oldest first: none in a directory made just now. */
  private async versionsIn(dir: string): Promise<string[]> {
    const made = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (made !== undefined) return [];
    return (await this.entries(dir)).sort((a, b) => a.mtimeMs - b.mtimeMs).map((e) => e.path);
  }

  private counted(bytes: number): void {
    this.bytesSinceSweep += bytes;
    if (this.bytesSinceSweep >= SWEEP_EVERY_BYTES) {
      this.bytesSinceSweep = 0;
      void this.sweep();
    } else if (!this.sweepTimer) {
      this.sweepTimer = setTimeout(() => void this.sweep(), FIRST_SWEEP_MS);
      this.sweepTimer.unref();
    }
  }

  private async sweepNow(): Promise<void> {
    if (!this.dir) return;
    const all: Entry[] = [];
    let dirs: string[];
    try {
      dirs = await readdir(this.dir);
    } catch {
      return;
    }
    const packs: string[] = [];
    for (const name of dirs) {
      // A readdir and a stat per version: 3,000 directories took ~220 ms of the main thread.
      if (this.holding > 0) await new SafePromise<void>((wake) => this.quietWaiters.push(wake));
      const path = join(this.dir, name);
      if (name.endsWith(PACK_EXT)) {
        packs.push(path);
        continue;
      }
      // An earlier layout (`<2 hex>/<hash>.json`) is not kept: it would never be pruned.
      if (name.length === 2) {
        await rm(path, { recursive: true, force: true }).catch(() => {});
        continue;
      }
      all.push(...(await this.entries(path)));
    }
    let total = all.reduce((sum, e) => sum + e.size, 0);
    if (total <= this.maxBytes) return;
    all.sort((a, b) => a.mtimeMs - b.mtimeMs);
    // A pack names entry files for their maps (start-pack.ts): the next start makes a new one.
    for (const pack of packs) await rm(pack, { force: true }).catch(() => {});
    for (const entry of all) {
      if (total <= this.maxBytes * SWEEP_TARGET) break;
      await this.remove(entry.path);
      total -= entry.size;
    }
  }

  /** Remove one version's file; a module of this process that reads its maps from it keeps them. */
  private async remove(path: string): Promise<void> {
    const reader = this.mapsOnDisk.get(path)?.deref();
    this.mapsOnDisk.delete(path);
    if (reader) reader.keepMapsInMemory();
    await rm(path, { force: true }).catch(() => {});
  }

  /** The cached versions in one file's directory (a half-written temp file is not one). */
  private async entries(dir: string): Promise<Entry[]> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    const out: Entry[] = [];
    for (const name of names) {
      // A half-written temp file is not one; an earlier devhot's `.json` entry is, to be pruned.
      if (!name.endsWith(ENTRY_EXT) && !name.endsWith('.json')) continue;
      const path = join(dir, name);
      try {
        const s = await stat(path);
        out.push({ path, size: s.size, mtimeMs: s.mtimeMs });
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }
}
