/**
 * Watches the project with chokidar and hands over batches of changed files. Editors' atomic
 * saves (write a temp file, rename it over) arrive as one change thanks to chokidar's `atomic`;
 * files that vanish between the event and our look at them are expected races, not errors.
 */
import { statSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { ChangeKind, FileChange } from '../shared/ipc.js';
import { ChangeSet } from './change-set.js';
import { createMatcher, isGlob } from './glob.js';

export interface WatcherOptions {
  root: string;
  /** Extra paths or globs to watch, relative to root. */
  include: readonly string[];
  /** Paths or globs to ignore, relative to root. */
  exclude: readonly string[];
  /** Files outside root to watch as well (env files, a config elsewhere). */
  extraFiles: readonly string[];
  /** Milliseconds to wait after a change for more. */
  delay: number;
  /** One batch of changes, one entry per file. */
  onBatch(changes: FileChange[]): void;
  onError(error: Error): void;
}

/** Never watched: dependencies, VCS, build output and devhot's own cache. */
const ALWAYS_IGNORED = [
  'node_modules',
  '.git',
  '.hg',
  '.svn',
  'dist',
  'build',
  'coverage',
  '.devhot',
  '.cache',
  '.next',
  '.nuxt',
  '.turbo',
];

/** chokidar swallows repeated 'change' events of one file within this window. */
const CHOKIDAR_CHANGE_THROTTLE_MS = 50;

export interface Watcher {
  ready: Promise<void>;
  /**
   * Resolves once the watcher has said all it will about these files for now: no re-check of
   * them is due and none waits in a batch not yet handed over. A restart waits for this, so the
   * re-check of the save it restarts for is part of it and does not restart a second time.
   */
  settled(files: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** chokidar's `ignored`: the never-watched names, then --exclude unless --include says otherwise. */
function ignoredPaths(options: WatcherOptions, extra: ReadonlySet<string>): (path: string) => boolean {
  const { root } = options;
  const ignoredName = new Set(ALWAYS_IGNORED);
  const excluded = createMatcher(options.exclude);
  const included = createMatcher(options.include.filter(isGlob));
  return (path) => {
    if (extra.has(path)) return false;
    const rel = relative(root, path);
    if (rel === '') return false;
    if (rel.startsWith('..')) return false; // an --include path outside root: its own rules
    const parts = rel.split(sep);
    if (parts.some((p) => ignoredName.has(p))) return true;
    const posix = parts.join('/');
    return excluded(posix) && !included(posix);
  };
}

/** What tells two versions of a file apart without reading it; undefined once it is gone. */
function signature(file: string): string | undefined {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  } catch {
    return undefined;
  }
}

/**
 * The events of one tick (or of --delay) gathered into one batch before they are handed over.
 * That is batching, not a queue: nothing here waits for the supervisor, which queues the batches
 * itself (saves that arrive while it applies one join its next batch).
 *
 * chokidar drops a 'change' that comes within 50 ms of the previous one for the same file (its
 * throttle in FSWatcher#_emit), so of two quick saves the last one was lost and the stale version
 * kept serving. After each add/change the file is looked at again once that window has passed,
 * and reported once more if it changed since.
 *
 * A file caught empty (editors and shells save by truncate-then-write, and the truncate's event
 * can come first) is reported as it is, without waiting here: the runner, which reads the file,
 * waits for its content (readSettled, in the runner), and the re-check reports the
 * write if chokidar dropped its event.
 */
class Batches {
  private pending = new ChangeSet();
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** Per file: its signature when last reported, and the timer of its re-check. */
  private readonly seen = new Map<string, string>();
  private readonly rechecks = new Map<string, NodeJS.Timeout>();
  /** Callers of settled(), each waiting until the watcher has said all it will about some files. */
  private readonly waiters = new Set<{ files: readonly string[]; resolve(): void }>();

  constructor(
    private readonly delay: number,
    private readonly onBatch: (changes: FileChange[]) => void,
  ) {}

  /** Into the batch being gathered; handed over at the end of this tick, or after --delay. */
  record(kind: ChangeKind, path: string): void {
    // unlink then add within one batch is a change (a rename over the file): see mergeKind.
    this.pending.add({ file: resolve(path), kind });
    if (this.delay > 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.flush(), this.delay);
    } else if (!this.immediate) {
      // Events of one poll phase (a rename's unlink + add, a multi-file save) make one batch,
      // without the ≥ 1 ms a setTimeout(0) costs on every save.
      this.immediate = setImmediate(() => this.flush());
    }
  }

  /** An add or change: recorded, and looked at again once chokidar's throttle window has passed. */
  saved(kind: 'add' | 'change', path: string): void {
    const file = resolve(path);
    this.record(kind, file);
    this.seen.set(file, signature(file) ?? 'gone');
    clearTimeout(this.rechecks.get(file));
    const recheck = setTimeout(() => this.recheck(file), CHOKIDAR_CHANGE_THROTTLE_MS + 20);
    recheck.unref();
    this.rechecks.set(file, recheck);
  }

  settled(files: readonly string[]): Promise<void> {
    return new Promise((resolveSettled) => {
      this.waiters.add({ files, resolve: resolveSettled });
      this.wake();
    });
  }

  /** Nothing more will be reported: whoever waits for the watcher to settle may go on. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    for (const t of this.rechecks.values()) clearTimeout(t);
    this.rechecks.clear();
    this.pending = new ChangeSet();
    this.wake();
  }

  private recheck(file: string): void {
    this.rechecks.delete(file);
    const now = signature(file);
    if (now && now !== this.seen.get(file)) this.saved('change', file);
    else this.seen.delete(file);
    this.wake();
  }

  private flush(): void {
    this.timer = undefined;
    this.immediate = undefined;
    const batch = this.pending;
    this.pending = new ChangeSet();
    if (batch.size > 0) this.onBatch(batch.list());
    this.wake();
  }

  private wake(): void {
    const busy = (file: string) => this.rechecks.has(file) || this.pending.has(file);
    for (const waiter of this.waiters) {
      if (waiter.files.some(busy)) continue;
      this.waiters.delete(waiter);
      waiter.resolve();
    }
  }
}

export function createWatcher(options: WatcherOptions): Watcher {
  const { root } = options;
  const extra = options.extraFiles.map((f) => resolve(root, f));
  const paths = [root, ...options.include.filter((p) => !isGlob(p)).map((p) => resolve(root, p)), ...extra];
  const watcher: FSWatcher = watch(paths, {
    ignored: ignoredPaths(options, new Set(extra)),
    ignoreInitial: true,
    // Editors that save by rename are reported as a change, not an unlink + add.
    atomic: true,
  });
  const batches = new Batches(options.delay, options.onBatch);
  watcher.on('add', (path) => batches.saved('add', path));
  watcher.on('change', (path) => batches.saved('change', path));
  watcher.on('unlink', (path) => batches.record('unlink', path));
  watcher.on('error', (error) => {
    const code = (error as NodeJS.ErrnoException).code;
    // A file or directory removed while chokidar looked at it: the unlink event says it all.
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    options.onError(error as Error);
  });

  const ready = new Promise<void>((resolveReady) => watcher.once('ready', () => resolveReady()));
  return {
    ready,
    settled: (files) => batches.settled(files.map((f) => resolve(f))),
    async close() {
      batches.close();
      await watcher.close();
    },
  };
}
