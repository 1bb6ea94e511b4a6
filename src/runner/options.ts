/**
 * Runner options as the user writes them, and the frozen form the rest of the runner reads.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { realpathSync } from 'node:fs';
import type { UpdateResult } from '../shared/results.js';

export interface RunnerOptions {
  /** The server's entry file, absolute or relative to `root`. */
  entry: string;
  /** Project root. Default: `process.cwd()`. */
  root?: string;
  /**
   * Arguments the app sees after its entry in `process.argv`. When given, `process.argv` becomes
   * `[node, entry, ...args]` as if the app had been started with `node entry ...args`.
   * Default: `process.argv` is left alone.
   */
  args?: string[];
  /** Where compiled modules are cached between runs. Default: `<root>/node_modules/.devhot/cache`; `false`: memory only. */
  cacheDir?: string | false;
  /** The tsconfig.json to read (`paths`, JSX and decorator settings). Default: `<root>/tsconfig.json` if present; `false`: none. */
  tsconfig?: string | false;
  /** Called for `import.meta.hot.send(event, data)`. Default: dropped. */
  onHotSend?: (event: string, data: unknown, file: string) => void;
  /** Called with the result of an update the runner starts itself (`import.meta.hot.invalidate()` outside an update). */
  onUpdate?: (result: UpdateResult) => void;
  /**
   * Called when running code loaded modules outside an update (an `import()` or `require()` in a
   * request handler, a package's loader): the graph grew. Default: nothing.
   */
  onLoad?: () => void;
  /** Called when an `import.meta.hot.on()` listener throws. Default: ignored. */
  onListenerError?: (event: string, error: unknown) => void;
  /**
   * Let Node's own loaders load the project's files through this runner: a package that imports
   * or requires them (a plugin or route loader), and `import()` inside `eval`. Installs module
   * hooks for the whole process, so only one runner per process should ask for it (the app
   * process does). Default: false.
   */
  nativeLoads?: boolean;
  /**
   * Stop what replaced module instances left running: the process listeners, intervals and
   * timers they started, the workers and child processes they created (see README, "What devhot
   * cleans up"). Wraps process-wide functions, so only one runner per process should ask for it
   * (the app process does). Default: false.
   */
  ownResources?: boolean;
}

export interface ResolvedRunnerOptions {
  readonly root: string;
  /** Absolute, real path of the entry (or the absolute path given, if it does not exist). */
  readonly entry: string;
  readonly args: readonly string[] | undefined;
  readonly cacheDir: string | false;
  readonly tsconfig: string | false | undefined;
  readonly onHotSend: RunnerOptions['onHotSend'];
  readonly onUpdate: RunnerOptions['onUpdate'];
  readonly onListenerError: RunnerOptions['onListenerError'];
  readonly onLoad: RunnerOptions['onLoad'];
  readonly nativeLoads: boolean;
  readonly ownResources: boolean;
}

export function resolveRunnerOptions(options: RunnerOptions): ResolvedRunnerOptions {
  const root = realpath(resolve(options.root ?? process.cwd()));
  const entry = realpath(isAbsolute(options.entry) ? options.entry : resolve(root, options.entry));
  return Object.freeze({
    root,
    entry,
    args: options.args ? Object.freeze([...options.args]) : undefined,
    cacheDir:
      options.cacheDir === false
        ? false
        : options.cacheDir
          ? resolve(root, options.cacheDir)
          : join(root, 'node_modules', '.devhot', 'cache'),
    tsconfig: options.tsconfig === undefined || options.tsconfig === false ? options.tsconfig : resolve(root, options.tsconfig),
    onHotSend: options.onHotSend,
    onUpdate: options.onUpdate,
    onListenerError: options.onListenerError,
    onLoad: options.onLoad,
    nativeLoads: options.nativeLoads ?? false,
    ownResources: options.ownResources ?? false,
  });
}

/** Real paths, so a symlinked project or /tmp → /private/tmp does not load a file twice. */
function realpath(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}
