/**
 * Node module hooks (module.register), for imports devhot did not compile: a package that
 * imports the project's own files (@fastify/autoload, any plugin or route loader), or `import()`
 * inside `eval`. They run on Node's loader thread.
 *
 * - proxy mode (the app process): a user file is the runner's. The hooks ask the runner, over a
 *   MessagePort, to load it into its graph; Node gets a small module that re-exports the runner's
 *   instance, at a URL naming that instance, so the module is never evaluated twice, and after a
 *   save an import gets the new version (a new URL) instead of Node's cached one.
 * - compile mode (a forked child or a worker, which have no runner): a user TypeScript file is
 *   compiled with esbuild and run by Node, as tsx would (see compile-hooks.ts).
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HooksData, HooksReply, HooksRequest } from './protocol.js';
import { INSTANCE_PARAM, RUNNER_KEY } from './protocol.js';
import { proxySource, userFile as userFileUnder } from './proxy.js';

interface ResolveContext {
  parentURL?: string;
  conditions: string[];
  importAttributes?: Record<string, string>;
}
interface ResolveResult {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
interface LoadContext {
  format?: string | null;
  conditions: string[];
  importAttributes?: Record<string, string>;
}
interface LoadResult {
  format: string;
  source?: string | ArrayBuffer | Uint8Array | null;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<ResolveResult>;
type NextLoad = (url: string, context?: LoadContext) => Promise<LoadResult>;

let data: HooksData = { mode: 'compile', rootPrefix: '/' };
let nextId = 1;
const waiting = new Map<number, (reply: HooksReply) => void>();
/** Export names of proxied URLs, from the runner's answer at resolve time. */
const namesOf = new Map<string, string[]>();
let compile: typeof import('./compile-hooks.js') | undefined;

export async function initialize(given: HooksData): Promise<void> {
  data = given;
  // Referenced: a hook awaiting the runner's answer needs this thread's loop to deliver it (an
  // unreferenced port let the loader thread go back to waiting for requests: the import hung).
  data.port?.on('message', (reply: HooksReply) => {
    waiting.get(reply.id)?.(reply);
    waiting.delete(reply.id);
  });
  if (data.mode === 'compile') {
    compile = await import('./compile-hooks.js');
    compile.setup(data.root!, data.tsconfig);
  }
}

type Request = HooksRequest extends infer R ? (R extends HooksRequest ? Omit<R, 'id'> : never) : never;

function ask(request: Request): Promise<HooksReply> {
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    data.port!.postMessage({ ...request, id });
  });
}

/** A project file devhot runs (under the root, not in node_modules), as a path; else undefined. */
function userFile(url: string): string | undefined {
  return userFileUnder(url, data.rootPrefix);
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): Promise<ResolveResult> {
  let result: ResolveResult;
  try {
    result = await nextResolve(specifier, context);
  } catch (error) {
    // Node's resolver does not know what TypeScript users write (`./a.js` for a.ts, no
    // extension, tsconfig paths): ask devhot's.
    const file = await resolveUserFile(specifier, context.parentURL);
    if (file === undefined) throw error;
    result = { url: pathToFileURL(file).href };
  }
  const file = userFile(result.url);
  if (file === undefined) return result;
  if (data.mode === 'compile') return compile!.resolved(result, file);
  const reply = await ask({ type: 'load', file });
  if (reply.type === 'failed') throw Object.assign(new (errorClass(reply.name))(reply.message), reply.code ? { code: reply.code } : {});
  if (reply.type !== 'loaded' || reply.instance < 0) return result;
  const url = `${result.url}?${INSTANCE_PARAM}=${reply.instance}`;
  namesOf.set(url, reply.names);
  return { url, format: 'module', shortCircuit: true };
}

async function resolveUserFile(specifier: string, parent: string | undefined): Promise<string | undefined> {
  if (data.mode === 'compile') return compile!.resolveTypeScript(specifier, parent);
  const reply = await ask({ type: 'resolve', specifier, parent });
  return reply.type === 'resolved' ? reply.file : undefined;
}

export async function load(url: string, context: LoadContext, nextLoad: NextLoad): Promise<LoadResult> {
  const names = namesOf.get(url);
  if (names !== undefined) {
    namesOf.delete(url);
    return { format: 'module', source: proxySource(RUNNER_KEY, fileURLToPath(url), names), shortCircuit: true };
  }
  const file = data.mode === 'compile' ? userFile(url) : undefined;
  if (file !== undefined) data.filesPort?.postMessage(file);
  if (file !== undefined && compile!.compiles(file)) return compile!.load(file);
  return nextLoad(url, context);
}

function errorClass(name: string): ErrorConstructor {
  const constructors: Record<string, ErrorConstructor> = { SyntaxError, TypeError, RangeError, ReferenceError };
  return constructors[name] ?? Error;
}
