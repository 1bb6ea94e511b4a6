/**
 * After a pass committed: hand the new modules to the boundaries that accepted them, and collect
 * what the update must do next. An accept handler that throws did not accept, and a module that
 * called `import.meta.hot.invalidate()` gave up: either way the update goes on from there to the
 * importers, in another pass. A module may do that once per update, so invalidate() loops end.
 */
import type { ModuleNode, UpdatePlan } from './graph.js';
import { describe } from './error-payload.js';
import type { RunnerState } from './state.js';
import type { Transaction } from './transaction.js';

/** What one update has gathered so far, across its passes. */
export class UpdateProgress {
  /** Modules that got a new instance (relative), in evaluation order. */
  readonly reexecuted: string[] = [];
  readonly boundaries = new Set<string>();
  readonly pruned: string[] = [];
  readonly warnings: string[] = [];
  /** Modules whose self-accept does not count any more (they invalidated, or their handler threw). */
  readonly ignoreSelfAccept: Set<ModuleNode>;
  /** Boundaries whose accept of a dep does not count any more, keyed `${boundary.file}\0${dep.file}`. */
  readonly ignoreAccept = new Set<string>();
  /** Why the entry re-executed, the first time a pass said so. */
  entryReason: string | undefined;

  constructor(ignoreSelfAccept: Iterable<ModuleNode> = []) {
    this.ignoreSelfAccept = new Set(ignoreSelfAccept);
  }
}

/** Run the accept handlers of a committed pass; returns the modules the next pass starts from. */
export async function settleBoundaries(txn: Transaction, plan: UpdatePlan, progress: UpdateProgress): Promise<ModuleNode[]> {
  const { state } = txn;
  const next = new Set<ModuleNode>();
  await acceptDeps(state, plan, progress, next);
  await acceptSelves(txn, plan, progress, next);
  for (const [mod, message] of txn.invalidated) {
    if (progress.ignoreSelfAccept.has(mod) && !next.has(mod)) {
      progress.warnings.push(`${state.rel(mod.file)} invalidated again in the same update; ignored so the update ends`);
      continue;
    }
    state.emit('invalidate', { path: state.rel(mod.file), message });
    if (message) progress.warnings.push(`${state.rel(mod.file)} invalidated: ${message}`);
    progress.ignoreSelfAccept.add(mod);
    next.add(mod);
  }
  return [...next];
}

/** `accept(dep, cb)` handlers of boundaries that kept their instance: they get the new modules. */
async function acceptDeps(state: RunnerState, plan: UpdatePlan, progress: UpdateProgress, next: Set<ModuleNode>): Promise<void> {
  for (const [boundary, deps] of plan.acceptedDeps) {
    progress.boundaries.add(state.rel(boundary.file));
    const changed = (file: string) => [...deps].some((d) => d.file === file);
    for (const reg of boundary.instance!.hotInUse?.accepts ?? []) {
      if (!reg.callback || !reg.deps.some(changed)) continue;
      const mods = reg.deps.map((f) => (changed(f) ? state.nodes.get(f)?.namespace : undefined));
      try {
        await reg.callback(reg.array ? mods : mods[0]);
      } catch (error) {
        // A handler that throws did not accept: the update goes on to the boundary's importers.
        progress.warnings.push(`accept handler in ${state.rel(boundary.file)} threw: ${describe(error)}`);
        for (const d of deps) progress.ignoreAccept.add(`${boundary.file}\0${d.file}`);
        next.add(boundary);
      }
    }
  }
}

/** `accept(cb)` handlers of self-accepting modules, registered by the instance they replaced. */
async function acceptSelves(txn: Transaction, plan: UpdatePlan, progress: UpdateProgress, next: Set<ModuleNode>): Promise<void> {
  for (const mod of plan.selfAccepted) {
    progress.boundaries.add(txn.state.rel(mod.file));
    for (const reg of txn.previous.get(mod)?.hotInUse?.accepts ?? []) {
      if (reg.deps.length > 0 || !reg.callback) continue;
      try {
        await reg.callback(mod.namespace);
      } catch (error) {
        progress.warnings.push(`accept handler in ${txn.state.rel(mod.file)} threw: ${describe(error)}`);
        progress.ignoreSelfAccept.add(mod);
        next.add(mod);
      }
    }
  }
}
