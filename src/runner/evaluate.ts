/**
 * Evaluate, as ECMA-262 does it (§16.2.1.5.3): a depth-first walk from a module through its
 * requests, each instance evaluated once, cycles found by their DFS indexes and finished
 * together, and modules with top-level await run asynchronously without holding back the
 * siblings that do not wait for them (ExecuteAsyncModule, AsyncModuleExecutionFulfilled, …). An
 * evaluation error sticks to the instances it reached: evaluating them again throws it again.
 *
 * ES modules run their generator's second step; CommonJS files run in Node's wrapper; JSON is
 * parsed. Modules Node loaded were evaluated by Node when they were loaded.
 */
import { webpackHot } from './webpack-hot.js';
import Module from 'node:module';
import { dirname } from 'node:path';
import { DevhotError, ErrorCodes } from '../errors.js';
import { syntheticReady } from './bindings.js';
import { cjsExportNames, cjsExportValues } from './cjs-exports.js';
import { ModuleNode } from './graph.js';
import type { Capability, CompiledBody, ModuleInstance } from './instance.js';
import { cjsScope } from './module-scope.js';
import { runAs } from './resource-tracking.js';
import type { RunnerState } from './state.js';
import { SafePromise } from './intrinsics.js';

/** What Evaluate() of an instance that has evaluated without error gives. */
const EVALUATED: Promise<void> = SafePromise.resolve();

/** Evaluate(): settles when the instance (and what it waits for) has evaluated. */
export function evaluateModule(state: RunnerState, instance: ModuleInstance): Promise<void> {
  let module = instance;
  if (module.status === 'evaluating-async' || module.status === 'evaluated') module = module.cycleRoot ?? module;
  if (module.topLevelCapability) return module.topLevelCapability.promise;
  // Evaluated cleanly (its cycle's root too), as nearly every instance is when an update's walk
  // or an import() reaches it after the first walk: settled at once, with no capability of its
  // own kept with the instance (a promise and its two functions: 0.76 MB of the app's heap at
  // 3,000 modules, when each start kept one per instance).
  if (module.status === 'evaluated' && !module.hasError) return EVALUATED;
  const stack: ModuleInstance[] = [];
  const capability = newCapability();
  module.topLevelCapability = capability;
  try {
    innerEvaluation(state, module, stack, 0);
    if (module.asyncOrder === 'unset' || module.asyncOrder === 'done') capability.resolve();
  } catch (error) {
    for (const m of stack) fail(m, error);
    capability.reject(error);
  }
  return capability.promise;
}

/**
 * Evaluate synchronously, for `require()` of an ES module: a graph that awaits at its top level
 * cannot finish in one call, so it is refused before anything runs (as Node refuses it).
 */
export function evaluateModuleSync(state: RunnerState, instance: ModuleInstance, from: string): void {
  const tla = findTopLevelAwait(instance);
  if (tla) {
    throw new DevhotError(
      ErrorCodes.REQUIRE_ASYNC,
      `require() of ${instance.node.file} from ${from} cannot finish synchronously: ${tla === instance ? 'it' : `a module it imports (${tla.node.file})`} uses top-level await`,
      { fix: 'Use `await import()` instead of require() for this module, or remove the top-level await.' },
    );
  }
  const promise = evaluateModule(state, instance);
  const root = instance.cycleRoot ?? instance;
  if (root.hasError) {
    void promise.catch(() => {});
    throw root.error;
  }
}

function findTopLevelAwait(instance: ModuleInstance, seen = new Set<ModuleInstance>()): ModuleInstance | undefined {
  if (seen.has(instance) || instance.status !== 'linked') return undefined;
  seen.add(instance);
  if (instance.hasTLA) return instance;
  for (const dep of instance.version.deps) {
    const found = dep instanceof ModuleNode && dep.instance ? findTopLevelAwait(dep.instance, seen) : undefined;
    if (found) return found;
  }
  return undefined;
}

function innerEvaluation(state: RunnerState, module: ModuleInstance, stack: ModuleInstance[], index: number): number {
  if (module.status === 'evaluating-async' || module.status === 'evaluated') {
    if (module.hasError) throw module.error;
    return index;
  }
  if (module.status === 'evaluating') return index;
  module.status = 'evaluating';
  module.dfsIndex = index;
  module.dfsAncestorIndex = index;
  module.pendingAsyncDependencies = 0;
  index++;
  stack.push(module);
  for (const dep of module.version.deps) {
    if (!(dep instanceof ModuleNode)) continue; // loaded and evaluated by Node
    let required = dep.instance!;
    index = innerEvaluation(state, required, stack, index);
    if (required.status === 'evaluating') {
      module.dfsAncestorIndex = Math.min(module.dfsAncestorIndex, required.dfsAncestorIndex);
    } else {
      required = required.cycleRoot!;
      if (required.hasError) throw required.error;
    }
    if (typeof required.asyncOrder === 'number') {
      module.pendingAsyncDependencies++;
      required.asyncParents.push(module);
    }
  }
  if (module.pendingAsyncDependencies > 0 || module.hasTLA) {
    module.asyncOrder = ++state.asyncEvaluations;
    if (module.pendingAsyncDependencies === 0) executeAsync(state, module);
  } else {
    execute(state, module);
  }
  if (module.dfsAncestorIndex === module.dfsIndex) {
    for (;;) {
      const required = stack.pop()!;
      required.status = typeof required.asyncOrder === 'number' ? 'evaluating-async' : 'evaluated';
      if (required.status === 'evaluated') required.previous = undefined;
      required.cycleRoot = module;
      if (required === module) break;
    }
  }
  return index;
}

function executeAsync(state: RunnerState, module: ModuleInstance): void {
  const step = runAs(module, () => module.body!.next()) as Promise<unknown>;
  step.then(
    () => asyncFulfilled(state, module),
    (error: unknown) => asyncRejected(module, error),
  );
}

function asyncFulfilled(state: RunnerState, module: ModuleInstance): void {
  if (module.status === 'evaluated') return; // an error reached it first
  asyncDone(module);
  const ready: ModuleInstance[] = [];
  gatherAvailableAncestors(module, ready);
  ready.sort((a, b) => (a.asyncOrder as number) - (b.asyncOrder as number));
  for (const m of ready) {
    if (m.status === 'evaluated') continue; // it failed meanwhile
    if (m.hasTLA) {
      executeAsync(state, m);
      continue;
    }
    try {
      execute(state, m);
    } catch (error) {
      asyncRejected(m, error);
      continue;
    }
    asyncDone(m);
  }
}

/** An async module's evaluation succeeded: evaluated, no longer reading its predecessor, awaited ones resume. */
function asyncDone(module: ModuleInstance): void {
  module.asyncOrder = 'done';
  module.status = 'evaluated';
  module.previous = undefined;
  module.topLevelCapability?.resolve();
}

function gatherAvailableAncestors(module: ModuleInstance, ready: ModuleInstance[]): void {
  for (const m of module.asyncParents) {
    if (ready.includes(m) || m.cycleRoot!.hasError) continue;
    m.pendingAsyncDependencies--;
    if (m.pendingAsyncDependencies === 0) {
      ready.push(m);
      if (!m.hasTLA) gatherAvailableAncestors(m, ready);
    }
  }
}

function asyncRejected(module: ModuleInstance, error: unknown): void {
  if (module.status === 'evaluated') return;
  fail(module, error);
  for (const m of module.asyncParents) asyncRejected(m, error);
  module.topLevelCapability?.reject(error);
}

function fail(module: ModuleInstance, error: unknown): void {
  module.status = 'evaluated';
  module.hasError = true;
  module.error = error;
  module.asyncOrder = module.asyncOrder === 'unset' ? 'unset' : 'done';
  module.previous = undefined;
}

/** Run the module's own code, synchronously; what it starts is the instance's (owned.ts). */
function execute(state: RunnerState, instance: ModuleInstance): void {
  runAs(instance, () => executeBody(state, instance));
}

function executeBody(state: RunnerState, instance: ModuleInstance): void {
  const { node, version } = instance;
  const { compiled } = version;
  if (compiled.format === 'esm') {
    instance.body!.next();
    instance.body = undefined; // finished: see bindings.ts, initialize
    return;
  }
  if (compiled.format === 'json') {
    const value = JSON.parse(compiled.code) as unknown;
    instance.synthetic = { default: value };
    syntheticReady(instance);
    return;
  }
  const module = cjsModule(state, instance);
  const { require, runtime } = cjsScope(state, instance);
  // Node's module.require is the prototype's: not one of the keys code lists.
  Object.defineProperty(module, 'require', { value: require, writable: true, configurable: true, enumerable: false });
  const wrapper = instance.cjsFn!(runtime) as CompiledBody;
  wrapper.call(module.exports, module.exports, require, module, node.file, dirname(node.file));
  module.loaded = true;
  instance.synthetic = cjsExportValues(module.exports, cjsExportNames(compiled));
  syntheticReady(instance);
}

/**
 * A CommonJS file's `module`: a real `Module` of node:module, as Node gives one (id, filename,
 * paths, loaded, require). The entry's is `require.main` (its id is '.'), so the idiom
 * `if (require.main === module) app.listen(…)` runs as it does under node.
 */
function cjsModule(state: RunnerState, instance: ModuleInstance): NodeModule {
  const file = instance.node.file;
  const isMain = file === state.options.entry;
  const module = new Module(isMain ? '.' : file) as NodeModule & { paths: string[] };
  module.filename = file;
  module.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(file));
  module.loaded = false;
  // webpack's HMR API, as bundlers give CommonJS modules (webpack-hot.ts); not enumerable, so
  // `Object.keys(module)` lists what node's does.
  Object.defineProperty(module, 'hot', {
    value: webpackHot(instance.hot, instance.previous === undefined),
    writable: true,
    configurable: true,
    enumerable: false,
  });
  instance.cjsModule = module as unknown as ModuleInstance['cjsModule'];
  if (isMain) {
    state.mainModule = module;
    process.mainModule = module;
  }
  return module;
}

function newCapability(): Capability {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new SafePromise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting on this one (a module evaluated through another root): its rejection
  // is reported by whoever awaits the root.
  promise.catch(() => {});
  return { promise, resolve, reject };
}
