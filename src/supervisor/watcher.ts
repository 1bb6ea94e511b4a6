/**
 * Watches the project and hands over batches of changed files: the directory tree
 * (dir-tree.ts, on Node's fs.watch or --poll) filtered by the rules (watch-rules.ts), its
 * events gathered into batches (batches.ts).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ChangeKind, FileChange, OutsideModule } from '../shared/ipc.js';
import { sourceHash } from '../shared/source-hash.js';
import { isDirectory } from './absent-dirs.js';
import { Batches } from './batches.js';
import { DirTree } from './dir-tree.js';
import { isGlob } from './glob.js';
import { WatchRules } from './watch-rules.js';

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
  /**
   * Look at every directory every so often instead of waiting for the system's events, for
   * file systems that send none (network drives, some container mounts). Default: false.
   */
  poll?: boolean;
  /** One batch of changes, one entry per file. */
  onBatch(changes: FileChange[]): void;
  onError(error: Error): void;
}

export interface Watcher {
  ready: Promise<void>;
  /**
   * Resolves once the watcher has said all it will about these files for now: none waits in a
   * batch not yet handed over and none changed in the last moment (batches.ts). A restart waits
   * for this, so the write after a truncate is part of it and does not restart a second time.
   */
  settled(files: readonly string[]): Promise<void>;
  /**
   * The app's module files (absolute) that lie outside the watched trees, such as a workspace
   * package linked from elsewhere: links are not followed out of the root, so these are watched
   * one by one. Each call replaces the previous list. A file whose content differs from what the
   * app read (saved before this call) is reported as changed at once, or as unlinked if it is gone.
   */
  watchOutside(modules: readonly OutsideModule[]): void;
  close(): Promise<void>;
}

/** How `file` changed since the app read what `hash` is the hash of (shared/source-hash.ts). */
function changedSince(file: string, hash: string): ChangeKind | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return 'unlink';
  }
  return sourceHash(text) === hash ? undefined : 'change';
}

export function createWatcher(options: WatcherOptions): Watcher {
  const { root } = options;
  const includes = options.include.filter((p) => !isGlob(p)).map((p) => resolve(root, p));
  const trees = [root, ...includes.filter(isDirectory)];
  const rules = new WatchRules(options, trees);
  const batches = new Batches(options.delay, options.onBatch);
  const tree = new DirTree(rules, {
    poll: options.poll ?? false,
    onChange: (kind, file) => batches.record(kind, file),
    onWarning: (message) => options.onError(new Error(message)),
  });
  for (const dir of trees) tree.addTree(dir);
  // A single file (an env file, the config, an --include that is not a directory) is watched
  // through its directory, so a rename over it is seen.
  const singles = new Set([...options.extraFiles.map((f) => resolve(root, f)), ...includes.filter((p) => !trees.includes(p))]);
  for (const file of singles) {
    rules.addFile(file);
    tree.addFile(file);
  }

  let outside = new Set<string>();
  return {
    ready: Promise.resolve(),
    settled: (files) => batches.settled(files.map((f) => resolve(f))),
    watchOutside(modules) {
      const hashes = new Map(modules.filter((m) => !rules.inTree(m.file)).map((m) => [m.file, m.hash]));
      for (const file of outside) {
        if (hashes.has(file) || singles.has(file)) continue;
        rules.deleteFile(file);
        tree.deleteFile(file);
      }
      for (const [file, hash] of hashes) {
        if (outside.has(file)) continue;
        rules.addFile(file);
        tree.addFile(file);
        // Watched from here on; a save since the app's read shows in the content.
        const kind = changedSince(file, hash);
        if (kind) batches.record(kind, file);
      }
      outside = new Set(hashes.keys());
    },
    async close() {
      tree.close();
      batches.close();
    },
  };
}
