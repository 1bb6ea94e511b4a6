/**
 * Pruning: a module that nothing imports any more (its last importer dropped the import, or was
 * itself pruned) is disposed, its prune handlers run, and it leaves the graph, together with
 * whatever only it imported.
 */
import { describe } from './error-payload.js';
import { release } from './owned.js';
import { relink, type ModuleNode } from './graph.js';
import { unbind } from './bindings.js';
import type { RunnerState } from './state.js';

/** Dispose and drop `candidates` that nobody imports, and what only they imported; returns them (relative). */
export async function prune(state: RunnerState, candidates: ModuleNode[], warnings: string[]): Promise<string[]> {
  const dropped: string[] = [];
  const queue = [...candidates];
  while (queue.length > 0) {
    const node = queue.pop()!;
    if (node.importers.size > 0 || node === state.entry || !state.nodes.has(node.file)) continue;
    const instance = node.instance;
    if (instance) {
      const hot = instance.hotInUse;
      if (hot) {
        for (const e of await hot.runDisposers()) warnings.push(`dispose handler of ${state.rel(node.file)} threw: ${describe(e)}`);
        for (const e of await hot.runPruners()) warnings.push(`prune handler of ${state.rel(node.file)} threw: ${describe(e)}`);
        hot.detach();
      }
      unbind(instance);
      state.released(release(instance.owned));
    }
    node.instance = undefined;
    state.nodes.delete(node.file);
    state.stacks.unregisterFile(node.file);
    node.clearRuntimeImports();
    queue.push(...relink(node, []));
    dropped.push(state.rel(node.file));
  }
  return dropped;
}
