/**
 * One update, from the modules it starts from to its result, in passes:
 *
 *   compile the changed files (nothing runs yet) → plan: walk importers up to the boundaries
 *   → swap: dispose, link + evaluate, commit (or roll back: swap.ts) → prune
 *   → boundaries: accept handlers; a handler that throws or a module that invalidates starts
 *     another pass from there (bounded, so invalidate() loops end)
 *
 * The start and a reload are updates too: they re-run exactly the modules given, without the
 * walk. `devhot:beforeUpdate` / `devhot:afterUpdate` (and Vite's names) bracket real updates.
 */
import { performance } from 'node:perf_hooks';
import type { UpdateResult } from '../shared/results.js';
import { UpdateProgress, settleBoundaries } from './boundaries.js';
import { discover } from './discover.js';
import { evaluationOrder } from './order.js';
import { planUpdate, type ModuleNode, type ModuleVersion, type UpdatePlan } from './graph.js';
import { prune } from './prune.js';
import type { RunnerState } from './state.js';
import { failPass, swap } from './swap.js';
import { Transaction } from './transaction.js';

/** Past this many passes an update stops, with a warning (invalidate()/accept failures looping). */
const MAX_PASSES = 32;

export interface UpdateRequest {
  /** The modules the update starts from. */
  changed: ModuleNode[];
  /** The files the update was asked for (absolute), for the result and the events. */
  files: string[];
  /** Read and compile `changed` from disk first (a save, the start); false re-runs the code loaded. */
  compile: boolean;
  /**
   * Re-run exactly `changed`, for this reason ('start', 'reload'), instead of walking importers up
   * to the modules that accept the update.
   */
  direct?: string;
  /** Modules whose self-accept does not count (they invalidated). */
  ignoreSelfAccept?: Iterable<ModuleNode>;
  /**
   * Modules to re-run although their code did not change: they started a worker or child whose
   * files did (runner.ts, spawnersOf).
   */
  rerun?: ModuleNode[];
  /** The first pass's transaction, when the caller has already made nodes in it (the start). */
  txn?: Transaction;
}

export async function runUpdate(state: RunnerState, request: UpdateRequest): Promise<UpdateResult> {
  const t0 = performance.now();
  const { files, direct } = request;
  const progress = new UpdateProgress(request.ignoreSelfAccept);
  if (!direct) state.emit('beforeUpdate', { files: files.map((f) => state.rel(f)) });
  let txn = request.txn ?? new Transaction(state);
  const rerun = request.rerun ?? [];
  let pending = [...request.changed, ...rerun.filter((n) => !request.changed.includes(n))];
  let compile = request.compile;
  for (let pass = 0; pending.length > 0; pass++) {
    if (pass >= MAX_PASSES) {
      progress.warnings.push(`stopped after ${MAX_PASSES} passes of invalidate()/accept failures`);
      break;
    }
    if (compile) {
      // 1. Compile the changed files and whatever new they import. Nothing is disposed yet.
      try {
        const unchanged = pass === 0 ? rerun : [];
        pending = await compileChanged(
          txn,
          pending.filter((n) => !unchanged.includes(n)),
        );
        for (const n of unchanged) if (!pending.includes(n)) pending.push(n);
      } catch (error) {
        return await failPass(txn, error, { files, t0 }, []);
      }
      if (pending.length === 0 && pass === 0) return { status: 'unchanged', files, duration: performance.now() - t0 };
    }
    // 2. Plan: who re-executes, who accepts.
    const plan =
      direct && pass === 0
        ? directPlan(pending)
        : planUpdate(pending, {
            entry: state.entry,
            root: state.root,
            ignoreSelfAccept: progress.ignoreSelfAccept,
            ignoreAccept: progress.ignoreAccept,
          });
    if (plan.restartReason) {
      await txn.rollback();
      return { status: 'needs-restart', rung: 'restart', reason: plan.restartReason, files, duration: performance.now() - t0 };
    }
    if (plan.entryReason) {
      progress.entryReason ??= plan.entryReason;
      state.emit('beforeFullReload', { reason: plan.entryReason });
    }
    // 3. Dispose what is replaced, link and run the new code, commit or roll back.
    for (const n of plan.reexecute) txn.reexecute.add(n);
    const order = evaluationOrder(txn, [...plan.reexecute]);
    const swapped = await swap(txn, order, { files, t0, warnings: progress.warnings });
    if (!swapped.ok) return swapped.result;
    // 4. Prune, and hand the new modules to the boundaries.
    for (const n of order) progress.reexecuted.push(state.rel(n.file));
    progress.pruned.push(...(await prune(state, swapped.orphans, progress.warnings)));
    pending = await settleBoundaries(txn, plan, progress);
    compile = false;
    txn = new Transaction(state);
  }
  return applied(state, request, progress, t0);
}

/** Stage new versions of `pending`; returns those whose code or resolved imports changed. */
async function compileChanged(txn: Transaction, pending: ModuleNode[]): Promise<ModuleNode[]> {
  await discover(txn, pending, true);
  // A file saved without changes (same content, same resolved imports) needs no update.
  for (const n of pending) {
    const staged = txn.staged.get(n);
    if (staged && n.version && n.instance?.status === 'evaluated' && sameVersion(staged, n.version)) {
      txn.staged.delete(n);
      txn.reexecute.delete(n);
    }
  }
  return pending.filter((n) => txn.staged.has(n));
}

/** The start and a reload: exactly these modules, no boundaries. */
function directPlan(modules: ModuleNode[]): UpdatePlan {
  return {
    reexecute: new Set(modules),
    acceptedDeps: new Map(),
    selfAccepted: new Set(),
    entryReason: undefined,
    restartReason: undefined,
  };
}

function applied(state: RunnerState, request: UpdateRequest, progress: UpdateProgress, t0: number): UpdateResult {
  const { direct, files } = request;
  progress.warnings.push(...state.warnings.splice(0));
  const result: UpdateResult = {
    status: 'applied',
    rung: progress.entryReason || direct ? 'entry-reexecuted' : 'hot-update',
    reason: direct ?? progress.entryReason,
    files,
    reexecuted: progress.reexecuted,
    boundaries: [...progress.boundaries],
    pruned: progress.pruned,
    warnings: progress.warnings,
    duration: performance.now() - t0,
  };
  if (!direct) state.emit('afterUpdate', { files: files.map((f) => state.rel(f)), reexecuted: progress.reexecuted, rung: result.rung });
  return result;
}

/** Same code and the same resolved dependencies: applying it would change nothing. */
function sameVersion(a: ModuleVersion, b: ModuleVersion): boolean {
  return a.compiled.hash === b.compiled.hash && a.deps.length === b.deps.length && a.deps.every((d, i) => d === b.deps[i]);
}
