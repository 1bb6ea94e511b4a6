/**
 * Loads made by running code: `import()` and `require()` of a user module. As in Node:
 *
 * - a module that is already loaded is not loaded again: its instance is reused (evaluating it
 *   again only waits for it, or throws the error its evaluation ended with);
 * - a module being loaded by an earlier call is shared with it, however many calls race for it;
 * - `import()` never runs anything synchronously: whatever the importer does after the call runs
 *   first, and every failure (even a specifier whose toString throws) is a rejected promise;
 * - its errors are Node's: ERR_MODULE_NOT_FOUND, a SyntaxError for a syntax error or a missing
 *   export, Node's TypeErrors for import attributes.
 *
 * The code of an update (its new instances) loads into that update's transaction, so what it
 * loads commits or rolls back with it. Any other code (a request handler, a timer) loads in a
 * transaction of its own, queued behind the update under way, and committed once linked.
 */
import { extname } from 'node:path';
import { DevhotError, ErrorCodes } from '../errors.js';
import { discover, discoverSync } from './discover.js';
import { evaluateModule, evaluateModuleSync } from './evaluate.js';
import { ModuleNode, addRuntimeEdge } from './graph.js';
import { checkAttributes, readImportOptions } from './import-attributes.js';
import type { ModuleInstance } from './instance.js';
import { linkModules, settleLinks } from './link.js';
import { importNative } from './native.js';
import { requireNamespace } from './namespace.js';
import { moduleNotFound, unknownFileExtension } from './node-errors.js';
import type { ResolveResult } from './resolve.js';
import type { RunnerState } from './state.js';
import { LoadError, Transaction } from './transaction.js';
import { SafePromise } from './intrinsics.js';

/** `import(specifier, options)` from code of `instance`. */
export async function dynamicImport(state: RunnerState, instance: ModuleInstance, specifier: unknown, options: unknown): Promise<unknown> {
  const from = instance.node;
  const text = String(specifier);
  const attributes = readImportOptions(options);
  const resolved = resolveOrThrow(state, text, from.file);
  if (resolved.kind !== 'user')
    return importNative(state.nativeCache, resolved.kind === 'builtin' ? resolved.id : resolved.url, attributes);
  const warning = checkAttributes(resolved.file, attributes, from.file);
  if (warning) state.warnOnce(from.file, warning);
  let node: ModuleNode;
  try {
    node = await loadModule(state, instance, resolved.file);
  } catch (error) {
    throw importError(error);
  }
  addRuntimeEdge(from, node);
  await settleLinks(state);
  await evaluateModule(state, node.instance!);
  return node.namespace;
}

/** `require(file)` of a user module from a CommonJS user file (synchronous, as require is). */
export function requireUser(state: RunnerState, from: ModuleNode, file: string): unknown {
  return requireFile(state, file, from);
}

/**
 * `require(file)` from code devhot did not compile (native-loads.ts): the runner's exports; the
 * module becomes a run-time import of the entry, so a save of it re-runs the entry.
 */
export function requireForNative(state: RunnerState, file: string): unknown {
  return requireFile(state, file, state.entry);
}

function requireFile(state: RunnerState, file: string, from: ModuleNode | undefined): unknown {
  const node = loadSync(state, file, from, (n) => {
    if (n.instance!.status === 'linked') evaluateModuleSync(state, n.instance!, from?.file ?? file);
  });
  return exportsOf(node);
}

/**
 * The node of `file`, loaded and linked synchronously: reused when it is known, else discovered
 * into the update under way or a transaction of its own. `from` imports it at run time; `then`
 * runs before that transaction commits, so an error in it rolls the load back.
 */
function loadSync(state: RunnerState, file: string, from: ModuleNode | undefined, then?: (node: ModuleNode) => void): ModuleNode {
  const known = state.nodes.get(file);
  if (known?.instance && known.instance.status !== 'linking') {
    if (from && from !== known) addRuntimeEdge(from, known);
    then?.(known);
    return known;
  }
  const joined = state.current && !state.current.ended ? state.current : undefined;
  const txn = joined ?? new Transaction(state);
  try {
    const node = txn.node(file);
    if (from && from !== node) addRuntimeEdge(from, node);
    discoverSync(txn, node);
    linkModules(txn, newModules(txn, node));
    then?.(node);
    if (!joined) {
      txn.commit();
      state.options.onLoad?.();
    }
    return node;
  } catch (error) {
    if (!joined) void txn.rollback().catch(() => {});
    throw error instanceof LoadError ? error.error : error;
  }
}

/** What `require(userFile)` returns: module.exports for CommonJS, the parsed value for JSON, else the namespace. */
function exportsOf(node: ModuleNode): unknown {
  const instance = node.instance!;
  if (instance.cjsModule) return instance.cjsModule.exports;
  if (instance.version.compiled.format === 'json') return instance.synthetic?.default;
  return requireNamespace(node);
}

/** The node of `file` for an import() from `instance`: its code joins its own transaction, if one is under way. */
function loadModule(state: RunnerState, instance: ModuleInstance, file: string): Promise<ModuleNode> {
  const txn = state.current;
  return load(state, file, txn && !txn.ended && txn.instances.has(instance) ? txn : undefined);
}

/**
 * The node of `file` for Node's loader (native-loads.ts): the code that asked is unknown, and
 * most likely the update under way (the entry calling a plugin loader at start); waiting for the
 * queue then would wait for itself.
 */
export function loadForNative(state: RunnerState, file: string): Promise<ModuleNode> {
  const txn = state.current;
  return load(state, file, txn && !txn.ended ? txn : undefined);
}

/**
 * The same, synchronously, for Node's in-thread module hooks (native-hooks.ts), which must answer
 * before they return: the module is discovered and linked now, into the update under way or a
 * transaction of its own.
 */
export function loadForNativeSync(state: RunnerState, file: string): ModuleNode {
  return loadSync(state, file, undefined);
}

/** The node of `file`, loaded and linked (not evaluated): reused, shared with a load under way, or loaded now. */
function load(state: RunnerState, file: string, join: Transaction | undefined): Promise<ModuleNode> {
  const known = state.nodes.get(file);
  if (known?.instance && known.instance.status !== 'linking') return SafePromise.resolve(known);
  const pending = state.loading.get(file);
  if (pending) return pending;
  const loading = join ? loadInto(join, file) : state.queue.run(() => loadAlone(state, file));
  state.loading.set(file, loading);
  join?.joined.add(loading);
  void loading.finally(() => state.loading.delete(file)).catch(() => {});
  return loading;
}

/** Load into the update whose code asked: it commits or rolls back with the update. */
async function loadInto(txn: Transaction, file: string): Promise<ModuleNode> {
  const node = txn.node(file);
  if (!txn.versionOf(node)) await discover(txn, [node], true);
  linkModules(txn, newModules(txn, node));
  return node;
}

/** Load in a transaction of its own, committed as soon as it is linked. */
async function loadAlone(state: RunnerState, file: string): Promise<ModuleNode> {
  const known = state.nodes.get(file);
  if (known?.instance && known.instance.status !== 'linking') return known;
  const txn = new Transaction(state);
  try {
    const node = txn.node(file);
    if (!txn.versionOf(node)) await discover(txn, [node], true);
    linkModules(txn, newModules(txn, node));
    txn.commit();
    state.options.onLoad?.();
    return node;
  } catch (error) {
    await txn.rollback();
    throw error;
  }
}

/** The modules reachable from `node` that have no instance yet, dependencies first. */
function newModules(txn: Transaction, node: ModuleNode): ModuleNode[] {
  const order: ModuleNode[] = [];
  const seen = new Set<ModuleNode>();
  const visit = (n: ModuleNode): void => {
    if (seen.has(n) || n.instance) return;
    seen.add(n);
    for (const dep of txn.versionOf(n)?.deps ?? []) if (dep instanceof ModuleNode) visit(dep);
    order.push(n);
  };
  visit(node);
  return order;
}

function resolveOrThrow(state: RunnerState, specifier: string, importer: string): ResolveResult {
  try {
    return state.resolver.resolve(specifier, importer, 'import');
  } catch (error) {
    throw importError(error, specifier, importer);
  }
}

/**
 * A load's failure as Node's loader would report it, with devhot's location and fix riding along
 * (non-enumerable) for the terminal.
 */
function importError(error: unknown, specifier?: string, importer?: string): unknown {
  const inner = error instanceof LoadError ? error.error : error;
  if (!(inner instanceof DevhotError)) return inner;
  const details = inner as DevhotError & { specifier?: string; importer?: string; file?: string };
  let converted: Error;
  switch (inner.code) {
    case ErrorCodes.RESOLVE:
      converted = moduleNotFound(details.specifier ?? specifier ?? '', details.importer ?? importer ?? '');
      break;
    case ErrorCodes.UNSUPPORTED_FILE:
      converted = unknownFileExtension(extname(details.file ?? ''), details.file ?? '');
      break;
    case ErrorCodes.TRANSFORM:
      // The parser's words, without devhot's " in /path/file.js" (the location rides along).
      converted = new SyntaxError(inner.message.replace(/ in \/\S+$/, ''));
      break;
    default:
      return inner;
  }
  for (const key of ['fix', 'loc', 'frame'] as const) {
    if (inner[key] !== undefined) Object.defineProperty(converted, key, { value: inner[key], configurable: true });
  }
  Object.defineProperty(converted, 'cause', { value: inner, configurable: true });
  return converted;
}
