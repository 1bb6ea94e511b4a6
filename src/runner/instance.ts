/**
 * One evaluated (or evaluating) version of a module: its generator or CommonJS wrapper, its
 * export getters, its `import.meta.hot`. The namespace importers hold (on the ModuleNode) reads
 * through whichever instance is current.
 */
import vm from 'node:vm';
import { RUNTIME } from './rewrite.js';
import type { HotContext } from './hot.js';
import type { ModuleNode, ModuleVersion } from './graph.js';

export type InstanceStatus = 'linked' | 'evaluating' | 'evaluated' | 'errored';
type Getters = Record<string, () => unknown>;
type ModuleBody = Generator<undefined, void> | AsyncGenerator<undefined, void>;

/** A compiled module: an ES module's generator function, or a CommonJS file's wrapper. */
export type CompiledBody = (this: unknown, ...args: unknown[]) => unknown;

/** What rewritten code sees as `__dh__` (see rewrite.ts for who calls what). */
export interface ModuleRuntime {
  /** Static dependencies' namespaces, by index. */
  d: Array<object>;
  /** Register the export getters (link step). */
  e(getters: Getters): void;
  /** `export * from`: add a dependency's names. */
  s(ns: Record<string, unknown>): void;
  /** `import.meta` */
  m: object;
  /** `import()` */
  i(specifier: unknown, options?: unknown): Promise<unknown>;
}

export class ModuleInstance {
  status: InstanceStatus = 'linked';
  getters: Getters | undefined;
  error: unknown;
  /** Set while an asynchronous evaluation (top-level await) is under way. */
  pending: Promise<void> | undefined;
  /** On the current evaluation path: a dependency cycle back here must not wait for it. */
  onStack = false;
  body: ModuleBody | undefined;
  /**
   * The instance this one replaces, only while this one has not finished evaluating: code of
   * the previous version that runs meanwhile (a request handler, while this module awaits at its
   * top level) reads the old values of bindings this one has not initialised yet, instead of
   * hitting their TDZ. Cleared as soon as evaluation ends, so no chain of versions is kept.
   */
  previous: ModuleInstance | undefined;
  /** A CommonJS file's compiled wrapper, called when the instance evaluates. */
  cjsFn: CompiledBody | undefined;
  cjsModule: { exports: unknown; [key: string]: unknown } | undefined;
  /** Namespaces this instance re-exports with `export * from`, in source order. */
  readonly stars: Array<Record<string, unknown>> = [];

  constructor(
    readonly node: ModuleNode,
    readonly version: ModuleVersion,
    readonly hot: HotContext,
  ) {}
}

/** Compile a module's code into a function. `lineOffset` keeps reported lines = code lines. */
export function compileBody(version: ModuleVersion, filename: string, sourceMapComment: string): CompiledBody {
  const { compiled } = version;
  let header: string;
  if (compiled.format === 'esm') {
    header = `(${compiled.async ? 'async ' : ''}function* (${RUNTIME}) {"use strict";`;
  } else {
    header = `(function (exports, require, module, __filename, __dirname, ${RUNTIME}) {`;
  }
  // compileFunction, not vm.Script: V8 keeps every vm.Script source in its compilation cache
  // (measured: +7 MB per 1000 updates), and a function body is not cached that way (+0.1 MB).
  // The `return` sits on the header line, which `lineOffset` hides, so code lines keep their numbers.
  const outer = vm.compileFunction(`return ${header}\n${compiled.code}\n})${sourceMapComment}`, [], {
    filename,
    lineOffset: -1,
  });
  return outer() as CompiledBody;
}

/** Make `node.namespace` show exactly the names of its current instance. */
export function syncNamespace(node: ModuleNode, seen = new Set<ModuleNode>()): void {
  if (seen.has(node)) return;
  seen.add(node);
  const ns = node.namespace;
  const instance = node.instance;
  const names = new Set(instance?.getters ? Object.keys(instance.getters) : []);
  // `export *` names are read from the re-exported namespaces now, not copied at link time:
  // in a cycle they may not be linked yet, and an accepted update may add names.
  for (const star of instance?.stars ?? []) for (const key of Object.keys(star)) if (key !== 'default') names.add(key);
  let changed = false;
  for (const key of Object.keys(ns)) {
    if (!names.has(key)) {
      delete ns[key];
      changed = true;
    }
  }
  for (const key of names) {
    if (Object.hasOwn(ns, key)) continue;
    changed = true;
    Object.defineProperty(ns, key, {
      enumerable: true,
      configurable: true,
      get() {
        const instance = node.instance;
        const get = instance?.getters?.[key] ?? starGetter(instance, key);
        const previous = instance?.previous;
        if (!get) {
          if (previous) return readExport(previous, key);
          throw new ReferenceError(`Cannot access '${key}' before initialization`);
        }
        if (!previous) return get();
        try {
          return get();
        } catch (error) {
          // In its TDZ while the new version is still evaluating: the old value still stands.
          if (error instanceof ReferenceError) return readExport(previous, key);
          throw error;
        }
      },
    });
  }
  if (!changed) return;
  for (const importer of node.starImporters) {
    if (importer.instance?.stars.includes(ns)) syncNamespace(importer, seen);
    else node.starImporters.delete(importer); // replaced by a version without the `export *`, or pruned
  }
}

function readExport(instance: ModuleInstance, key: string): unknown {
  const get = instance.getters?.[key] ?? starGetter(instance, key);
  if (!get) throw new ReferenceError(`Cannot access '${key}' before initialization`);
  return get();
}

function starGetter(instance: ModuleInstance | undefined, key: string): (() => unknown) | undefined {
  if (!instance || key === 'default') return undefined;
  for (const star of instance.stars) if (key in star) return () => star[key];
  return undefined;
}

export function setGetters(instance: ModuleInstance, getters: Getters): void {
  instance.getters = Object.assign(instance.getters ?? Object.create(null), getters);
  if (instance.node.instance === instance) syncNamespace(instance.node);
}

/**
 * `export * from`: local names and earlier stars win; `default` is never re-exported. `from` is
 * the re-exported user module (undefined for a native one, whose names never change): when its
 * names change, this module's namespace is synced again.
 */
export function addStarExports(instance: ModuleInstance, ns: Record<string, unknown>, from: ModuleNode | undefined): void {
  instance.stars.push(ns);
  from?.starImporters.add(instance.node);
  if (instance.node.instance === instance) syncNamespace(instance.node);
}

/** Export getters of a CommonJS module as ESM importers see it: `default` plus its own keys. */
export function cjsGetters(module: { exports: unknown }): Getters {
  const getters: Getters = Object.create(null);
  getters.default = () => module.exports;
  const exp = module.exports;
  if (exp && (typeof exp === 'object' || typeof exp === 'function')) {
    for (const key of Object.keys(exp)) {
      if (key !== 'default') getters[key] = () => (module.exports as Record<string, unknown>)[key];
    }
  }
  return getters;
}
