/**
 * Link and evaluate: give each module that needs one a new instance (its compiled body bound to
 * what the module sees, see module-scope.ts), then run the instances dependencies first, the way
 * Node's depth-first walk does: a cycle back to a module still on the path is not waited for,
 * and a module with top-level await holds its importers until it settles.
 *
 * ES modules run as generators (the prelude up to the first `yield` links, the rest evaluates);
 * CommonJS files run in Node's wrapper signature; JSON is parsed.
 */
import { dirname } from 'node:path';
import { ModuleNode } from './graph.js';
import { HotContext } from './hot.js';
import { ModuleInstance, cjsGetters, compileBody, setGetters, syncNamespace } from './instance.js';
import { sourceMapComment } from './inspector-map.js';
import { cjsScope, moduleRuntime } from './module-scope.js';
import { LoadError, type Transaction } from './transaction.js';

/** Nodes needing a new instance, dependencies before importers (import order). */
export function evaluationOrder(txn: Transaction, roots: Iterable<ModuleNode>): ModuleNode[] {
  const list = [...roots];
  // Only nodes from which a node needing an instance can be reached are worth descending
  // into; found by walking importers up, so an entry re-execution does not visit the whole graph.
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

/**
 * Link `order`, then evaluate it starting from the top (importers first), as Node's depth-first
 * walk from the entry does: starting at a dependency inside a cycle would run its importer (the
 * cycle's root) before it, and the root would then read the dependency's bindings in their
 * TDZ. Nodes already evaluated by an earlier walk return at once.
 */
export async function linkAndEvaluate(txn: Transaction, order: ModuleNode[]): Promise<void> {
  link(txn, order);
  for (let i = order.length - 1; i >= 0; i--) {
    const waiting = evaluate(txn, order[i]!);
    if (waiting) await waiting;
  }
}

/** Create the new instances and bind imports/exports (no user code runs here). */
export function link(txn: Transaction, order: ModuleNode[]): void {
  for (const node of order) instantiate(txn, node);
}

function instantiate(txn: Transaction, node: ModuleNode): ModuleInstance {
  const version = txn.versionOf(node);
  if (!version) throw new LoadError('link', new Error(`${node.file} was not compiled`), node.file);
  if (!txn.previous.has(node)) txn.previous.set(node, node.instance);
  const { state } = txn;
  const hot = new HotContext(node.hotData, state.hotHost(node));
  const instance = new ModuleInstance(node, version, hot);
  if (node.instance?.status === 'evaluated') instance.previous = node.instance;
  node.instance = instance;
  syncNamespace(node);
  const { compiled } = version;
  if (compiled.format === 'json') return instance;
  if (!version.body) {
    const filename = version.number === 1 ? node.file : `${node.file}?v=${version.number}`;
    state.stacks.register(filename, compiled);
    try {
      version.body = compileBody(version, filename, sourceMapComment(compiled));
    } catch (error) {
      throw new LoadError('transform', error, node.file);
    }
  }
  if (compiled.format === 'esm') {
    instance.body = version.body(moduleRuntime(state, instance)) as ModuleInstance['body'];
    // Runs the prelude: binds imports, registers export getters, stops at `yield`.
    void instance.body!.next();
  } else {
    instance.body = undefined;
    instance.cjsFn = version.body;
  }
  return instance;
}

/** Evaluate a node's instance after its dependencies. Returns a promise only when it must wait. */
export function evaluate(txn: Transaction, node: ModuleNode): Promise<void> | undefined {
  const instance = node.instance!;
  if (instance.status === 'evaluated') return undefined;
  if (instance.status === 'errored') throw instance.error;
  if (instance.onStack) return undefined; // a cycle: Node evaluates the rest first, so do we
  if (instance.pending) return instance.pending;
  instance.onStack = true;
  instance.status = 'evaluating';
  const deps = instance.version.deps;
  let i = 0;
  const fail = (error: unknown): never => {
    instance.status = 'errored';
    instance.previous = undefined;
    instance.error = error;
    instance.onStack = false;
    throw error;
  };
  const next = (): Promise<void> | undefined => {
    try {
      for (; i < deps.length; i++) {
        const dep = deps[i];
        if (!(dep instanceof ModuleNode)) continue;
        // A dependency discovered while evaluating (not in the planned order) is linked here.
        if (txn.needsInstance(dep) && !txn.previous.has(dep)) instantiate(txn, dep);
        const waiting = evaluate(txn, dep);
        if (waiting) {
          i++;
          return waiting.then(next, fail);
        }
      }
      const done = run(txn, instance);
      if (done) return done.then(() => finish(instance), fail);
      finish(instance);
      return undefined;
    } catch (error) {
      return fail(error);
    }
  };
  const result = next();
  if (result) instance.pending = result;
  return result;
}

function finish(instance: ModuleInstance): void {
  instance.status = 'evaluated';
  instance.previous = undefined;
  instance.onStack = false;
  instance.pending = undefined;
  if (instance.cjsModule) {
    setGetters(instance, cjsGetters(instance.cjsModule));
    instance.cjsModule.loaded = true;
  }
}

/** Run the module's own code. */
function run(txn: Transaction, instance: ModuleInstance): Promise<void> | undefined {
  const { node, version } = instance;
  const { compiled } = version;
  if (compiled.format === 'json') {
    const value = JSON.parse(compiled.code);
    setGetters(instance, { default: () => value });
    return undefined;
  }
  if (compiled.format === 'esm') {
    const step = instance.body!.next();
    return step instanceof Promise ? step.then(() => undefined) : undefined;
  }
  const module = { exports: {} as unknown, id: node.file, filename: node.file, path: dirname(node.file), loaded: false };
  instance.cjsModule = module;
  // Until it finishes, importers in a cycle see the partial exports, as with Node's require.
  setGetters(instance, { default: () => module.exports });
  const { require, runtime } = cjsScope(txn.state, instance);
  instance.cjsFn!.call(module.exports, module.exports, require, module, node.file, dirname(node.file), runtime);
  return undefined;
}
