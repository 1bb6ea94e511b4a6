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
import { MessageChannel } from 'node:worker_threads';
import { childFilesReporter } from './child-files.js';
import { CHILD_ENV, type ChildConfig, type HooksData } from './protocol.js';
import { createTypeScriptLoader } from './typescript.js';

type ModuleInternals = typeof Module & {
  _extensions: Record<string, (module: NodeModule & { _compile(code: string, file: string): void }, filename: string) => void>;
  _resolveFilename(request: string, parent: NodeModule | undefined, isMain: boolean, options?: unknown): string;
};

const config = process.env.DEVHOT_APP === undefined ? readConfig() : undefined;
if (config) {
  const rootPrefix = config.root.endsWith(sep) ? config.root : config.root + sep;
  const report = childFilesReporter();
  const data: HooksData = { mode: 'compile', rootPrefix, root: config.root, tsconfig: config.tsconfig };
  const transferList = [];
  if (report) {
    // The hooks run on Node's loader thread: what they load comes back here, to be reported.
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (file: string) => report(file));
    port1.unref();
    data.filesPort = port2;
    transferList.push(port2);
  }
  register(new URL('./esm-hooks.js', import.meta.url), { data, transferList } as Parameters<typeof register>[1]);
  patchRequire(config, rootPrefix, report);
  process.setSourceMapsEnabled(true);
}

function readConfig(): ChildConfig | undefined {
  try {
    return JSON.parse(process.env[CHILD_ENV] ?? 'null') as ChildConfig | undefined;
  } catch {
    return undefined;
  }
}

/**
 * `require()` of a user .ts file: compiled as CommonJS; what Node's resolver misses, devhot's
 * finds; every project file required is reported to the app.
 */
function patchRequire(config: ChildConfig, rootPrefix: string, report: ((file: string) => void) | undefined): void {
  const loader = createTypeScriptLoader(config.root, config.tsconfig);
  const internals = Module as ModuleInternals;
  const isUser = (file: string) => file.startsWith(rootPrefix) && !file.includes(`${sep}node_modules${sep}`);
  for (const ext of ['.ts', '.tsx', '.cts', '.jsx']) {
    internals._extensions[ext] = (module, filename) => {
      if (isUser(filename)) report?.(filename);
      module._compile(loader.compile(filename, 'commonjs'), filename);
    };
  }
  for (const ext of ['.js', '.cjs']) {
    const original = internals._extensions[ext];
    if (!original || !report) continue;
    internals._extensions[ext] = (module, filename) => {
      if (isUser(filename)) report(filename);
      original(module, filename);
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
