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
const ALWAYS_IGNORED = ['node_modules', '.git', '.hg', '.svn', 'dist', 'build', 'coverage', '.devhot', '.cache', '.next', '.nuxt', '.turbo'];

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

export function createWatcher(options: WatcherOptions): Watcher {
  const { root } = options;
  const ignoredName = new Set(ALWAYS_IGNORED);
  const excluded = createMatcher(options.exclude);
  const included = createMatcher(options.include.filter(isGlob));
  const extra = new Set(options.extraFiles.map((f) => resolve(root, f)));
  const ignored = (path: string): boolean => {
    if (extra.has(path)) return false;
    const rel = relative(root, path);
    if (rel === '' ) return false;
    if (rel.startsWith('..')) return false; // an --include path outside root: its own rules
    const parts = rel.split(sep);
    if (parts.some((p) => ignoredName.has(p))) return true;
    const posix = parts.join('/');
    if (excluded(posix) && !included(posix)) return true;
    return false;
  };

  const paths = [root, ...options.include.filter((p) => !isGlob(p)).map((p) => resolve(root, p)), ...extra];
  const watcher: FSWatcher = watch(paths, {
    ignored,
    ignoreInitial: true,
    // Editors that save by rename are reported as a change, not an unlink + add.
    atomic: true,
  });

  // The events of one tick (or of --delay) are gathered into one batch before they are handed
  // over. That is batching, not a queue: nothing here waits for the supervisor, which queues
  // the batches itself (saves that arrive while it applies one join its next batch).
  let pending = new ChangeSet();
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  /** Per file: its signature when last reported, and the timer of its re-check. */
  const seen = new Map<string, string>();
  const rechecks = new Map<string, NodeJS.Timeout>();
  /** Callers of settled(), each waiting until the watcher has said all it will about some files. */
  const waiters = new Set<{ files: readonly string[]; resolve(): void }>();

  const busy = (file: string) => rechecks.has(file) || pending.has(file);
  const wake = () => {
    for (const waiter of waiters) {
      if (waiter.files.some(busy)) continue;
      waiters.delete(waiter);
      waiter.resolve();
    }
  };
  const flush = () => {
    timer = undefined;
    immediate = undefined;
    const batch = pending;
    pending = new ChangeSet();
    if (batch.size > 0) options.onBatch(batch.list());
    wake();
  };
  const record = (kind: ChangeKind, path: string) => {
    // unlink then add within one batch is a change (a rename over the file): see mergeKind.
    pending.add({ file: resolve(path), kind });
    if (options.delay > 0) {
      if (timer) clearTimeout(timer);
      timer = setTimeout(flush, options.delay);
    } else if (!immediate) {
      // Events of one poll phase (a rename's unlink + add, a multi-file save) make one batch,
      // without the ≥ 1 ms a setTimeout(0) costs on every save.
      immediate = setImmediate(flush);
    }
  };
  const signature = (file: string): string | undefined => {
    try {
      const s = statSync(file);
      return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
    } catch {
      return undefined;
    }
  };
  // chokidar drops a 'change' that comes within 50 ms of the previous one for the same file (its
  // throttle in FSWatcher#_emit), so of two quick saves the last one was lost and the stale
  // version kept serving. After each add/change we look at the file again once that window has
  // passed and report it once more if it changed since.
  //
  // A file caught empty (editors and shells save by truncate-then-write, and the truncate's event
  // can come first) is reported as it is, without waiting here: the runner, which reads the
  // file, waits for its content (readSettled in src/runner/loader.ts), and this re-check reports
  // the write if chokidar dropped its event.
  const onFileEvent = (kind: 'add' | 'change', path: string): void => {
    const file = resolve(path);
    record(kind, file);
    seen.set(file, signature(file) ?? 'gone');
    clearTimeout(rechecks.get(file));
    const recheck = setTimeout(() => {
      rechecks.delete(file);
      const now = signature(file);
      if (now && now !== seen.get(file)) onFileEvent('change', file);
      else seen.delete(file);
      wake();
    }, CHOKIDAR_CHANGE_THROTTLE_MS + 20);
    recheck.unref();
    rechecks.set(file, recheck);
  };

  watcher.on('add', (path) => onFileEvent('add', path));
  watcher.on('change', (path) => onFileEvent('change', path));
  watcher.on('unlink', (path) => record('unlink', path));
  watcher.on('error', (error) => {
    const code = (error as NodeJS.ErrnoException).code;
    // A file or directory removed while chokidar looked at it: the unlink event says it all.
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    options.onError(error as Error);
  });

  const ready = new Promise<void>((resolveReady) => watcher.once('ready', () => resolveReady()));
  return {
    ready,
    settled(files) {
      return new Promise((resolveSettled) => {
        waiters.add({ files: files.map((f) => resolve(f)), resolve: resolveSettled });
        wake();
      });
    },
    async close() {
      if (timer) clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      for (const t of rechecks.values()) clearTimeout(t);
      rechecks.clear();
      // Nothing more will be reported: whoever waits for the watcher to settle may go on.
      pending = new ChangeSet();
      wake();
      await watcher.close();
    },
  };
}
