/**
 * TypeScript for the app's forked children and workers: the app process starts with
 * `--import <this file>`, which its children (child_process.fork, cluster.fork) and worker
 * threads inherit through execArgv, so `fork('./job.ts')` and `new Worker('./worker.ts')` run
 * TypeScript as tsx would (typescript.ts). In the app process itself it does nothing: there the
 * runner loads the project's files (src/runner/native-loads.ts).
 */
import Module, { register } from 'node:module';
import { sep } from 'node:path';
import process from 'node:process';
import { CHILD_ENV, type ChildConfig, type HooksData } from './protocol.js';
import { createTypeScriptLoader } from './typescript.js';

type ModuleInternals = typeof Module & {
  _extensions: Record<string, (module: NodeModule & { _compile(code: string, file: string): void }, filename: string) => void>;
  _resolveFilename(request: string, parent: NodeModule | undefined, isMain: boolean, options?: unknown): string;
};

const config = process.env.DEVHOT_APP === undefined ? readConfig() : undefined;
if (config) {
  const rootPrefix = config.root.endsWith(sep) ? config.root : config.root + sep;
  const data: HooksData = { mode: 'compile', rootPrefix, root: config.root, tsconfig: config.tsconfig };
  register(new URL('./esm-hooks.js', import.meta.url), { data } as Parameters<typeof register>[1]);
  patchRequire(config, rootPrefix);
  process.setSourceMapsEnabled(true);
}

function readConfig(): ChildConfig | undefined {
  try {
    return JSON.parse(process.env[CHILD_ENV] ?? 'null') as ChildConfig | undefined;
  } catch {
    return undefined;
  }
}

/** `require()` of a user .ts file: compiled as CommonJS; what Node's resolver misses, devhot's finds. */
function patchRequire(config: ChildConfig, rootPrefix: string): void {
  const loader = createTypeScriptLoader(config.root, config.tsconfig);
  const internals = Module as ModuleInternals;
  const isUser = (file: string) => file.startsWith(rootPrefix) && !file.includes(`${sep}node_modules${sep}`);
  for (const ext of ['.ts', '.tsx', '.cts', '.jsx']) {
    internals._extensions[ext] = (module, filename) => {
      module._compile(loader.compile(filename, 'commonjs'), filename);
    };
  }
  const resolveFilename = internals._resolveFilename;
  internals._resolveFilename = function devhotResolveFilename(this: unknown, request, parent, isMain, options) {
    try {
      return resolveFilename.call(this, request, parent, isMain, options);
    } catch (error) {
      const from = parent?.filename;
      const file = from && isUser(from) ? loader.resolve(request, from) : undefined;
      if (file === undefined) throw error;
      return file;
    }
  } as ModuleInternals['_resolveFilename'];
}
