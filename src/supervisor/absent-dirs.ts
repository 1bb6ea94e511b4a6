/**
 * Directories of single watched files (WatchRules' files: the app's modules outside the root, an
 * env file) that are not there: a workspace package a branch switch removed and will bring back,
 * an `--env-file config/.env` before `config/` is made. Each is waited for through its nearest
 * directory that exists (fs.watch on it; with --poll, a look every pass), as chokidar waits for
 * a path that does not exist yet. Once it is there, DirTree watches its files again.
 */
import fs from 'node:fs';
import path from 'node:path';

/**
 * A directory's stats, through a symlink (`--env-file config/.env` with `config` a link): how
 * DirTree too looks at the directory of a single file, so the two agree on whether it is there.
 */
export function statDirectory(dir: string): fs.Stats | undefined {
  try {
    const st = fs.statSync(dir, { throwIfNoEntry: false });
    return st?.isDirectory() ? st : undefined;
  } catch {
    return undefined; // ENOTDIR, EACCES, a link loop: not there for this purpose
  }
}

/** Whether `dir` is a directory, through a symlink (watcher.ts asks it of each --include too). */
export const isDirectory = (dir: string): boolean => statDirectory(dir) !== undefined;

/** How many times one check() looks again after setting watches, before leaving it to the next event. */
const CHECK_PASSES = 8;

/** The nearest directory above `dir` that exists (the file system's root always does). */
function nearestExisting(dir: string): string {
  let at = path.dirname(dir);
  while (!isDirectory(at) && path.dirname(at) !== at) at = path.dirname(at);
  return at;
}

export class AbsentDirs {
  private readonly waiting = new Set<string>();
  /** fs.watch on each nearest existing ancestor of a waited-for directory. */
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private scheduled: NodeJS.Immediate | undefined;
  private closed = false;
  private checking = false;

  constructor(
    /** --poll: no fs.watch; the caller's poll pass calls check(). */
    private readonly poll: boolean,
    /** `dir` exists again: watch its files. */
    private readonly onPresent: (dir: string) => void,
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  add(dir: string): void {
    this.waiting.add(dir);
    this.check();
  }

  /** No file in `dir` is wanted any more. */
  delete(dir: string): void {
    if (this.waiting.delete(dir)) this.rewatch();
  }

  /** Look for the waited-for directories (after an ancestor's event, or a poll pass). */
  check(): void {
    // onPresent() may wait for a directory again (gone meanwhile): no check inside a check.
    if (this.checking) return;
    this.checking = true;
    try {
      for (let pass = 0; pass < CHECK_PASSES; pass++) {
        for (const dir of [...this.waiting]) {
          if (this.closed || !isDirectory(dir)) continue;
          this.waiting.delete(dir);
          this.onPresent(dir);
        }
        // A watch set just now starts late: what was made under it before then is looked for again.
        if (!this.rewatch()) return;
      }
    } finally {
      this.checking = false;
    }
  }

  close(): void {
    this.closed = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    this.waiting.clear();
  }

  /** Watch the nearest existing ancestor of each waited-for directory; true if a watch was added. */
  private rewatch(): boolean {
    if (this.poll || this.closed) return false;
    const wanted = new Set([...this.waiting].map(nearestExisting));
    for (const [dir, watcher] of this.watchers) {
      if (wanted.has(dir)) continue;
      watcher.close();
      this.watchers.delete(dir);
    }
    let added = false;
    for (const dir of wanted) {
      if (this.watchers.has(dir)) continue;
      try {
        const watcher = fs.watch(dir, () => this.soon());
        watcher.on('error', () => this.soon());
        this.watchers.set(dir, watcher);
        added = true;
      } catch {
        // Gone between the look and the watch (the next event above it looks again), or not
        // watchable: the directory is not waited for through it.
      }
    }
    return added;
  }

  private soon(): void {
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      this.check();
    });
  }
}
