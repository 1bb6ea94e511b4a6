/**
 * Node's in-thread module hooks (`module.registerHooks`, Node ≥ 22.15 and 23.5), for an
 * `import()` of a project file from code devhot did not compile (native-loads.ts explains why).
 *
 * Where Node has them they replace the loader-thread hooks (src/hooks/esm-hooks.ts): on Node 24 an
 * `import()` blocks the main thread until the loader thread has answered, so a loader-thread hook
 * that asks the runner (on the main thread) for the module never gets its answer, and the import
 * hangs (measured: 24.22, a hook awaiting a MessagePort reply from the main thread; Node 20 does
 * not block). In-thread hooks run synchronously where the runner is: the module is loaded into
 * the graph and linked before the hook returns.
 */
import Module from 'node:module';
import { INSTANCE_PARAM, RUNNER_KEY } from '../hooks/protocol.js';
import { proxySource, userFile } from '../hooks/proxy.js';
import { evaluateModuleSync } from './evaluate.js';
import { addRuntimeEdge } from './graph.js';
import { loadForNativeSync } from './load.js';
import { namespaceNames } from './resolve-export.js';
import type { RunnerState } from './state.js';

interface ResolveContext {
  parentURL?: string | undefined;
  conditions?: readonly string[];
}
interface ResolveResult {
  url: string;
  format?: string | null | undefined;
  shortCircuit?: boolean | undefined;
}
type RegisterHooks = (hooks: {
  resolve(specifier: string, context: ResolveContext, next: (specifier: string, context?: ResolveContext) => ResolveResult): ResolveResult;
  load(url: string, context: object, next: (url: string, context?: object) => unknown): unknown;
}) => unknown;

/** Whether this Node has in-thread hooks. */
export function hasInThreadHooks(): boolean {
  return typeof (Module as { registerHooks?: unknown }).registerHooks === 'function';
}

/** Install the hooks; `runnerOf` names the runner whose project holds a file. */
export function registerInThreadHooks(runnerOf: (file: string) => RunnerState | undefined): void {
  /** Export names of proxied URLs, from resolve to load. */
  const namesOf = new Map<string, string[]>();
  (Module as unknown as { registerHooks: RegisterHooks }).registerHooks({
    resolve(specifier, context, next) {
      // require() of a user file is the runner's through Module._extensions (native-loads.ts).
      if (context.conditions?.includes('require')) return next(specifier, context);
      const result = resolveWithRunner(specifier, context, next, runnerOf);
      const file = userFile(result.url, '/');
      const state = file === undefined ? undefined : runnerOf(file);
      if (!state || file === undefined) return result;
      const node = loadForNativeSync(state, file);
      if (state.entry && node !== state.entry) addRuntimeEdge(state.entry, node);
      const instance = node.instance!;
      let names = namespaceNames(instance);
      if (instance.version.compiled.format === 'cjs') {
        evaluateModuleSync(state, instance, file);
        names = ['default', ...Object.keys(instance.cjsModule?.exports ?? {})];
      }
      const url = `${result.url}?${INSTANCE_PARAM}=${instance.id}`;
      namesOf.set(url, [...new Set(names)]);
      return { url, format: 'module', shortCircuit: true };
    },
    load(url, context, next) {
      const names = namesOf.get(url);
      if (names === undefined) return next(url, context);
      namesOf.delete(url);
      return { format: 'module', source: proxySource(RUNNER_KEY, decodeURIComponent(new URL(url).pathname), names), shortCircuit: true };
    },
  });
}

/**
 * Node's resolution, else the runner's (what TypeScript users write: `./a.js` for a.ts, no
 * extension, tsconfig paths), for an importer in a runner's project.
 */
function resolveWithRunner(
  specifier: string,
  context: ResolveContext,
  next: (specifier: string, context?: ResolveContext) => ResolveResult,
  runnerOf: (file: string) => RunnerState | undefined,
): ResolveResult {
  try {
    return next(specifier, context);
  } catch (error) {
    const parent = context.parentURL?.startsWith('file:') ? decodeURIComponent(new URL(context.parentURL).pathname) : undefined;
    const state = parent ? runnerOf(parent) : undefined;
    if (!state || !parent) throw error;
    let resolved: ReturnType<RunnerState['resolver']['resolve']>;
    try {
      resolved = state.resolver.resolve(specifier, parent, 'import');
    } catch {
      throw error;
    }
    if (resolved.kind !== 'user') throw error;
    return { url: new URL(`file://${encodeURI(resolved.file)}`).href };
  }
}
