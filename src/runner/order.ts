/**
 * Which modules an update re-instantiates, in import order (dependencies before importers): the
 * ones asked for, the ones the transaction staged or created, and any module that imports one of
 * those on the way (found by walking importers up, so an entry re-execution does not visit the
 * whole graph).
 */
import { ModuleNode } from './graph.js';
import type { Transaction } from './transaction.js';

export function evaluationOrder(txn: Transaction, roots: Iterable<ModuleNode>): ModuleNode[] {
  const list = [...roots];
  const relevant = new Set<ModuleNode>();
  const up = (node: ModuleNode): void => {
    if (relevant.has(node)) return;
    relevant.add(node);
    for (const importer of node.importers) up(importer);
  };
  for (const node of list) if (txn.needsInstance(node)) up(node);
  for (const node of txn.staged.keys()) up(node);
  for (const node of txn.created) up(node);
  const order: ModuleNode[] = [];
  const seen = new Set<ModuleNode>();
  const visit = (node: ModuleNode): void => {
    if (seen.has(node)) return;
    seen.add(node);
    for (const dep of txn.versionOf(node)?.deps ?? []) {
      // New deps of a staged version have no importer edges yet: always descend into those.
      if (dep instanceof ModuleNode && (relevant.has(dep) || !dep.version)) visit(dep);
    }
    if (txn.needsInstance(node)) order.push(node);
  };
  for (const node of list) visit(node);
  return order;
}
