/**
 * From the files an update is asked for to the modules it starts from. A saved module is changed;
 * a deleted one makes its importers change (they dropped the import, or now fail to resolve it);
 * a file the graph does not know may be what a failed resolution was missing, so the resolver
 * forgets what it saw. The files of a failed update are retried with a later update that may fix
 * it (the retry set): one that touches its files, a module of the graph, or a file that may be
 * code the graph does not hold yet. Not with one of any other file: a log the app writes, or
 * devhot's own output redirected into the project, once retried a failing update on every line
 * written, forever.
 */
import { existsSync } from 'node:fs';
import { extname, isAbsolute, resolve } from 'node:path';
import { DevhotError, ErrorCodes } from '../errors.js';
import type { ChangeKind, FileChange } from '../shared/ipc.js';
import type { ModuleNode } from './graph.js';
import type { RunnerState } from './state.js';

export type Changes =
  /** `retried`: the retry set is part of this update (so its outcome settles the retry set). */
  | { kind: 'modules'; changed: Set<ModuleNode>; retried: boolean }
  /** The entry itself was deleted: nothing can be applied until it is back. */
  | { kind: 'entry-deleted'; error: DevhotError };

/** A file asked for, absolute, with what happened to it when the caller knows (the watcher does). */
export interface AskedFile {
  file: string;
  kind: ChangeKind | undefined;
}

export function askedFiles(root: string, files: ReadonlyArray<string | FileChange>): AskedFile[] {
  return files.map((f) => {
    const file = typeof f === 'string' ? f : f.file;
    return { file: isAbsolute(file) ? file : resolve(root, file), kind: typeof f === 'string' ? undefined : f.kind };
  });
}

/** Files that may be modules: what an import can name, besides native addons. */
const MODULE_EXTENSIONS = new Set(['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs', '.json']);

/**
 * Whether `asked` may fix the failed update the retry set stands for: it names one of the retry
 * set's files, a module of the graph (an import or importer of the failed modules), or a file
 * the graph does not hold that may be a module: one the failed version imported (its rollback
 * dropped it) or the one a failed import missed. A JSON file only when it is new (or the kind is
 * unknown): an app's data file changes all the time.
 */
function mayFix(state: RunnerState, asked: readonly AskedFile[], retry: ReadonlySet<string>): boolean {
  return asked.some(({ file, kind }) => {
    if (retry.has(file) || state.nodes.has(file)) return true;
    const ext = extname(file);
    if (!MODULE_EXTENSIONS.has(ext)) return false;
    return ext !== '.json' || kind === 'add' || kind === undefined;
  });
}

/** The modules `asked` (plus the retry set, when it may fix it) changes, clearing the resolver's cache when the file set changed. */
export function collectChanges(state: RunnerState, asked: readonly AskedFile[], retry: ReadonlySet<string>): Changes {
  const all = new Map<string, ChangeKind | undefined>(asked.map((a) => [a.file, a.kind]));
  const retried = retry.size > 0 && mayFix(state, asked, retry);
  if (retried) for (const file of retry) if (!all.has(file)) all.set(file, undefined);
  const changed = new Set<ModuleNode>();
  let structural = false;
  for (const [file, kind] of all) {
    const node = state.nodes.get(file);
    if (!node) {
      structural = true; // a new file may satisfy an import that failed to resolve before
      continue;
    }
    if (isDeleted(file, kind)) {
      structural = true;
      if (node === state.entry) {
        return {
          kind: 'entry-deleted',
          error: new DevhotError(ErrorCodes.ENTRY_NOT_FOUND, `The entry ${state.rel(file)} was deleted`, {
            fix: 'Restore it; the previous version keeps running until then.',
          }),
        };
      }
      // The importers must re-link: they either dropped the import or now fail to resolve it.
      // A deleted file nobody imports any more is pruned when its importers commit.
      for (const importer of node.importers) if (!isDeleted(importer.file, all.get(importer.file))) changed.add(importer);
      continue;
    }
    changed.add(node);
  }
  if (structural) state.resolver.clearCache();
  return { kind: 'modules', changed, retried };
}

/**
 * The watcher's word when there is one. A file asked for without a kind (the library API, the
 * retry set) is looked at on disk.
 */
function isDeleted(file: string, kind: ChangeKind | undefined): boolean {
  return kind === undefined ? !existsSync(file) : kind === 'unlink';
}
