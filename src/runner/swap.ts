/**
 * One pass of an update, the part that touches running code: dispose the instances being
 * replaced (importers first, so a server closes before the modules it uses go), link and
 * evaluate the new ones, then commit. If the new code throws, roll back: every node goes back to
 * its previous instance, and the modules whose dispose handlers already ran are run again from
 * their previous version, so the last good code keeps serving (docs/design.md, "Invariants").
 */
import type { UpdateResult } from '../shared/results.js';
import { describe, errorResult } from './error-payload.js';
import { evaluateModule } from './evaluate.js';
import { evaluationOrder } from './order.js';
import { linkModules, settleLinks } from './link.js';
import type { ModuleNode } from './graph.js';
import type { RunnerState } from './state.js';
import { LoadError, Transaction } from './transaction.js';

export type SwapOutcome =
  /** Committed: the modules no longer imported by anyone, for pruning. */
  { ok: true; orphans: ModuleNode[] } | { ok: false; result: Extract<UpdateResult, { status: 'error' }> };

export interface SwapContext {
  /** The files the update was asked for, and when it began (for the error result). */
  files: string[];
  t0: number;
  /** Warnings the update reports (a dispose handler threw...). */
  warnings: string[];
}

/** Replace the instances of `order` (dependencies first) with new ones, or leave the old ones running. */
export async function swap(txn: Transaction, order: ModuleNode[], context: SwapContext): Promise<SwapOutcome> {
  const { state } = txn;
  // Link first: nothing is disposed before every import of the new code resolves.
  try {
    linkModules(txn, order);
    await settleLinks(state);
  } catch (error) {
    return { ok: false, result: await failPass(txn, error, context, []) };
  }
  state.current = txn;
  const disposed: ModuleNode[] = [];
  let cleanedUp = false;
  try {
    for (let i = order.length - 1; i >= 0; i--) {
      const old = txn.previous.get(order[i]!);
      if (old && old.status === 'evaluated' && !old.hasError) {
        disposed.push(order[i]!);
        const hot = old.hotInUse;
        if (!hot) continue;
        if (hot.disposers.length > 0) cleanedUp = true;
        for (const e of await hot.runDisposers())
          context.warnings.push(`dispose handler of ${state.rel(order[i]!.file)} threw: ${describe(e)}`);
      }
    }
    await evaluateAll(txn, order);
    await txn.settleJoined();
  } catch (error) {
    state.current = undefined;
    // Without a dispose handler nothing was cleaned up: the old instances are whole again.
    return { ok: false, result: await failPass(txn, error, context, cleanedUp ? disposed : []) };
  } finally {
    state.current = undefined;
  }
  return { ok: true, orphans: txn.commit() };
}

/**
 * Evaluate the new instances starting from the top (importers first), as Node's depth-first walk
 * from the entry does: starting at a dependency inside a cycle would run its importer (the
 * cycle's root) before it, and the root would then read the dependency's bindings in their TDZ.
 * Instances an earlier walk evaluated are done at once.
 */
async function evaluateAll(txn: Transaction, order: ModuleNode[]): Promise<void> {
  for (let i = order.length - 1; i >= 0; i--) await evaluateModule(txn.state, order[i]!.instance!);
}

/**
 * Report a failed pass and roll it back. The payload is built first: the stack of an error
 * thrown by new code is mapped lazily, and the rollback unregisters the new versions' maps.
 */
export async function failPass(
  txn: Transaction,
  error: unknown,
  context: Pick<SwapContext, 'files' | 't0'>,
  disposed: ModuleNode[],
): Promise<Extract<UpdateResult, { status: 'error' }>> {
  const { state } = txn;
  const result = errorResult(state.root, context.files, context.t0, error);
  await txn.rollback();
  const restoreError = await restore(state, disposed);
  if (restoreError) result.error.message += `; the previous version could not be run again either: ${restoreError}`;
  state.emit('error', result.error);
  return result;
}

/**
 * The modules disposed for a failed update have already closed their servers and timers: run
 * their previous versions again, as fresh instances (`hot.data` as their dispose handlers left
 * it). Returns why that failed too, if it did.
 */
async function restore(state: RunnerState, disposed: ModuleNode[]): Promise<string | undefined> {
  const live = disposed.filter((n) => state.nodes.has(n.file) && n.version);
  if (live.length === 0) return undefined;
  const txn = new Transaction(state, new Set(live));
  const order = evaluationOrder(txn, live);
  state.current = txn;
  try {
    linkModules(txn, order);
    await settleLinks(state);
    await evaluateAll(txn, order);
  } catch (error) {
    await txn.rollback();
    return describe(error instanceof LoadError ? error.error : error);
  } finally {
    state.current = undefined;
  }
  txn.commit();
  return undefined;
}
