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
import { fileURLToPath, pathToFileURL } from 'node:url';
import { evaluateModuleSync } from './evaluate.js';
import { loadForNativeSync } from './load.js';
import type { ModuleNode } from './graph.js';
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

/** What the hooks ask native-loads.ts: the runner of a file; devhot's resolution where Node's failed; a loaded node as its proxy module needs it. */
export interface InThreadHost {
  runnerOf(file: string): RunnerState | undefined;
  userFileFor(specifier: string, parent: string | undefined): string | undefined;
  proxied(state: RunnerState, node: ModuleNode): { instance: number; names: string[] };
}

/** Install the hooks. */
export function registerInThreadHooks(host: InThreadHost): void {
  /** Export names of proxied URLs, from resolve to load. */
  const namesOf = new Map<string, string[]>();
  (Module as unknown as { registerHooks: RegisterHooks }).registerHooks({
    resolve(specifier, context, next) {
      // require() of a user file is the runner's through Module._extensions (native-loads.ts).
      if (context.conditions?.includes('require')) return next(specifier, context);
      const result = resolveWithRunner(specifier, context, next, host);
      const file = userFile(result.url, '/');
      const state = file === undefined ? undefined : host.runnerOf(file);
      if (!state || file === undefined) return result;
      const node = loadForNativeSync(state, file);
      // A CommonJS module's names are known once it has run.
      if (node.instance!.version.compiled.format === 'cjs') evaluateModuleSync(state, node.instance!, file);
      const { instance, names } = host.proxied(state, node);
      const url = `${result.url}?${INSTANCE_PARAM}=${instance}`;
      namesOf.set(url, names);
      return { url, format: 'module', shortCircuit: true };
    },
    load(url, context, next) {
      const names = namesOf.get(url);
      if (names === undefined) return next(url, context);
      namesOf.delete(url);
      return { format: 'module', source: proxySource(RUNNER_KEY, fileURLToPath(url), names), shortCircuit: true };
    },
  });
}

/** Node's resolution, else devhot's from a project file. */
function resolveWithRunner(
  specifier: string,
  context: ResolveContext,
  next: (specifier: string, context?: ResolveContext) => ResolveResult,
  host: InThreadHost,
): ResolveResult {
  try {
    return next(specifier, context);
  } catch (error) {
    const parent = context.parentURL?.startsWith('file:') ? fileURLToPath(context.parentURL) : undefined;
    const file = host.userFileFor(specifier, parent);
    if (file === undefined) throw error;
    return { url: pathToFileURL(file).href };
  }
}
