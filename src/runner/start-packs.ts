/**
 * The start packs of a disk cache (start-pack.ts has the file and what it trusts): the pack a
 * start reads, what it notes for the next one, and writing that one. One pack per entry file,
 * `start-<hash of the entry>.pack` beside the cache's file directories.
 *
 * A start reads its pack whole (`begin`) and lets it go when it ends (`end`). Unless every module
 * of the graph came from the pack as it was, a new pack is written then from what the start ran:
 * the modules it took from the pack (copied from that file, if it is still the one read) and
 * those it read from disk whose stamp it could trust (from their entry files). It is written
 * once the start's own entries are on disk, PACK_CHUNK modules a turn of the event loop and
 * paused while an update runs, or at once when the cache is flushed (the app stops): an app
 * stopped right after its start would otherwise never leave one.
 */
import { hash as digest } from 'node:crypto';
import { entryHead } from './cache-entry.js';
import type { CompiledModule } from './compile.js';
import { SafePromise, safeSetImmediate, safeSetTimeout } from './intrinsics.js';
import { PackCopier, type PackedModule, type PackLink, type Stamp, StartPackReader, StartPackWriter } from './start-pack.js';

/** How a start pack's name ends, beside the cache's file directories. */
export const PACK_EXT = '.pack';
/** Modules copied into a pack between two turns of the event loop, off a start: ~1-2 ms of work. */
const PACK_CHUNK = 100;
/** Temporary files of this process's pack writes, one name each. */
let writes = 0;

/** What the packs need of the compile cache (compile-cache.ts). */
export interface PackHost {
  /** The cache directory, with a separator. */
  readonly prefix: string;
  /** The entry file of version `hash` in the cache's directory `folder`, where its maps are. */
  entryAt(folder: string, hash: string): string;
  /** The name of `file`'s directory in the cache. */
  folderOf(file: string): string;
  /** Whether the cache's own writes are held or under way: a pack waits for them. */
  writing(): boolean;
  /** Until no update runs; undefined when none does. */
  quiet(): Promise<void> | undefined;
  /** A module taken from the pack, its maps in `mapsPath`: a disk hit, the latest of its file. */
  served(compiled: CompiledModule, mapsPath: string): void;
  /** The latest module of `file` (a code cache of it may still be a view of the pack). */
  latestOf(file: string): CompiledModule | undefined;
  /** How long the cache's writes wait after an update (compile-cache.ts, WRITE_DELAY_MS). */
  readonly delay: number;
}

/** A start under way: the pack it reads, and what the next pack needs. */
interface Session {
  path: string;
  key: string;
  reader: StartPackReader | undefined;
  /** Files taken from the pack, with what the pack said of them. */
  served: Map<string, PackedModule>;
  /** Files read from disk, with the stamp taken before the read, and the key of what was read. */
  stamps: Map<string, { stamp: Stamp; hash: string; format: string }>;
  /** Files whose entry was written again (a rejected code cache): their pack bytes are stale. */
  rewritten: Set<string>;
  /** Each module's links, as its discovery resolved them (from the pack or by the resolver). */
  links: Map<string, PackLink[]>;
  /** A module's links are not all the pack's: the next pack differs. */
  linksChanged: boolean;
}

/** The next pack of a start: its modules, each copied from the old pack (`served`) or its entry file. */
interface Plan {
  session: Session;
  modules: Array<{ info: Omit<PackedModule, 'at' | 'length' | 'codeAt' | 'codeEnd' | 'links'>; served: PackedModule | undefined }>;
  timer?: NodeJS.Timeout | undefined;
}

export class StartPacks {
  private session: Session | undefined;
  private plan: Plan | undefined;

  constructor(private readonly host: PackHost) {}

  /** A start of `entry` begins: its pack is read, if it was made with `key`. */
  begin(entry: string, key: string): void {
    this.drop();
    const path = `${this.host.prefix}start-${digest('sha256', entry, 'hex').slice(0, 16)}${PACK_EXT}`;
    const reader = StartPackReader.open(path, key);
    this.session = { path, key, reader, served: new Map(), stamps: new Map(), rewritten: new Set(), links: new Map(), linksChanged: false };
  }

  /** Whether a start is under way: its discovery then stats a file before reading it (`note`). */
  get noting(): boolean {
    return this.session !== undefined;
  }

  /** `file`'s module from the pack, if the file has the stamp the pack has for it; with the file's size. */
  find(file: string, format: string): { compiled: CompiledModule; size: number } | undefined {
    const session = this.session;
    // Taken already in this start (compiled ahead for a require, then required): once a start,
    // as a file read from disk is read once a transaction.
    const taken = session?.served.get(file);
    const latest = taken && this.host.latestOf(file);
    if (taken && latest?.hash === taken.hash) return { compiled: latest, size: taken.stamp.size };
    const packed = session?.reader?.find(file, format);
    if (!session || !packed) return undefined;
    const mapsPath = this.host.entryAt(packed.folder, packed.hash);
    const compiled = session.reader!.module(packed, mapsPath);
    if (!compiled) return undefined;
    session.served.set(file, packed);
    this.host.served(compiled, mapsPath);
    return { compiled, size: packed.stamp.size };
  }

  /** The links of `file`'s module, taken from the pack this start, whose directories have not changed. */
  packedLinks(file: string): PackLink[] | undefined {
    const session = this.session;
    const packed = session?.served.get(file);
    return packed && packed.links.length > 0 ? session!.reader?.linksOf(packed) : undefined;
  }

  /** How discovery resolved `file`'s relative imports where a listing alone answered; `fromPack` of them from its pack links. */
  noteLinks(file: string, links: PackLink[], fromPack: number): void {
    const session = this.session;
    if (!session) return;
    session.links.set(file, links);
    if (fromPack !== links.length || fromPack !== (session.served.get(file)?.links.length ?? 0)) session.linksChanged = true;
  }

  /** The stamp `file` had before the source keyed `hash` was read from it (start-pack.ts, trustedStamp). */
  note(file: string, stamp: Stamp, hash: string, format: string): void {
    this.session?.stamps.set(file, { stamp, hash, format });
  }

  /** `file`'s entry was written again: its bytes in the pack the start read are stale. */
  rewritten(file: string): void {
    (this.session ?? this.plan?.session)?.rewritten.add(file);
  }

  /** The start has ended with `modules`: the pack is let go, and the next one planned if it differs. */
  end(modules: Iterable<CompiledModule>): void {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    const { reader } = session;
    if (reader) {
      // A module the start took and did not compile (it failed first) keeps a copy of its code
      // cache, not a view that would keep the whole pack.
      for (const file of session.served.keys()) {
        const compiled = this.host.latestOf(file);
        if (compiled?.codeCache && reader.holds(compiled.codeCache)) compiled.codeCache = Buffer.from(compiled.codeCache);
      }
      reader.close();
    }
    const plan: Plan = { session, modules: [] };
    let fresh = 0;
    for (const m of modules) {
      const served = session.served.get(m.file);
      if (served?.hash === m.hash) {
        plan.modules.push({ info: served, served });
        if (session.rewritten.has(m.file)) fresh++;
        continue;
      }
      const noted = session.stamps.get(m.file);
      if (noted?.hash !== m.hash) continue; // changed since, too recent to trust, or not a file of the project
      plan.modules.push({
        info: { file: m.file, folder: this.host.folderOf(m.file), hash: m.hash, format: noted.format, stamp: noted.stamp },
        served: undefined,
      });
      fresh++;
    }
    if (plan.modules.length === 0 || (fresh === 0 && plan.modules.length === reader?.size && !session.linksChanged)) return;
    this.plan = plan;
    this.schedule(plan);
  }

  /** Write the planned pack now (the cache is flushed: the app stops). */
  flush(): void {
    if (this.plan) this.write(this.plan, true);
  }

  private schedule(plan: Plan): void {
    plan.timer = safeSetTimeout(() => {
      plan.timer = undefined;
      if (this.plan !== plan) return;
      // After the start's own writes: the pack copies entries from their files.
      if (this.host.writing()) this.schedule(plan);
      else void this.write(plan, false);
    }, this.host.delay);
    plan.timer.unref();
  }

  /** Write `plan`'s pack: at once, or PACK_CHUNK modules a turn. A module whose bytes cannot be read is left out. */
  private write(plan: Plan, now: true): void;
  private write(plan: Plan, now: false): Promise<void>;
  private write(plan: Plan, now: boolean): Promise<void> | void {
    const { session } = plan;
    // From the pack the start read, where it is still that pack; else from the module's entry.
    const old = new PackCopier(session.path);
    let writer: StartPackWriter | undefined;
    const add = (m: Plan['modules'][number]): void => {
      const { info } = m;
      const head =
        (m.served && !session.rewritten.has(info.file) ? old.headOf(m.served) : undefined) ??
        entryHead(this.host.entryAt(info.folder, info.hash), info.file, info.hash);
      if (head) writer!.add(info, session.links.get(info.file) ?? [], head);
    };
    /** Written (`finished`), or given up: a full disk, or the plan dropped or written by flush(). */
    const end = (finished: boolean): void => {
      try {
        if (finished) writer!.finish(session.key);
        else writer?.abandon();
      } catch {
        writer?.abandon();
      }
      old.close();
      clearTimeout(plan.timer);
      if (this.plan === plan) this.plan = undefined;
    };
    const tmp = `${session.path}.${process.pid}.${++writes}.tmp`;
    if (now) {
      try {
        writer = new StartPackWriter(session.path, tmp);
        for (const m of plan.modules) add(m);
        return end(true);
      } catch {
        return end(false);
      }
    }
    return (async () => {
      try {
        writer = new StartPackWriter(session.path, tmp);
        let i = 0;
        for (const m of plan.modules) {
          if (++i % PACK_CHUNK === 0) {
            await new SafePromise<void>((resume) => safeSetImmediate(resume));
            await this.host.quiet();
            if (this.plan !== plan) return end(false);
          }
          add(m);
        }
        end(true);
      } catch {
        end(false);
      }
    })();
  }

  /** Forget a pack not written yet: a new start plans its own. */
  private drop(): void {
    if (this.plan) clearTimeout(this.plan.timer);
    this.plan = undefined;
  }
}
