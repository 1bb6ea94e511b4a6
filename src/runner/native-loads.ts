/**
 * Loads of the project's files that devhot did not compile: a package that imports or requires
 * them itself (@fastify/autoload and every plugin or route loader: Node's `import()` or
 * `require()` with a path or URL of a user `.ts` file), `import()` inside `eval`, and
 * `require.resolve` / `import.meta.resolve` / `createRequire` aimed at user files.
 *
 * Node's loaders hand them to the runner: `import()` through Node's in-thread module hooks where
 * Node has them (native-hooks.ts), else through hooks on Node's loader thread
 * (src/hooks/esm-hooks.ts, answered here over a MessagePort); `require()` through
 * `Module._extensions` and `Module._resolveFilename`. Either way the module is the runner's
 * instance, never evaluated twice, and part of its graph: a run-time import of the entry, so a
 * save of it re-runs the entry (which in practice calls the loader again) and the loader gets the
 * new version.
 *
 * Node's loaders are one per process: the hooks are installed once, and route each file to the
 * runner whose project holds it (runners register themselves while they run).
 */
import Module, { createRequire, register, syncBuiltinESMExports } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HooksData, HooksReply, HooksRequest } from '../hooks/protocol.js';
import { CHILD_ENV, type ChildConfig, RUNNER_KEY } from '../hooks/protocol.js';
import { currentValue } from './bindings.js';
import { evaluateModule } from './evaluate.js';
import { addRuntimeEdge, type ModuleNode } from './graph.js';
import { loadForNative, requireForNative } from './load.js';
import { hasInThreadHooks, registerInThreadHooks } from './native-hooks.js';
import { settleLinks } from './link.js';
import { namespaceNames, resolveExport } from './resolve-export.js';
import { ownWorker } from './resource-tracking.js';
import type { RunnerState } from './state.js';

interface Registry {
  runners: Set<RunnerState>;
  /** Called by a proxy module: evaluate the runner's instance of `file`, and give its exports. */
  evaluate(file: string): Promise<Record<string, unknown>>;
}

type ModuleInternals = typeof Module & {
  _extensions: Record<string, (module: NodeModule, filename: string) => void>;
  _resolveFilename(request: string, parent: NodeModule | undefined, isMain: boolean, options?: unknown): string;
  _cache: Record<string, NodeModule | undefined>;
};

const HOOKS = new URL('../hooks/esm-hooks.js', import.meta.url);
const CHILD_REGISTER = new URL('../hooks/child-register.js', import.meta.url);
/** TypeScript and JSX: Node 20 does not know them (Node 24 strips types itself, which would load a second copy). */
const REQUIRE_EXTENSIONS = ['.ts', '.tsx', '.mts', '.cts', '.jsx'];
/** Node's own: wrapped when Node has a handler for them (it runs .cjs through '.js'). */
const NODE_EXTENSIONS = ['.js', '.cjs', '.mjs'];

/** Let Node's loaders load this runner's files through it; returns the function that stops it. */
export function installNativeLoads(state: RunnerState): () => void {
  const registry = installOnce();
  registry.runners.add(state);
  prepareChildren(state);
  return () => registry.runners.delete(state);
}

function installOnce(): Registry {
  const global = globalThis as unknown as Record<symbol, Registry | undefined>;
  const key = Symbol.for(RUNNER_KEY);
  const existing = global[key];
  if (existing) return existing;
  const registry: Registry = {
    runners: new Set(),
    evaluate: async (file) => {
      const state = runnerOf(registry, file);
      if (!state) throw new Error(`devhot: no runner loads ${file}`);
      return evaluateForNative(state, file);
    },
  };
  global[key] = registry;
  patchRequire(registry);
  // Loaders that ask whether this process can load TypeScript before they import a .ts file:
  // @fastify/autoload reads its env variable, or recognises tsx and ts-node by their preload
  // modules, or Node's own type stripping (not on Node 20). Here the answer is yes. (Children
  // inherit it, and run TypeScript too: child-register.)
  process.env.FASTIFY_AUTOLOAD_TYPESCRIPT ??= '1';
  if (hasInThreadHooks()) {
    registerInThreadHooks({
      runnerOf: (file) => runnerOf(registry, file),
      userFileFor: (specifier, parent) => userFileFor(registry, specifier, parent, 'import'),
      proxied,
    });
    return registry;
  }
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (request: HooksRequest) => {
    void answer(registry, request).then((reply) => port1.postMessage(reply));
  });
  // Unreferenced: a pending import() keeps the process alive by itself (Node's loader holds its
  // own port to the hooks thread meanwhile), and an app whose work is done may end, as under node.
  port1.unref();
  const data: HooksData = { mode: 'proxy', rootPrefix: sep, port: port2 };
  register(HOOKS, { data, transferList: [port2] } as Parameters<typeof register>[1]);
  return registry;
}

function runnerOf(registry: Registry, file: string): RunnerState | undefined {
  for (const state of registry.runners) if (file.startsWith(state.root + sep) && !file.includes(`${sep}node_modules${sep}`)) return state;
  return undefined;
}

/**
 * Where Node's resolver failed from a project file: devhot's resolution (what TypeScript users
 * write: `./a.js` for a.ts, no extension, tsconfig paths), if it finds a user file.
 */
function userFileFor(registry: Registry, specifier: string, parent: string | undefined, kind: 'import' | 'require'): string | undefined {
  const state = parent ? runnerOf(registry, parent) : undefined;
  if (!state || !parent) return undefined;
  try {
    const resolved = state.resolver.resolve(specifier, parent, kind);
    return resolved.kind === 'user' ? resolved.file : undefined;
  } catch {
    return undefined; // devhot's resolver does not find it either: Node's error says it best
  }
}

/**
 * `node`, loaded for Node's loader, as its proxy module needs it: a run-time import of the entry
 * (a save of it re-runs the entry), its instance, and its export names (for a CommonJS module,
 * call this once it has run).
 */
function proxied(state: RunnerState, node: ModuleNode): { instance: number; names: string[] } {
  if (state.entry && node !== state.entry) addRuntimeEdge(state.entry, node);
  return { instance: node.instance!.id, names: namespaceNames(node.instance!) };
}

async function answer(registry: Registry, request: HooksRequest): Promise<HooksReply> {
  try {
    if (request.type === 'resolve') {
      const parent = request.parent?.startsWith('file:') ? fileURLToPath(request.parent) : undefined;
      return { id: request.id, type: 'resolved', file: userFileFor(registry, request.specifier, parent, 'import') };
    }
    const state = runnerOf(registry, request.file);
    if (!state) return { id: request.id, type: 'loaded', instance: -1, names: [] };
    const node = await loadForNative(state, request.file);
    // A CommonJS module's names are known once it has run.
    if (node.instance!.version.compiled.format === 'cjs') await evaluateForNative(state, request.file);
    return { id: request.id, type: 'loaded', ...proxied(state, node) };
  } catch (error) {
    const e = error as { message?: unknown; name?: unknown; code?: unknown };
    return {
      id: request.id,
      type: 'failed',
      message: String(e?.message ?? error),
      name: String(e?.name ?? 'Error'),
      code: typeof e?.code === 'string' ? e.code : undefined,
    };
  }
}

/** Evaluate the runner's instance of `file` (once) and give its exports, as a proxy module re-exports them. */
async function evaluateForNative(state: RunnerState, file: string): Promise<Record<string, unknown>> {
  const node = state.nodes.get(file)!;
  await settleLinks(state);
  await evaluateModule(state, node.instance!);
  const instance = node.instance!;
  const values: Record<string, unknown> = Object.create(null);
  for (const name of namespaceNames(instance)) {
    const target = resolveExport(instance, name);
    if (target !== null && target !== 'ambiguous') values[name] = currentValue(target);
  }
  return values;
}

/**
 * Forked children (child_process.fork, cluster.fork) and worker threads inherit process.execArgv:
 * with the child loader in it they run the project's TypeScript as tsx would
 * (src/hooks/child-register.ts), with the project's root and tsconfig from the environment.
 */
function prepareChildren(state: RunnerState): void {
  process.env[CHILD_ENV] = JSON.stringify({ root: state.root, tsconfig: state.options.tsconfig } satisfies ChildConfig);
  const flag = `--import=${CHILD_REGISTER.href}`;
  if (process.execArgv.includes(flag)) return;
  // fork() reads process.execArgv when it spawns.
  process.execArgv.push(flag);
  const workers = createRequire(import.meta.url)('node:worker_threads') as { Worker: typeof import('node:worker_threads').Worker };
  workers.Worker = loaderWorker(workers.Worker, flag);
  syncBuiltinESMExports();
}

/**
 * The Worker class, with the loader in every worker's execArgv. A worker inherits the flags the
 * process started with, not process.execArgv, so it gets them explicitly, with the loader; Node
 * refuses some flags in a worker (on Node 24, the per-process defaults its test runner passes to
 * every child): those named by its error are left out, as Node leaves them
 * out of an inherited execArgv. A Proxy, not a subclass, so the construction can be tried again.
 */
function loaderWorker(Original: typeof import('node:worker_threads').Worker, flag: string): typeof Original {
  return new Proxy(Original, {
    construct(target, args: [string | URL, import('node:worker_threads').WorkerOptions?], newTarget) {
      const [filename, options = {}] = args;
      // The inspector's flags never: the main thread's inspector reaches workers anyway.
      const given = options.execArgv ?? process.execArgv.filter((arg) => !/^--(?:inspect|debug)/.test(arg));
      const execArgv = given.includes(flag) ? given : [...given, flag];
      let worker: import('node:worker_threads').Worker;
      try {
        worker = Reflect.construct(target, [filename, { ...options, execArgv }], newTarget);
      } catch (error) {
        const refused = refusedFlags(error);
        if (!refused) throw error;
        worker = Reflect.construct(target, [filename, { ...options, execArgv: execArgv.filter((arg) => !refused.has(arg)) }], newTarget);
      }
      ownWorker(worker, filename);
      return worker;
    },
  });
}

/** The flags of an ERR_WORKER_INVALID_EXEC_ARGV ("… invalid execArgv flags: --a, --b=1"). */
function refusedFlags(error: unknown): Set<string> | undefined {
  const e = error as { code?: unknown; message?: unknown };
  if (e?.code !== 'ERR_WORKER_INVALID_EXEC_ARGV' || typeof e.message !== 'string') return undefined;
  const list = /flags: (.*)$/s.exec(e.message)?.[1];
  return list ? new Set(list.split(', ')) : undefined;
}

/** `require()` of a user file from code devhot did not compile: the runner's exports, never cached by Node. */
function patchRequire(registry: Registry): void {
  const internals = Module as ModuleInternals;
  for (const ext of [...REQUIRE_EXTENSIONS, ...NODE_EXTENSIONS.filter((e) => internals._extensions[e])]) {
    const original = internals._extensions[ext];
    internals._extensions[ext] = (module, filename) => {
      const state = runnerOf(registry, filename);
      if (!state) {
        if (original) return original(module, filename);
        throw Object.assign(new TypeError(`Unknown file extension "${ext}" for ${filename}`), { code: 'ERR_UNKNOWN_FILE_EXTENSION' });
      }
      module.exports = requireForNative(state, filename);
      // Node caches the module by file name; the runner's current version must answer the next require.
      delete internals._cache[filename];
    };
  }
  const resolveFilename = internals._resolveFilename;
  internals._resolveFilename = function devhotResolveFilename(this: unknown, request, parent, isMain, options) {
    try {
      return resolveFilename.call(this, request, parent, isMain, options);
    } catch (error) {
      const file = userFileFor(registry, request, parent?.filename ?? undefined, 'require');
      if (file === undefined) throw error;
      return file;
    }
  } as ModuleInternals['_resolveFilename'];
}
