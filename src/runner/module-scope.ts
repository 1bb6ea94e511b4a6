/**
 * What a module body sees of devhot: the runtime object rewritten code calls (`__dh__`, see
 * rewrite.ts), `import.meta`, and for CommonJS files `require`. Loads made at run time
 * (`import()`, `require()` of a user file) join the transaction in progress, if any, so they
 * commit or roll back with it; otherwise they are a transaction of their own.
 *
 * No closure made here may capture a transaction: an instance lives as long as its module is
 * loaded, and a transaction's `previous` map holds the instance before it, and so on, so one
 * captured transaction keeps every earlier version of the module alive (a leak per save).
 * Closures capture the runner's state, the node and the instance only.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DevhotError, ErrorCodes } from '../errors.js';
import { discover, discoverSync } from './discover.js';
import { evaluate, evaluationOrder, link } from './evaluate.js';
import { ModuleNode, addRuntimeEdge } from './graph.js';
import { addStarExports, setGetters, type ModuleInstance, type ModuleRuntime } from './instance.js';
import { importNative } from './native.js';
import type { RunnerState } from './state.js';
import { LoadError, Transaction } from './transaction.js';

/** The `__dh__` object an ES module's body is called with. */
export function moduleRuntime(state: RunnerState, instance: ModuleInstance): ModuleRuntime {
  const node = instance.node;
  const deps = instance.version.deps;
  return {
    d: deps.map((dep) => (dep instanceof ModuleNode ? dep.namespace : dep)),
    e: (getters) => setGetters(instance, getters),
    s: (ns) =>
      addStarExports(
        instance,
        ns,
        deps.find((d): d is ModuleNode => d instanceof ModuleNode && d.namespace === ns),
      ),
    m: importMeta(state, node, instance),
    i: (specifier) => dynamicImport(state, node, String(specifier)),
  };
}

/** What a CommonJS file's wrapper is called with besides Node's five arguments. */
export function cjsScope(
  state: RunnerState,
  instance: ModuleInstance,
): { require: NodeJS.Require; runtime: Pick<ModuleRuntime, 'm' | 'i'> } {
  const node = instance.node;
  return {
    require: requireFor(state, node),
    runtime: {
      m: importMeta(state, node, instance),
      i: (specifier: unknown) => dynamicImport(state, node, String(specifier)),
    },
  };
}

function importMeta(state: RunnerState, node: ModuleNode, instance: ModuleInstance): object {
  return {
    url: pathToFileURL(node.file).href,
    filename: node.file,
    dirname: dirname(node.file),
    main: node.file === state.options.entry,
    hot: instance.hot,
    resolve(specifier: string): string {
      const r = state.resolver.resolve(specifier, node.file, 'import');
      return r.kind === 'user' ? pathToFileURL(r.file).href : r.kind === 'builtin' ? r.id : r.url;
    },
  };
}

/** `require` inside a CommonJS user file: user files through devhot, the rest through Node. */
function requireFor(state: RunnerState, node: ModuleNode): NodeJS.Require {
  const native = createRequire(node.file);
  const require = ((specifier: string) => {
    const resolved = state.resolver.resolve(specifier, node.file, 'require');
    if (resolved.kind !== 'user') return native(specifier);
    return requireUser(state, node, resolved.file);
  }) as NodeJS.Require;
  require.resolve = ((specifier: string) => {
    const resolved = state.resolver.resolve(specifier, node.file, 'require');
    return resolved.kind === 'user' ? resolved.file : native.resolve(specifier);
  }) as NodeJS.RequireResolve;
  require.resolve.paths = native.resolve.paths;
  require.cache = native.cache;
  require.main = native.main;
  require.extensions = native.extensions;
  return require;
}

/** What `require(userFile)` returns: module.exports for CommonJS, the namespace for ESM. */
function exportsOf(node: ModuleNode): unknown {
  const instance = node.instance!;
  if (instance.cjsModule) return instance.cjsModule.exports;
  if (instance.version.compiled.format === 'json') return node.namespace.default;
  return node.namespace;
}

function requireUser(state: RunnerState, from: ModuleNode, file: string): unknown {
  const inUpdate = state.current;
  const txn = inUpdate ?? new Transaction(state);
  const node = txn.node(file);
  addRuntimeEdge(from, node);
  const status = node.instance?.status;
  if (status === 'evaluated' || status === 'evaluating') return exportsOf(node);
  try {
    discoverSync(txn, node);
    link(txn, evaluationOrder(txn, [node]));
    // One depth-first walk from the required module, as Node does (see linkAndEvaluate on cycles).
    if (evaluate(txn, node)) {
      throw new DevhotError(
        ErrorCodes.REQUIRE_ASYNC,
        `require() of ${file} from ${from.file} cannot finish synchronously: it (or a module it imports) uses top-level await`,
        { fix: 'Use `await import()` instead of require() for this module, or remove the top-level await.' },
      );
    }
    // Outside an update (a require() at run time) the new modules are committed at once.
    if (!inUpdate) txn.commit();
  } catch (error) {
    if (!inUpdate) void txn.rollback().catch(() => {});
    throw error instanceof LoadError ? error.error : error;
  }
  return exportsOf(node);
}

async function dynamicImport(state: RunnerState, from: ModuleNode, specifier: string): Promise<unknown> {
  const resolved = state.resolver.resolve(specifier, from.file, 'import');
  if (resolved.kind !== 'user') return importNative(state.nativeCache, resolved.kind === 'builtin' ? resolved.id : resolved.url, undefined);
  const inUpdate = state.current;
  const txn = inUpdate ?? new Transaction(state);
  const node = txn.node(resolved.file);
  addRuntimeEdge(from, node);
  try {
    if (!node.version && !txn.staged.has(node)) await discover(txn, [node], true);
    link(txn, evaluationOrder(txn, [node]));
    // One depth-first walk from the imported module, as Node does (see linkAndEvaluate on cycles).
    await evaluate(txn, node);
    if (!inUpdate) txn.commit();
  } catch (error) {
    if (!inUpdate) await txn.rollback();
    throw error instanceof LoadError ? error.error : error;
  }
  return node.namespace;
}
