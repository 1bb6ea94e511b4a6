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
  cjsModule: { exports: unknown; [key: string]: unknown } | undefined;

  constructor(
    readonly node: ModuleNode,
    readonly version: ModuleVersion,
    readonly hot: HotContext,
  ) {}
}

/** Compile a module's code into a function. `lineOffset` keeps reported lines = code lines. */
export function compileBody(version: ModuleVersion, filename: string, sourceMapComment: string): Function {
  const { compiled } = version;
  let header: string;
  if (compiled.format === 'esm') {
    header = `(${compiled.async ? 'async ' : ''}function* (${RUNTIME}) {"use strict";`;
  } else {
    header = `(function (exports, require, module, __filename, __dirname, ${RUNTIME}) {`;
  }
  const script = new vm.Script(`${header}\n${compiled.code}\n})${sourceMapComment}`, {
    filename,
    lineOffset: -1,
  });
  return script.runInThisContext() as Function;
}

/** Make `node.namespace` show exactly the names of its current instance. */
export function syncNamespace(node: ModuleNode): void {
  const ns = node.namespace;
  const getters = node.instance?.getters;
  for (const key of Object.keys(ns)) {
    if (!getters || !(key in getters)) delete ns[key];
  }
  if (!getters) return;
  for (const key of Object.keys(getters)) {
    if (Object.prototype.hasOwnProperty.call(ns, key)) continue;
    Object.defineProperty(ns, key, {
      enumerable: true,
      configurable: true,
      get() {
        const get = node.instance?.getters?.[key];
        if (!get) throw new ReferenceError(`Cannot access '${key}' before initialization`);
        return get();
      },
    });
  }
}

export function setGetters(instance: ModuleInstance, getters: Getters): void {
  instance.getters = Object.assign(instance.getters ?? Object.create(null), getters);
  if (instance.node.instance === instance) syncNamespace(instance.node);
}

export function addStarExports(instance: ModuleInstance, ns: Record<string, unknown>): void {
  const getters: Getters = instance.getters ?? Object.create(null);
  for (const key of Object.keys(ns)) {
    // Local names and earlier stars win; `default` is never re-exported by `export *`.
    if (key === 'default' || key in getters) continue;
    getters[key] = () => ns[key];
  }
  setGetters(instance, getters);
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
