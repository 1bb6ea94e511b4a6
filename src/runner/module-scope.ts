/**
 * What a module body sees of devhot: the runtime object rewritten code calls (`__dh__`, see
 * rewrite.ts and `ModuleRuntime` in instance.ts), `import.meta`, and for CommonJS files
 * `require`.
 *
 * No closure made here may capture a transaction: an instance lives as long as its module is
 * loaded, and a transaction's `previous` map holds the instance before it, and so on, so one
 * captured transaction keeps every earlier version of the module alive (a leak per save).
 * Closures capture the runner's state, the node and the instance only.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { DevhotError, ErrorCodes } from '../errors.js';
import { changedLocals, initializedLocal, registerSetter, currentValue } from './bindings.js';
import type { ModuleNode } from './graph.js';
import type { ModuleInstance, ModuleRuntime } from './instance.js';
import { dynamicImport, requireUser } from './load.js';
import { noticeNative } from './native.js';
import { fileUrlOf } from './file-url.js';
import { isRelative } from './resolve.js';
import { moduleNotFound } from './node-errors.js';
import type { RunnerState } from './state.js';

/** `__dh__.k`: the target of an assignment to an imported binding, which Node refuses. */
const CONST_ASSIGNMENT = new Proxy(Object.freeze(Object.create(null)) as object, {
  set() {
    throw new TypeError('Assignment to constant variable.');
  },
  get() {
    return undefined;
  },
});

/** `__dh__.g`: `arguments` at a module's top level is a global lookup, as in Node. */
const GLOBAL_ARGUMENTS = Object.freeze(
  Object.create(null, {
    arguments: {
      get() {
        if ('arguments' in globalThis) return (globalThis as { arguments?: unknown }).arguments;
        throw new ReferenceError('arguments is not defined');
      },
    },
  }) as object,
);

/**
 * The `__dh__` object a module's body is called with. Its methods live on the prototype and
 * `import.meta` is made the first time the module reads it (as V8 asks Node for it only then):
 * at 3,000 modules, one object per module instead of seven closures and an `import.meta` with its
 * own `resolve` cut the heap after a start by ~3 MB (Node 20, the runner bench's project).
 */
class Runtime implements ModuleRuntime {
  #meta: object | undefined;

  constructor(
    private readonly state: RunnerState,
    private readonly instance: ModuleInstance,
  ) {}

  e(getter: (j: number) => unknown): void {
    const { instance } = this;
    instance.getter = getter;
    instance.version.compiled.module!.locals.forEach((local, j) => {
      if (local.hoisted) initializedLocal(instance, j);
    });
  }

  n(j: number): void {
    initializedLocal(this.instance, j);
  }

  u(j: number, value?: unknown): unknown {
    changedLocals(this.instance, j);
    return value;
  }

  v(k: number): unknown {
    return currentValue(this.instance.bindings[k]!.target!);
  }

  w(k: number, setter: (value: unknown) => void): void {
    registerSetter(this.instance, k, setter);
  }

  get k(): object {
    return CONST_ASSIGNMENT;
  }

  get g(): object {
    return GLOBAL_ARGUMENTS;
  }

  get m(): object {
    this.#meta ??= importMeta(this.state, this.instance.node, this.instance);
    return this.#meta;
  }

  i(specifier: unknown, options?: unknown): Promise<unknown> {
    return dynamicImport(this.state, this.instance, specifier, options);
  }
}

/** The `__dh__` object an ES module's body is called with. */
export function moduleRuntime(state: RunnerState, instance: ModuleInstance): ModuleRuntime {
  return new Runtime(state, instance);
}

/** What a CommonJS file's wrapper is called with besides Node's five arguments. */
export function cjsScope(
  state: RunnerState,
  instance: ModuleInstance,
): { require: NodeJS.Require; runtime: Pick<ModuleRuntime, 'm' | 'i'> } {
  return { require: requireFor(state, instance.node), runtime: new Runtime(state, instance) };
}

/** Whether this Node gives ES modules `import.meta.main` (22.18 and 24.2 on; not 20): devhot's own module tells. */
const NODE_HAS_MAIN = 'main' in import.meta;

/**
 * `import.meta`: an object with a null prototype, as Node's is, with Node's properties in Node's
 * order (alphabetical: lib/internal/modules/esm/initialize_import_meta.js), `main` only where
 * Node has it, then devhot's `hot`. Code that lists or spreads it sees what it sees under node.
 */
function importMeta(state: RunnerState, node: ModuleNode, instance: ModuleInstance): object {
  const meta = Object.create(null) as Record<string, unknown>;
  meta.dirname = dirname(node.file);
  meta.filename = node.file;
  if (NODE_HAS_MAIN) meta.main = node.file === state.options.entry;
  meta.resolve = function resolve(specifier: string): string {
    let r: ReturnType<RunnerState['resolver']['resolve']>;
    try {
      r = state.resolver.resolve(specifier, node.file, 'import');
    } catch (error) {
      if (!(error instanceof DevhotError) || error.code !== ErrorCodes.RESOLVE) throw error;
      // As Node's: a path gives the URL it names even with no file there; a package that is not
      // there throws ERR_MODULE_NOT_FOUND.
      if (isRelative(specifier) || specifier.startsWith('/') || specifier.startsWith('file:'))
        return new URL(specifier, meta.url as string).href;
      throw moduleNotFound(specifier, node.file);
    }
    return r.kind === 'user' ? fileUrlOf(r.file) : r.kind === 'builtin' ? r.id : r.url;
  };
  // The URL the module's script is named by (link.ts), so frames and import.meta.url agree.
  meta.url = fileUrlOf(node.file);
  meta.hot = instance.hot;
  return meta;
}

/** `require` inside a CommonJS user file: user files through devhot, the rest through Node. */
function requireFor(state: RunnerState, node: ModuleNode): NodeJS.Require {
  const native = createRequire(node.file);
  const require = ((specifier: string) => {
    const resolved = state.resolver.resolve(specifier, node.file, 'require');
    if (resolved.kind !== 'user') return noticeNative(specifier, native(specifier) as unknown);
    return requireUser(state, node, resolved.file);
  }) as NodeJS.Require;
  require.resolve = ((specifier: string) => {
    const resolved = state.resolver.resolve(specifier, node.file, 'require');
    return resolved.kind === 'user' ? resolved.file : native.resolve(specifier);
  }) as NodeJS.RequireResolve;
  require.resolve.paths = native.resolve.paths;
  // In Node's order: resolve, main, extensions, cache. `main` is the entry's module when it is
  // CommonJS (set when it starts), undefined for an ES module entry: what node gives.
  Object.defineProperty(require, 'main', { get: () => state.mainModule, enumerable: true, configurable: true });
  require.extensions = native.extensions;
  require.cache = native.cache;
  return require;
}
