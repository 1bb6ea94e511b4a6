/**
 * Link: give each module that needs one a new instance and connect its imports, before any user
 * code runs, as Node links a module graph before it evaluates it (ECMA-262 §16.2.1.5.1):
 *
 *   1. instantiate: a new instance per node (the node points at it; the transaction remembers the
 *      one it had, for a rollback);
 *   2. check: every name imported or re-exported resolves to exactly one binding, or the whole
 *      link fails with Node's SyntaxError at the importer's line ("The requested module './dep.js'
 *      does not provide an export named 'helo'"). So do the imports of the modules that keep
 *      their instance but import from one being replaced (they would follow it): a save that
 *      removes an export still imported elsewhere fails here, and the old code keeps serving;
 *   3. start: each ES module's binding scopes are entered and its first step runs (function
 *      declarations hoisted, export getters registered);
 *   4. bind: each import binding is initialised now if what it resolves to is, or when it is.
 */
import { readFileSync } from 'node:fs';
import type { SourceLocation } from '../errors.js';
import { bindImports, subscribersOf, targetOf } from './bindings.js';
import { fileUrlOf } from './file-url.js';
import { ModuleNode } from './graph.js';
import { type BindingTarget, ModuleInstance, compileBody } from './instance.js';
import { laidAlike, scopeCount } from './module-wrapper.js';
import { sourceMapComment } from './inspector-map.js';
import { moduleRuntime } from './module-scope.js';
import { type ModuleRecord, type ResolveContext, requested, resolveExport } from './resolve-export.js';
import type { CodePosition } from './rewrite.js';
import { sourcePosition } from './stack.js';
import type { RunnerState } from './state.js';
import { LoadError, type Transaction } from './transaction.js';
import { SafePromise } from './intrinsics.js';

/** Where a link error points: the importer's file, line and column (see error-payload.ts). */
export const kLinkLocation = Symbol.for('devhot.linkLocation');

/** Link `order` (dependencies first): instantiate, check, start, bind. Throws a LoadError('link'). */
export function linkModules(txn: Transaction, order: ModuleNode[]): void {
  const instances = order.map((node) => instantiate(txn, node));
  // What each import resolves to, found by the check and bound after: resolved once, not twice.
  const targets = instances.map(check);
  for (const instance of keptFollowers(txn, instances)) {
    check(instance);
    txn.rebind.add(instance);
  }
  const cyclic = inCycles(txn, order);
  for (const instance of instances) start(txn, instance, !cyclic.has(instance.node));
  for (let i = 0; i < instances.length; i++) {
    bindImports(instances[i]!, targets[i]);
    instances[i]!.status = 'linked';
  }
}

function instantiate(txn: Transaction, node: ModuleNode): ModuleInstance {
  const version = txn.versionOf(node);
  if (!version) throw new LoadError('link', new Error(`${node.file} was not compiled`), node.file);
  if (!txn.previous.has(node)) txn.previous.set(node, node.instance);
  const instance = new ModuleInstance(node, version, txn.state.hotContextOf);
  instance.id = ++txn.state.instanceIds;
  if (node.instance?.status === 'evaluated' && !node.instance.hasError) instance.previous = node.instance;
  node.instance = instance;
  txn.instances.add(instance);
  return instance;
}

/**
 * Instances that keep running but follow a binding of an instance being replaced, or import a
 * module being replaced: their imports must resolve against the new instances too.
 */
function keptFollowers(txn: Transaction, instances: ModuleInstance[]): Set<ModuleInstance> {
  const kept = new Set<ModuleInstance>();
  const consider = (instance: ModuleInstance | undefined) => {
    if (instance && !txn.instances.has(instance) && instance.node.instance === instance && instance.version.compiled.module)
      kept.add(instance);
  };
  for (const instance of instances) {
    const old = txn.previous.get(instance.node);
    if (old) for (let j = 0; j < old.subscribers.length; j++) for (const binding of subscribersOf(old, j)) consider(binding.owner);
    for (const importer of instance.node.importers) consider(importer.instance);
  }
  return kept;
}

/**
 * InitializeEnvironment's checks: indirect exports, then imports, each must resolve to one
 * binding. Returns what each import resolves to (bindings.ts, `targetOf`).
 */
function check(instance: ModuleInstance): Array<BindingTarget | undefined> {
  const info = instance.version.compiled.module;
  if (!info) return [];
  for (const e of info.indirectExports) {
    if (e.importName !== null) checkName(instance, e.request, e.importName, e.at);
  }
  return info.imports.map((i, k) => (i.name === null ? targetOf(instance, k) : checkName(instance, i.request, i.name, i.at)));
}

function checkName(instance: ModuleInstance, request: number, name: string, at: CodePosition): BindingTarget {
  const dep = requested(instance, request) as ModuleRecord;
  const context: ResolveContext = { cycle: false };
  const resolution = resolveExport(dep, name, context);
  if (resolution !== null && resolution !== 'ambiguous') return resolution;
  const specifier = instance.version.compiled.deps[request]!.specifier;
  // The import's place in the user's source: where the error points, and the line Node's CommonJS message quotes.
  const loc = sourcePosition(instance.version.compiled, at.line, at.column);
  // V8's words, so the message reads as it would under node.
  const message =
    resolution === 'ambiguous'
      ? `The requested module '${specifier}' contains conflicting star exports for name '${name}'`
      : context.cycle
        ? `Detected cycle while resolving name '${name}' in '${specifier}'`
        : dep instanceof ModuleInstance && dep.version.compiled.format === 'cjs' && !process.sourceMapsEnabled
          ? cjsNameMissing(name, specifier, lineAt(loc))
          : `The requested module '${specifier}' does not provide an export named '${name}'`;
  throw new LoadError('link', linkError(message, loc), instance.node.file);
}

/**
 * Node's words for a name its lexer did not find in a CommonJS module (its module_job.js, which
 * keeps V8's when source maps are on, as under `--enable-source-maps` and tsx), with
 * the destructuring it suggests made from the import's line as Node makes it (`{ a as b }` on
 * that line becomes `const { a: b } = pkg;`).
 */
function cjsNameMissing(name: string, specifier: string, line: string): string {
  const named = /{.*}/.exec(line)?.[0].replace(/\s+as\s+/g, ': ');
  return (
    `Named export '${name}' not found. The requested module '${specifier}' is a CommonJS module, which may not support` +
    ' all module.exports as named exports.\nCommonJS modules can always be imported via the default export, for example using:' +
    `\n\nimport pkg from '${specifier}';\n${named ? `const ${named} = pkg;\n` : ''}`
  );
}

/** The line of the user's source at `loc`. */
function lineAt(loc: SourceLocation): string {
  try {
    return readFileSync(loc.file, 'utf8').split(/\r?\n/)[loc.line - 1] ?? '';
  } catch {
    return '';
  }
}

function linkError(message: string, loc: SourceLocation): SyntaxError {
  const error = new SyntaxError(message);
  Object.defineProperty(error, kLinkLocation, { value: loc });
  error.stack = `SyntaxError: ${message}\n    at ${loc.file}:${loc.line}:${loc.column}`;
  return error;
}

/**
 * The modules of `order` in an import cycle among them (a strongly connected component of more
 * than one, or one importing itself; Tarjan's, without recursion). Only those can run before one
 * of their imports is initialised: the modules they import from outside `order` have run
 * already. The others get one binding scope for all their imports (module-wrapper.ts).
 */
function inCycles(txn: Transaction, order: ModuleNode[]): Set<ModuleNode> {
  const linked = new Set(order);
  const depsOf = (node: ModuleNode): ModuleNode[] =>
    (txn.versionOf(node)?.deps ?? []).filter((d): d is ModuleNode => d instanceof ModuleNode && linked.has(d));
  const index = new Map<ModuleNode, number>();
  const low = new Map<ModuleNode, number>();
  const stack: ModuleNode[] = [];
  const onStack = new Set<ModuleNode>();
  const cyclic = new Set<ModuleNode>();
  for (const root of order) {
    if (index.has(root)) continue;
    const frames: Array<{ node: ModuleNode; deps: ModuleNode[]; next: number }> = [];
    const enter = (node: ModuleNode) => {
      index.set(node, index.size);
      low.set(node, index.get(node)!);
      stack.push(node);
      onStack.add(node);
      frames.push({ node, deps: depsOf(node), next: 0 });
    };
    enter(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      const { node } = frame;
      if (frame.next < frame.deps.length) {
        const dep = frame.deps[frame.next++]!;
        if (dep === node) cyclic.add(node);
        if (!index.has(dep)) enter(dep);
        else if (onStack.has(dep)) low.set(node, Math.min(low.get(node)!, index.get(dep)!));
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(node)!));
      if (low.get(node) !== index.get(node)) continue;
      const component: ModuleNode[] = [];
      let member: ModuleNode;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) for (const m of component) cyclic.add(m);
    }
  }
  return cyclic;
}

/**
 * Compile the version (once per version and layout), enter its binding scopes, run its first
 * step. `shared`: its imports may share one binding scope (it is in no cycle of this link).
 */
function start(txn: Transaction, instance: ModuleInstance, shared: boolean): void {
  const { node, version } = instance;
  const { compiled } = version;
  if (compiled.format === 'json') return;
  // A scope per import is right in every case: a body compiled so is kept, one compiled with a
  // shared scope is compiled again once its module is in a cycle (unless both read alike).
  if (version.body && version.sharedScope && !laidAlike(compiled, true, shared)) version.body = undefined;
  if (!version.body) {
    // An ES module by its URL, as Node names ES modules in stack frames and to the debugger
    // (`file:///app/src/x.ts:3:5`); a CommonJS file by its path, as Node names those.
    const name = compiled.format === 'esm' ? fileUrlOf(node.file) : node.file;
    const filename = version.number === 1 ? name : `${name}?v=${version.number}`;
    txn.state.stacks.register(filename, compiled);
    try {
      const { compiler } = txn.state;
      const layout = compiled.format === 'esm' && shared;
      version.body = compileBody(
        version,
        filename,
        sourceMapComment(compiled),
        txn.state.options.nativeLoads,
        (c) => compiler.recache(c),
        layout,
      );
      version.sharedScope = layout;
    } catch (error) {
      throw new LoadError('transform', error, node.file);
    }
  }
  if (compiled.format === 'cjs') {
    instance.cjsFn = version.body;
    return;
  }
  const outer = version.body(moduleRuntime(txn.state, instance)) as Generator<unknown, void>;
  const count = scopeCount(compiled.module?.imports.length ?? 0, version.sharedScope === true);
  instance.scopes = count;
  const levels = new Array<Generator<unknown, void> | undefined>(Math.max(count, 1));
  levels[0] = outer;
  let next = outer.next().value as () => Generator<unknown, void>;
  for (let k = 1; k < count; k++) {
    const level = next();
    levels[k] = level;
    next = level.next().value as () => Generator<unknown, void>;
  }
  instance.levels = levels;
  instance.body = next() as ModuleInstance['body'];
  // Runs the first step: function declarations are hoisted, export getters registered; stops at `yield`.
  const first = instance.body!.next();
  // An async generator awaits before it suspends at `yield`; until then a next() call would only
  // be queued, and the module's evaluation would not start synchronously as ExecuteAsyncModule
  // requires (a sync sibling would run first). Evaluation waits for this (settleLinks).
  if (first instanceof Promise) txn.state.linking.add(first);
}

/** Wait until every instance with top-level await has reached the end of its first step. */
export async function settleLinks(state: RunnerState): Promise<void> {
  while (state.linking.size > 0) {
    const pending = [...state.linking];
    state.linking.clear();
    await SafePromise.all(pending);
  }
}
