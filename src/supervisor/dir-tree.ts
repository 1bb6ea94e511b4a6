/**
 * The watched directories as devhot last saw them, kept up to date by Node's own `fs.watch` on
 * each directory (or, with --poll, by looking at every directory in turn).
 *
 * Why not chokidar: on an event its directory handler re-reads the whole directory and runs the
 * ignore function on every entry, so its latency grows with the directory. This tree looks at
 * the one name an event is about (one lstat), so its latency is fs.watch's whatever the folder's
 * size. writeFileSync → event, p50 (p95), each watcher in its own process, same run
 * (node dist/bench/watcher.bench.js --sizes 300,3000 --rounds 2 --edits 20; 2 cores shared
 * with other work at load 13–16, Node 20.20, 2026-11-29):
 *
 *   files, layout      this tree         chokidar 5         fs.watch alone   initial scan
 *   300, one folder    3.4 (11.4) ms     4.3 (37.4) ms      4.2 ms           8 ms vs 149 ms
 *   3000, one folder   3.1 (12.5) ms     16.0 (54.6) ms     2.9 ms           63 ms vs 1,679 ms
 *   3000, 30 folders   4.3 (8.4) ms      10.9 (63.7) ms     3.5 ms           52 ms vs 1,175 ms
 *
 * @parcel/watcher measured 1.3 ms in one run and 51 ms in the next (its debounce), is a native
 * addon, and has no polling on Linux (--poll would need this code anyway).
 *
 * Per directory it keeps the entries it reports (files and symlinks) and descends into
 * (directories). An event names one entry; everything a tick's events named is looked at once,
 * on setImmediate, so a rename over a file (an editor's atomic save: temp file written, then
 * renamed over the target) is one 'change' of the target and the temp file is never seen.
 *
 * Symlinks are reported as entries of their own and never followed: a link to a big directory
 * elsewhere costs nothing, and a loop (`src/up -> ..`) cannot make the tree endless. Files the
 * app's modules live in outside the root are watched one by one (WatchRules' files).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChangeKind } from '../shared/ipc.js';
import { AbsentDirs, statDirectory } from './absent-dirs.js';
import type { EntryKind, WatchRules } from './watch-rules.js';

/**
 * --poll: the shortest pause between two looks at every directory (chokidar's usePolling
 * default). A look costs one lstat per file (15–20 ms of CPU for 3,000 files on this 2-core
 * machine), and the pause grows to ten times the CPU the last look took (CPU, not wall time:
 * on a busy machine the wall time counts other processes), so polling stays under 10% of a core.
 */
const POLL_INTERVAL_MS = 100;
const POLL_COST_FACTOR = 10;

interface Entry {
  kind: EntryKind;
  /** What tells two versions of the entry apart without reading it (poll mode compares it). */
  sig: string | undefined;
}

class Dir {
  readonly entries = new Map<string, Entry>();
  watcher: fs.FSWatcher | undefined;
  /** Looked at every poll pass (--poll, or fs.watch could not watch it). */
  polled = false;
  /** Its watcher spoke of itself (deleted or moved, or a child of the same name changed). */
  suspect = false;
  constructor(
    readonly path: string,
    /** Watched as part of a tree (every wanted entry), not only for some single files in it. */
    public tree: boolean,
    /** Which directory it is: another one made under the same name is another Dir. */
    readonly id: string,
  ) {}
}

export interface DirTreeOptions {
  poll: boolean;
  onChange(kind: ChangeKind, file: string): void;
  /** Something the user should know (a directory that could not be watched and is polled). */
  onWarning(message: string): void;
}

function lstat(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file, { throwIfNoEntry: false });
  } catch {
    // ENOTDIR (a parent became a file), EACCES: not something this tree can look at.
    return undefined;
  }
}

function kindOf(st: fs.Stats | fs.Dirent): EntryKind | undefined {
  if (st.isSymbolicLink()) return 'link';
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  return undefined; // sockets, FIFOs, devices: nothing to run
}

function signature(st: fs.Stats): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/**
 * A directory's identity. The inode alone is not one: `rm -rf lib && mkdir lib` gets the freed
 * inode back at once on ext4; its birth time (statx) tells the two apart.
 */
function identity(st: fs.Stats): string {
  return `${st.dev}:${st.ino}:${st.birthtimeMs}`;
}

/**
 * Whether `st` is the directory watched as `dir`. Where the file system keeps no birth time, a
 * directory whose watcher spoke of itself (deleted, or only chmod-ed) is taken for another, to
 * be read anew. Once judged the same, it is no longer suspect.
 */
function isSameDir(dir: Dir, st: fs.Stats): boolean {
  if (dir.id !== identity(st) || (dir.suspect && !st.birthtimeMs)) return false;
  dir.suspect = false;
  return true;
}

export class DirTree {
  private readonly dirs = new Map<string, Dir>();
  /** Names the events of this tick were about, per directory ('all': look at every entry). */
  private touched = new Map<Dir, Set<string> | 'all'>();
  private flushing: NodeJS.Immediate | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private pollWait = POLL_INTERVAL_MS;
  private warnedUnwatchable = false;
  private closed = false;
  /** Directories of single files that are not there (yet, or again). */
  private readonly absent: AbsentDirs;

  constructor(
    private readonly rules: WatchRules,
    private readonly options: DirTreeOptions,
  ) {
    this.absent = new AbsentDirs(options.poll, (dir) => this.addFilesIn(dir));
  }

  /** Watch a tree from this directory down; what is in it now is known, not reported. */
  addTree(dir: string): void {
    this.scan(dir, false);
  }

  /**
   * Watch one file (its directory, for that name) wherever it is; rules.addFile() first. A file
   * whose directory is not there is watched once the directory is. `report`: a file found is
   * reported as added (its directory came back).
   */
  addFile(file: string, report = false): void {
    const dirPath = path.dirname(file);
    let dir = this.dirs.get(dirPath);
    if (!dir) {
      const st = statDirectory(dirPath);
      dir = st ? new Dir(dirPath, false, identity(st)) : undefined;
      if (dir) this.dirs.set(dirPath, dir);
      if (!dir || !this.observe(dir)) {
        this.absent.add(dirPath);
        if (this.options.poll) this.schedulePoll();
        return;
      }
    }
    const name = path.basename(file);
    const st = lstat(file);
    if (!st || dir.entries.has(name) || kindOf(st) === 'dir') return;
    dir.entries.set(name, { kind: kindOf(st) ?? 'file', sig: signature(st) });
    if (report) this.options.onChange('add', file);
  }

  /** Watch again the single files wanted in `dir`, which is there anew: those found are added. */
  private addFilesIn(dir: string): void {
    for (const name of this.rules.filesIn(dir)) this.addFile(path.join(dir, name), true);
  }

  /** Stop watching a single file (after rules.deleteFile()), unless its tree wants it. */
  deleteFile(file: string): void {
    if (this.rules.filesIn(path.dirname(file)).length === 0) this.absent.delete(path.dirname(file));
    const dir = this.dirs.get(path.dirname(file));
    if (!dir || dir.tree) return;
    dir.entries.delete(path.basename(file));
    if (dir.entries.size === 0 && this.rules.filesIn(dir.path).length === 0) this.forget(dir);
  }

  close(): void {
    this.closed = true;
    if (this.flushing) clearImmediate(this.flushing);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    for (const dir of this.dirs.values()) dir.watcher?.close();
    this.dirs.clear();
    this.absent.close();
  }

  // ------------------------------------------------------------------------------- scanning

  /** Watch a directory, then read it (in that order, so nothing created between is missed). */
  private scan(dirPath: string, report: boolean): void {
    let dir = this.dirs.get(dirPath);
    if (dir?.tree) return;
    if (dir) dir.tree = true;
    else {
      const st = lstat(dirPath);
      if (!st) return;
      dir = new Dir(dirPath, true, identity(st));
      this.dirs.set(dirPath, dir);
      if (!this.observe(dir)) return;
    }
    let dirents: fs.Dirent[];
    try {
      dirents = fs.readdirSync(dirPath, { withFileTypes: true });
    } catch {
      this.forget(dir); // gone (or unreadable) meanwhile: its parent's look reports what went
      return;
    }
    for (const dirent of dirents) {
      const file = path.join(dirPath, dirent.name);
      const kind = kindOf(dirent);
      if (kind === undefined || !this.rules.wanted(file, kind) || dir.entries.has(dirent.name)) continue;
      // Polling compares signatures; with events, any event of a file is a change.
      const st = dir.polled && kind !== 'dir' ? lstat(file) : undefined;
      if (st && this.rules.isOwnOutput(st)) continue;
      dir.entries.set(dirent.name, { kind, sig: st && signature(st) });
      if (kind === 'dir') this.scan(file, report);
      else if (report) this.options.onChange('add', file);
    }
  }

  /** Start observing a directory: fs.watch, or the poll list. False when it is gone. */
  private observe(dir: Dir): boolean {
    if (this.options.poll) {
      dir.polled = true;
      this.schedulePoll();
      return true;
    }
    try {
      dir.watcher = fs.watch(dir.path, (_event, name) => this.touch(dir, name));
      // The directory went away (some platforms say so with an error): its parent's event says it all.
      dir.watcher.on('error', () => this.touch(dir, null));
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        this.dirs.delete(dir.path);
        return false;
      }
      // Out of inotify watches (ENOSPC) or descriptors (EMFILE): this directory is polled. Said
      // once: past the limit, every directory after it fails the same way.
      if (!this.warnedUnwatchable) {
        this.warnedUnwatchable = true;
        this.options.onWarning(
          `cannot watch ${dir.path} (${code ?? (error as Error).message}); polling it and any other such directory instead${code === 'ENOSPC' ? ' (raise fs.inotify.max_user_watches, or run with --poll)' : ''}`,
        );
      }
      dir.polled = true;
      this.schedulePoll();
      return true;
    }
  }

  private forget(dir: Dir): void {
    if (this.dirs.get(dir.path) !== dir) return;
    this.dirs.delete(dir.path);
    dir.watcher?.close();
    this.touched.delete(dir);
  }

  // ------------------------------------------------------------------------------- events

  private touch(dir: Dir, name: string | null): void {
    if (this.closed || this.dirs.get(dir.path) !== dir) return;
    // fs.watch names the directory itself when it is deleted or moved: its parent looks again.
    if (name === path.basename(dir.path)) dir.suspect = true;
    const names = this.touched.get(dir);
    if (name === null) this.touched.set(dir, 'all');
    else if (names === undefined) this.touched.set(dir, new Set([name]));
    else if (names !== 'all') names.add(name);
    this.flushing ??= setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushing = undefined;
    // Parents first: a directory replaced by another of the same name is dropped and read anew
    // once, before the events inside the old one are looked at (they are then moot).
    const touched = [...this.touched].sort(([a], [b]) => a.path.length - b.path.length);
    this.touched = new Map();
    for (const [dir, names] of touched) {
      if (this.dirs.get(dir.path) !== dir) continue; // dropped by an earlier look of this flush
      if (!dir.tree && dir.suspect && this.singlesGone(dir)) continue;
      if (names === 'all') this.rescan(dir, false);
      else for (const name of names) this.look(dir, name, false);
    }
  }

  /**
   * Look at one name of a directory and report what became of it. `compare`: report a change
   * only when the file's signature moved (polling); otherwise the event itself says it changed.
   */
  private look(dir: Dir, name: string, compare: boolean): void {
    const file = path.join(dir.path, name);
    const st = lstat(file);
    if (st && this.rules.isOwnOutput(st)) return;
    const kind = st && kindOf(st);
    let known = dir.entries.get(name);
    // Gone, another kind, or another directory under the same name: drop the old entry.
    if (known && (known.kind !== kind || (kind === 'dir' && this.replaced(file, st!)))) {
      this.drop(dir, name, known);
      known = undefined;
    }
    if (kind === undefined) return;
    if (!known) {
      // The rules are asked once per entry (a poll pass looks at every known file again).
      if (!(dir.tree ? this.rules.wanted(file, kind) : kind !== 'dir' && this.rules.isFile(file))) return;
      dir.entries.set(name, { kind, sig: kind === 'dir' ? undefined : signature(st!) });
      if (kind === 'dir') this.scan(file, true);
      else this.options.onChange('add', file);
      return;
    }
    if (kind === 'dir') return; // its own watcher reports what happens inside it
    const sig = signature(st!);
    const changed = compare ? known.sig !== undefined && known.sig !== sig : true;
    known.sig = sig;
    if (changed) this.options.onChange('change', file);
  }

  /** Whether the directory at `file` is not the one watched under that name (isSameDir). */
  private replaced(file: string, st: fs.Stats): boolean {
    const sub = this.dirs.get(file);
    return sub === undefined || !isSameDir(sub, st);
  }

  /** An entry that is no more: a file is unlinked; a directory, every file below it. */
  private drop(dir: Dir, name: string, entry: Entry): void {
    dir.entries.delete(name);
    const file = path.join(dir.path, name);
    if (entry.kind !== 'dir') {
      this.options.onChange('unlink', file);
      return;
    }
    const sub = this.dirs.get(file);
    if (!sub) return;
    for (const [child, childEntry] of sub.entries) this.drop(sub, child, childEntry);
    this.forget(sub);
  }

  /**
   * Whether a directory watched only for single files is gone or is another one now. Then its
   * files are unlinked, and watched again: in the new directory (those there are added), or
   * once the directory is back (AbsentDirs).
   */
  private singlesGone(dir: Dir): boolean {
    const st = statDirectory(dir.path);
    if (st && isSameDir(dir, st)) return false;
    for (const [name, entry] of dir.entries) this.drop(dir, name, entry);
    this.forget(dir);
    this.addFilesIn(dir.path);
    return true;
  }

  /** Look at every entry of a directory: those on disk and those it had. */
  private rescan(dir: Dir, compare: boolean): void {
    if (!dir.tree && this.singlesGone(dir)) return;
    const names = new Set(dir.entries.keys());
    if (dir.tree) {
      try {
        for (const name of fs.readdirSync(dir.path)) names.add(name);
      } catch {
        // gone: its parent's look drops it; its entries go with it
      }
    } else {
      for (const name of this.rules.filesIn(dir.path)) names.add(name);
    }
    for (const name of names) {
      if (this.dirs.get(dir.path) !== dir) return;
      this.look(dir, name, compare);
    }
  }

  // -------------------------------------------------------------------------------- polling

  private schedulePoll(): void {
    if (this.pollTimer || this.closed) return;
    this.pollTimer = setTimeout(() => this.pollPass(), this.pollWait);
  }

  private pollPass(): void {
    this.pollTimer = undefined;
    const cpu = process.cpuUsage();
    let polled = 0;
    for (const dir of [...this.dirs.values()]) {
      if (!dir.polled || this.dirs.get(dir.path) !== dir) continue;
      polled++;
      this.rescan(dir, true);
    }
    this.absent.check();
    const used = process.cpuUsage(cpu);
    this.pollWait = Math.max(POLL_INTERVAL_MS, ((used.user + used.system) / 1000) * POLL_COST_FACTOR);
    if (polled > 0 || this.absent.size > 0) this.schedulePoll();
  }
}
