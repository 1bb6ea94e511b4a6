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
/** How long an emptied file may stay empty before it counts as saved empty. */
const EMPTY_FILE_WAIT_MS = 100;

export interface Watcher {
  ready: Promise<void>;
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
  const flushNow = () => {
    immediate = undefined;
    flush();
  };
  const flush = () => {
    timer = undefined;
    const batch = pending;
    pending = new ChangeSet();
    if (batch.size > 0) options.onBatch(batch.list());
  };
  const record = (kind: ChangeKind) => (path: string) => {
    // unlink then add within one batch is a change (a rename over the file): see mergeKind.
    pending.add({ file: resolve(path), kind });
    if (options.delay > 0) {
      if (timer) clearTimeout(timer);
      timer = setTimeout(flush, options.delay);
    } else if (!immediate) {
      // Events of one poll phase (a rename's unlink + add, a multi-file save) make one batch,
      // without the ≥ 1 ms a setTimeout(0) costs on every save.
      immediate = setImmediate(flushNow);
    }
  };
  // Two ways a save could go wrong between chokidar and the runner:
  //
  // - chokidar drops a 'change' that comes within 50 ms of the previous one for the same file
  //   (its throttle in FSWatcher#_emit), so of two quick saves the last one was lost and the
  //   stale version kept serving. After each add/change we look at the file again once that
  //   window has passed and report it once more if it changed since.
  // - editors and shells save by truncate-then-write, and the event for the truncate arrives
  //   first: the runner then ran an empty module (its exports gone, requests answered with
  //   `undefined`) until the write's event. An empty file is waited on (bounded) for its
  //   content, as Vite does (vitejs/vite#610); a file that stays empty is reported as it is.
  const seen = new Map<string, string>();
  const rechecks = new Map<string, NodeJS.Timeout>();
  const emptyWaits = new Map<string, NodeJS.Timeout>();
  const look = (file: string): { signature: string; size: number } | undefined => {
    try {
      const s = statSync(file);
      return { signature: `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`, size: s.size };
    } catch {
      return undefined;
    }
  };
  const recheckLater = (file: string) => {
    seen.set(file, look(file)?.signature ?? 'gone');
    clearTimeout(rechecks.get(file));
    const recheck = setTimeout(() => {
      rechecks.delete(file);
      const now = look(file);
      if (now && now.signature !== seen.get(file)) onFileEvent('change', file);
      else seen.delete(file);
    }, CHOKIDAR_CHANGE_THROTTLE_MS + 20);
    recheck.unref();
    rechecks.set(file, recheck);
  };
  const onFileEvent = (kind: 'add' | 'change', path: string) => {
    const file = resolve(path);
    const waiting = emptyWaits.get(file);
    if (waiting) {
      clearTimeout(waiting);
      emptyWaits.delete(file);
    }
    const now = look(file);
    if (now && now.size === 0) {
      const since = Date.now();
      const tick = () => {
        const later = look(file);
        if (later && later.size === 0 && Date.now() - since < EMPTY_FILE_WAIT_MS) {
          emptyWaits.set(file, setTimeout(tick, 10).unref());
          return;
        }
        emptyWaits.delete(file);
        if (!later) return; // deleted meanwhile: its unlink event reports it
        record(kind)(file);
        recheckLater(file);
      };
      emptyWaits.set(file, setTimeout(tick, 10).unref());
      return;
    }
    record(kind)(file);
    recheckLater(file);
  };
  watcher.on('add', (path) => onFileEvent('add', path));
  watcher.on('change', (path) => onFileEvent('change', path));
  watcher.on('unlink', record('unlink'));
  watcher.on('error', (error) => {
    const code = (error as NodeJS.ErrnoException).code;
    // A file or directory removed while chokidar looked at it: the unlink event says it all.
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    options.onError(error as Error);
  });

  const ready = new Promise<void>((resolveReady) => watcher.once('ready', () => resolveReady()));
  return {
    ready,
    async close() {
      if (timer) clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      for (const t of [...rechecks.values(), ...emptyWaits.values()]) clearTimeout(t);
      rechecks.clear();
      emptyWaits.clear();
      await watcher.close();
    },
  };
}
