/**
 * Loading user modules as a transaction: discover (compile + resolve, concurrently), link
 * (create instances and bind imports/exports), evaluate (dependencies first, in import order),
 * then commit the new versions to the graph, or roll back to the previous instances so the last
 * good code keeps running.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DevhotError, ErrorCodes } from '../errors.js';
import type { CompiledModule, Compiler } from './compile.js';
import { ModuleNode, addRuntimeEdge, relink, type ModuleVersion } from './graph.js';
import { HotContext, type HotHost } from './hot.js';
import {
  ModuleInstance,
  addStarExports,
  cjsGetters,
  compileBody,
  setGetters,
  syncNamespace,
  type ModuleRuntime,
} from './instance.js';
import type { Resolver, ResolveResult } from './resolve.js';
import { registerScript, unregisterFile } from './stack.js';
import { sourceMapComment } from './inspector-map.js';

import type { FailurePhase } from '../shared/results.js';

export type { FailurePhase };

/** An error with the phase it happened in, so the update result can say what failed. */
export class LoadError extends Error {
  constructor(
    readonly phase: FailurePhase,
    readonly error: unknown,
    readonly file: string | undefined,
  ) {
    super(error instanceof Error ? error.message : String(error));
  }
}

export interface LoaderHost {
  readonly root: string;
  readonly entryFile: string;
  readonly compiler: Compiler;
  readonly resolver: Resolver;
  readonly nodes: Map<string, ModuleNode>;
  /** A hot host for a module (invalidate/send/listeners are the runner's business). */
  hotHost(node: ModuleNode): HotHost;
}

/** Namespaces of Node built-ins and node_modules packages, loaded once by Node itself. */
const nativeCache = new Map<string, object>();

export class Transaction {
  /** New compiled versions, not yet committed. */
  readonly staged = new Map<ModuleNode, ModuleVersion>();
  /** Nodes this transaction added to the graph. */
  readonly created = new Set<ModuleNode>();
  /** Nodes that get a new instance, with the instance they had before. */
  readonly previous = new Map<ModuleNode, ModuleInstance | undefined>();
  /** Modules that called `import.meta.hot.invalidate()` while this transaction ran. */
  readonly invalidated = new Map<ModuleNode, string | undefined>();
  private readonly discovering = new Map<ModuleNode, Promise<void>>();

  constructor(
    private readonly host: LoaderHost,
    /** Nodes that must be re-instantiated even though their code may not have changed. */
    readonly reexecute: Set<ModuleNode>,
  ) {}

  node(file: string): ModuleNode {
    let node = this.host.nodes.get(file);
    if (!node) {
      node = new ModuleNode(file);
      this.host.nodes.set(file, node);
      this.created.add(node);
    }
    return node;
  }

  versionOf(node: ModuleNode): ModuleVersion | undefined {
    return this.staged.get(node) ?? node.version;
  }

  needsInstance(node: ModuleNode): boolean {
    return this.reexecute.has(node) || !node.instance || node.instance.status === 'errored';
  }

  // ---------------------------------------------------------------------------------- discover

  /**
   * Compile `nodes` from disk (when `force`, or never compiled) and everything new they import,
   * concurrently. A work list rather than nested awaits, so import cycles cannot deadlock it.
   */
  async discover(nodes: Iterable<ModuleNode>, force: boolean): Promise<void> {
    const inflight = new Set<Promise<void>>();
    const start = (node: ModuleNode, forced: boolean): void => {
      if (this.discovering.has(node)) return;
      if (!forced && (node.version || this.staged.has(node))) return;
      const task = this.discoverOne(node).then((deps) => {
        for (const dep of deps) if (dep instanceof ModuleNode) start(dep, false);
      });
      this.discovering.set(node, task);
      inflight.add(task);
      task.then(() => inflight.delete(task), () => {});
    };
    for (const node of nodes) start(node, force);
    while (inflight.size > 0) await Promise.all(inflight);
  }

  private async discoverOne(node: ModuleNode): Promise<Array<ModuleNode | object>> {
    let compiled: CompiledModule;
    let source: string;
    try {
      source = await readSettled(node);
      compiled = await this.host.compiler.compile(node.file, source);
    } catch (error) {
      throw new LoadError('transform', error, node.file);
    }
    const deps = await Promise.all(compiled.deps.map((dep) => this.linkDependency(node, dep.specifier, dep.attributes)));
    this.stage(node, compiled, deps, source.length === 0);
    return deps;
  }

  private stage(node: ModuleNode, compiled: CompiledModule, deps: Array<ModuleNode | object>, emptySource: boolean): void {
    this.staged.set(node, { compiled, deps, number: node.versions + 1, emptySource });
    this.reexecute.add(node);
  }

  private async linkDependency(
    node: ModuleNode,
    specifier: string,
    attributes: Record<string, string> | undefined,
  ): Promise<ModuleNode | object> {
    let resolved: ResolveResult;
    try {
      resolved = this.host.resolver.resolve(specifier, node.file, 'import');
    } catch (error) {
      throw new LoadError('link', error, node.file);
    }
    if (resolved.kind === 'user') return this.node(resolved.file);
    const id = resolved.kind === 'builtin' ? resolved.id : resolved.url;
    try {
      return await importNative(id, attributes);
    } catch (error) {
      throw new LoadError('link', error, node.file);
    }
  }

  /** The synchronous twin of discover(), for require() of a user file. */
  discoverSync(node: ModuleNode): void {
    if (node.version || this.staged.has(node)) return;
    let compiled: CompiledModule;
    let source: string;
    try {
      source = readSource(node.file);
      compiled = this.host.compiler.compileSync(node.file, source);
    } catch (error) {
      throw new LoadError('transform', error, node.file);
    }
    const require = createRequire(node.file);
    const deps = compiled.deps.map((dep) => {
      let resolved: ResolveResult;
      try {
        resolved = this.host.resolver.resolve(dep.specifier, node.file, 'require');
      } catch (error) {
        throw new LoadError('link', error, node.file);
      }
      if (resolved.kind === 'user') return this.node(resolved.file);
      const id = resolved.kind === 'builtin' ? resolved.id : resolved.url;
      const cached = nativeCache.get(id);
      if (cached) return cached;
      // Node ≥ 20.19 can require() ES modules too; its namespace is what an import would give.
      const exports = require(dep.specifier);
      return isNamespace(exports) ? exports : cjsNamespace(exports);
    });
    this.stage(node, compiled, deps, source.length === 0);
    for (const dep of deps) if (dep instanceof ModuleNode) this.discoverSync(dep);
  }

  // ------------------------------------------------------------------------------ link/evaluate

  /** Nodes needing a new instance, dependencies before importers (import order). */
  evaluationOrder(roots: Iterable<ModuleNode>): ModuleNode[] {
    const list = [...roots];
    // Only nodes from which a node needing an instance can be reached are worth descending
    // into; found by walking importers up, so an entry re-execution does not visit the whole graph.
    const relevant = new Set<ModuleNode>();
    const up = (node: ModuleNode): void => {
      if (relevant.has(node)) return;
      relevant.add(node);
      for (const importer of node.importers) up(importer);
    };
    for (const node of list) if (this.needsInstance(node)) up(node);
    for (const node of this.staged.keys()) up(node);
    for (const node of this.created) up(node);
    const order: ModuleNode[] = [];
    const seen = new Set<ModuleNode>();
    const visit = (node: ModuleNode): void => {
      if (seen.has(node)) return;
      seen.add(node);
      for (const dep of this.versionOf(node)?.deps ?? []) {
        // New deps of a staged version have no importer edges yet: always descend into those.
        if (dep instanceof ModuleNode && (relevant.has(dep) || !dep.version)) visit(dep);
      }
      if (this.needsInstance(node)) order.push(node);
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
  async linkAndEvaluate(order: ModuleNode[]): Promise<void> {
    this.link(order);
    for (let i = order.length - 1; i >= 0; i--) {
      const waiting = this.evaluate(order[i]!);
      if (waiting) await waiting;
    }
  }

  /** Create the new instances and bind imports/exports (no user code runs here). */
  link(order: ModuleNode[]): void {
    for (const node of order) this.instantiate(node);
  }

  private instantiate(node: ModuleNode): ModuleInstance {
    const version = this.versionOf(node);
    if (!version) throw new LoadError('link', new Error(`${node.file} was not compiled`), node.file);
    if (!this.previous.has(node)) this.previous.set(node, node.instance);
    const hot = new HotContext(node.hotData, this.host.hotHost(node));
    const instance = new ModuleInstance(node, version, hot);
    if (node.instance?.status === 'evaluated') instance.previous = node.instance;
    node.instance = instance;
    syncNamespace(node);
    const { compiled } = version;
    if (compiled.format === 'json') return instance;
    const filename = version.number === 1 ? node.file : `${node.file}?v=${version.number}`;
    let fn: Function;
    if (version.body) {
      fn = version.body;
    } else {
      registerScript(filename, compiled);
      try {
        fn = version.body = compileBody(version, filename, sourceMapComment(compiled));
      } catch (error) {
        throw new LoadError('transform', error, node.file);
      }
    }
    if (compiled.format === 'esm') {
      instance.body = fn(this.runtime(instance));
      // Runs the prelude: binds imports, registers export getters, stops at `yield`.
      void instance.body!.next();
    } else {
      instance.body = undefined;
      (instance as { cjsFn?: Function }).cjsFn = fn;
    }
    return instance;
  }

  private runtime(instance: ModuleInstance): ModuleRuntime {
    const node = instance.node;
    // No closure here may mention `this`: V8 gives all closures of a call one shared context, so
    // one `this` would let every instance retain its transaction, whose `previous` map holds the
    // instance before it, and so on: every version of the module stayed alive (a leak per save).
    const host = this.host;
    return {
      d: instance.version.deps.map((dep) => (dep instanceof ModuleNode ? dep.namespace : dep)),
      e: (getters) => setGetters(instance, getters),
      s: (ns) => addStarExports(instance, ns),
      m: this.importMeta(node, instance),
      i: (specifier) => dynamicImport(host, node, String(specifier)),
    };
  }

  private importMeta(node: ModuleNode, instance: ModuleInstance): object {
    const host = this.host;
    return {
      url: pathToFileURL(node.file).href,
      filename: node.file,
      dirname: dirname(node.file),
      main: node.file === host.entryFile,
      hot: instance.hot,
      resolve(specifier: string): string {
        const r = host.resolver.resolve(specifier, node.file, 'import');
        return r.kind === 'user' ? pathToFileURL(r.file).href : r.kind === 'builtin' ? r.id : r.url;
      },
    };
  }

  /** Evaluate a node's instance after its dependencies. Returns a promise only when it must wait. */
  evaluate(node: ModuleNode): Promise<void> | undefined {
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
          if (this.needsInstance(dep) && !this.previous.has(dep)) this.instantiate(dep);
          const waiting = this.evaluate(dep);
          if (waiting) {
            i++;
            return waiting.then(next, fail);
          }
        }
        const done = this.run(instance);
        if (done) return done.then(() => this.finish(instance), fail);
        this.finish(instance);
        return undefined;
      } catch (error) {
        return fail(error);
      }
    };
    const result = next();
    if (result) instance.pending = result;
    return result;
  }

  private finish(instance: ModuleInstance): void {
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
  private run(instance: ModuleInstance): Promise<void> | undefined {
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
    const require = this.requireFor(node);
    const fn = (instance as { cjsFn?: Function }).cjsFn!;
    const host = this.host; // not `this` in a closure: see runtime()
    fn.call(module.exports, module.exports, require, module, node.file, dirname(node.file), {
      m: this.importMeta(node, instance),
      i: (specifier: unknown) => dynamicImport(host, node, String(specifier)),
    });
    return undefined;
  }

  /** `require` inside a CommonJS user file: user files through devhot, the rest through Node. */
  private requireFor(node: ModuleNode): NodeJS.Require {
    const native = createRequire(node.file);
    const host = this.host;
    const require = ((specifier: string) => {
      const resolved = host.resolver.resolve(specifier, node.file, 'require');
      if (resolved.kind !== 'user') return native(specifier);
      return requireUser(host, node, resolved.file);
    }) as NodeJS.Require;
    require.resolve = ((specifier: string) => {
      const resolved = host.resolver.resolve(specifier, node.file, 'require');
      return resolved.kind === 'user' ? resolved.file : native.resolve(specifier);
    }) as NodeJS.RequireResolve;
    require.resolve.paths = native.resolve.paths;
    require.cache = native.cache;
    require.main = native.main;
    require.extensions = native.extensions;
    return require;
  }

  // ------------------------------------------------------------------------- commit / rollback

  /** Make the staged versions current and return the modules no longer imported by anyone. */
  commit(): ModuleNode[] {
    const orphans: ModuleNode[] = [];
    for (const [node, version] of this.staged) {
      node.version = version;
      node.versions = version.number;
      const dropped = relink(node, version.deps.filter((d): d is ModuleNode => d instanceof ModuleNode));
      orphans.push(...dropped);
    }
    for (const [node, old] of this.previous) {
      if (old && old !== node.instance) old.hot.detach();
    }
    return orphans;
  }

  /** Put every node back on the instance it had, and drop what this transaction added. */
  async rollback(): Promise<void> {
    const discarded: ModuleInstance[] = [];
    for (const [node, old] of this.previous) {
      if (node.instance && node.instance !== old) discarded.push(node.instance);
      node.instance = old;
      syncNamespace(node);
    }
    for (const node of this.created) {
      if (!node.version) {
        this.host.nodes.delete(node.file);
        unregisterFile(node.file);
      }
    }
    // The new instances may have started timers or servers before the failure: let them clean up.
    for (const instance of discarded) {
      await instance.hot.runDisposers();
      instance.hot.detach();
    }
  }
}

function readSource(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DevhotError(
      ErrorCodes.RESOLVE,
      code === 'ENOENT' ? `${file} does not exist (deleted or renamed?)` : `Cannot read ${file}: ${(error as Error).message}`,
      { fix: 'Restore the file, or remove the imports of it.', cause: error },
    );
  }
}

/** How long a file that went empty may take to get its content back (an editor mid-save). */
const EMPTY_WAIT_MS = 100;

/**
 * Editors and shells save by truncating, then writing. A module that had code and reads empty
 * is most likely caught between the two (the watcher waits for that too, but this process reads
 * the file later, and the next save may be truncating it right then), so wait briefly for the
 * content rather than run an empty module. A file that stays empty is taken as it is.
 */
async function readSettled(node: ModuleNode): Promise<string> {
  let source = readSource(node.file);
  if (source.length > 0 || !node.version || node.version.emptySource) return source;
  const deadline = Date.now() + EMPTY_WAIT_MS;
  while (source.length === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    source = readSource(node.file);
  }
  return source;
}

async function importNative(id: string, attributes: Record<string, string> | undefined): Promise<object> {
  const cached = nativeCache.get(id);
  if (cached) return cached;
  const ns = (await (attributes ? import(id, { with: attributes }) : import(id))) as object;
  nativeCache.set(id, ns);
  return ns;
}

function isNamespace(value: unknown): boolean {
  return !!value && typeof value === 'object' && (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Module';
}

function cjsNamespace(exports: unknown): object {
  const ns: Record<string, unknown> = Object.create(null);
  if (exports && (typeof exports === 'object' || typeof exports === 'function')) {
    for (const key of Object.keys(exports)) ns[key] = (exports as Record<string, unknown>)[key];
  }
  ns.default = exports;
  return ns;
}

/** What `require(userFile)` returns: module.exports for CommonJS, the namespace for ESM. */
function exportsOf(node: ModuleNode): unknown {
  const instance = node.instance!;
  if (instance.cjsModule) return instance.cjsModule.exports;
  if (instance.version.compiled.format === 'json') return node.namespace.default;
  return node.namespace;
}

/** The transaction a module body runs in, so run-time loads join it (and roll back with it). */
let activeTransaction: Transaction | undefined;
export function setActiveTransaction(txn: Transaction | undefined): void {
  activeTransaction = txn;
}

function requireUser(host: LoaderHost, from: ModuleNode, file: string): unknown {
  const inUpdate = activeTransaction;
  const txn = inUpdate ?? new Transaction(host, new Set());
  const node = txn.node(file);
  addRuntimeEdge(from, node);
  const status = node.instance?.status;
  if (status === 'evaluated' || status === 'evaluating') return exportsOf(node);
  try {
    txn.discoverSync(node);
    const order = txn.evaluationOrder([node]);
    txn.link(order);
    // One depth-first walk from the required module, as Node does (see linkAndEvaluate on cycles).
    if (txn.evaluate(node)) {
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

async function dynamicImport(host: LoaderHost, from: ModuleNode, specifier: string): Promise<unknown> {
  const resolved = host.resolver.resolve(specifier, from.file, 'import');
  if (resolved.kind !== 'user') return importNative(resolved.kind === 'builtin' ? resolved.id : resolved.url, undefined);
  const inUpdate = activeTransaction;
  const txn = inUpdate ?? new Transaction(host, new Set());
  const node = txn.node(resolved.file);
  addRuntimeEdge(from, node);
  try {
    if (!node.version && !txn.staged.has(node)) await txn.discover([node], true);
    const order = txn.evaluationOrder([node]);
    txn.link(order);
    // One depth-first walk from the imported module, as Node does (see linkAndEvaluate on cycles).
    await txn.evaluate(node);
    if (!inUpdate) txn.commit();
  } catch (error) {
    if (!inUpdate) await txn.rollback();
    throw error instanceof LoadError ? error.error : error;
  }
  return node.namespace;
}
