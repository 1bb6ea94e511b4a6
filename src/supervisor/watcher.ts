/**
 * Watches the project with chokidar and hands over batches of changed files. Editors' atomic
 * saves (write a temp file, rename it over) arrive as one change thanks to chokidar's `atomic`;
 * files that vanish between the event and our look at them are expected races, not errors.
 */
import { relative, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { createMatcher, isGlob } from './glob.js';

export type ChangeKind = 'add' | 'change' | 'unlink';

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
  onBatch(files: Map<string, ChangeKind>): void;
  onError(error: Error): void;
}

/** Never watched: dependencies, VCS, build output and devhot's own cache. */
const ALWAYS_IGNORED = ['node_modules', '.git', '.hg', '.svn', 'dist', 'build', 'coverage', '.devhot', '.cache', '.next', '.nuxt', '.turbo'];

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

  let pending = new Map<string, ChangeKind>();
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const batch = pending;
    pending = new Map();
    if (batch.size > 0) options.onBatch(batch);
  };
  const record = (kind: ChangeKind) => (path: string) => {
    const file = resolve(path);
    const before = pending.get(file);
    // unlink then add within one batch is a change (a rename over the file).
    pending.set(file, before === 'unlink' && kind === 'add' ? 'change' : kind);
    if (options.delay > 0) {
      if (timer) clearTimeout(timer);
      timer = setTimeout(flush, options.delay);
    } else if (!timer) {
      timer = setTimeout(flush, 0);
    }
  };
  watcher.on('add', record('add'));
  watcher.on('change', record('change'));
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
      await watcher.close();
    },
  };
}
