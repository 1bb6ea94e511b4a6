/**
 * From the files an update is asked for to the modules it starts from. A saved module is changed;
 * a deleted one makes its importers change (they dropped the import, or now fail to resolve it);
 * a file the graph does not know may be what a failed resolution was missing, so the resolver
 * forgets what it saw. The files of a failed update are retried with the next one until it
 * succeeds (the retry set).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { DevhotError, ErrorCodes } from '../errors.js';
import type { ChangeKind, FileChange } from '../shared/ipc.js';
import type { ModuleNode } from './graph.js';
import type { RunnerState } from './state.js';

export type Changes =
  | { kind: 'modules'; changed: Set<ModuleNode> }
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

/** The modules `asked` (plus the retry set) changes, clearing the resolver's cache when the file set changed. */
export function collectChanges(state: RunnerState, asked: readonly AskedFile[], retry: ReadonlySet<string>): Changes {
  const all = new Map<string, ChangeKind | undefined>(asked.map((a) => [a.file, a.kind]));
  for (const file of retry) if (!all.has(file)) all.set(file, undefined);
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
  return { kind: 'modules', changed };
}

/**
 * The watcher's word when there is one. A file asked for without a kind (the library API, the
 * retry set) is looked at on disk.
 */
function isDeleted(file: string, kind: ChangeKind | undefined): boolean {
  return kind === undefined ? !existsSync(file) : kind === 'unlink';
}
