/**
 * What one runner holds for as long as it lives: the module graph, the entry, the
 * `import.meta.hot.on()` listeners, the namespaces of native modules, the compiler, the
 * resolver, the stack-trace registry, and THE transaction in progress (the one place that says
 * which update, if any, is running: module code that loads a module at run time joins it).
 *
 * Everything is per runner: two runners in one process share nothing.
 */
import { relative, sep } from 'node:path';
import { DevhotError, ErrorCodes } from '../errors.js';
import { createCompiler, type Compiler } from './compile.js';
import { loadTsconfigForEsbuild, type EsbuildTsconfigResult } from './esbuild-tsconfig.js';
import { setUpMetadata } from './decorator-metadata.js';
import type { ModuleNode } from './graph.js';
import { HotContext, type HotHost, type HotListener } from './hot.js';
import type { ModuleInstance } from './instance.js';
import { noneReleased, type ReleasedCounts } from './owned.js';
import type { ResolvedRunnerOptions } from './options.js';
import { createFormatLookup } from './package-type.js';
import { createResolver, type Resolver } from './resolve.js';
import type { ModuleFormat } from './rewrite.js';
import { createPackageJsonReader, type PackageJsonReader } from '../shared/package-json.js';
import { createStackRegistry, type StackRegistry } from './stack.js';
import type { Transaction } from './transaction.js';
import { SerialQueue } from '../shared/serial-queue.js';

/** The built-in events, sent under devhot's name and Vite's. */
export type BuiltinEvent = 'beforeUpdate' | 'afterUpdate' | 'error' | 'invalidate' | 'beforeFullReload';

export class RunnerState {
  readonly root: string;
  /** The root with a trailing separator: a file under it starts with this. */
  readonly rootPrefix: string;
  /** Every user module loaded, by absolute file. */
  readonly nodes = new Map<string, ModuleNode>();
  readonly listeners = new Map<string, Set<HotListener>>();
  /** Namespaces of Node built-ins and node_modules packages, loaded once by Node itself. */
  readonly nativeCache = new Map<string, object>();
  /** The one package.json reader of this runner, shared by the resolver and the format lookup. */
  readonly packages: PackageJsonReader;
  /** Node's module format of a file (extension, then the nearest package.json "type"). */
  readonly formatOf: (file: string) => ModuleFormat;
  readonly resolver: Resolver;
  readonly esbuildTsconfig: EsbuildTsconfigResult;
  /** A tsconfig that cannot be read (a missing base, a loop): the start fails with it, as tsc would. */
  readonly tsconfigError: unknown;
  /** Why decorator metadata cannot be emitted although the tsconfig asks for it (said at start). */
  readonly metadataWarning: string | undefined;
  readonly compiler: Compiler;
  readonly stacks: StackRegistry = createStackRegistry();
  /** Modules that invalidated outside an update; applied as an update of their own. */
  readonly lateInvalidations = new Set<ModuleNode>();
  entry: ModuleNode | undefined;
  /** The entry's `module` when the entry is CommonJS: what `require.main` is (evaluate.ts). */
  mainModule: NodeModule | undefined;
  /** The transaction whose module code is running: run-time `import()`/`require()` join it. */
  current: Transaction | undefined;
  /** The runner's one queue: updates, reloads, the start, close, and loads made by running code. */
  readonly queue = new SerialQueue();
  /** Loads under way (import() of a module not linked yet), by file: concurrent imports share one. */
  readonly loading = new Map<string, Promise<ModuleNode>>();
  /** First steps of async bodies not yet suspended at their `yield` (link.ts, settleLinks). */
  readonly linking = new Set<Promise<unknown>>();
  /** Nodes that namespace imports follow (bindings.ts, refreshNamespaces). */
  readonly namespaceFollowed = new Set<ModuleNode>();
  /** Instances that made a worker or forked child (resource-tracking.ts; runner.ts spawnersOf). */
  readonly spawners = new Set<ModuleInstance>();
  /** Files that had content when last read (discover.ts: one read empty after that is waited for). */
  readonly hadSource = new Set<string>();
  /**
   * Every file outside the root read so far (a linked workspace package's), with a hash of what
   * was last read (shared/source-hash.ts). The supervisor's watcher follows no link out of the
   * root: the app reports these, the watcher watches them from then on, and one whose content
   * differs by then was saved in between. Files of a failed load stay, so the save that fixes
   * it is seen too.
   */
  readonly outsideSources = new Map<string, string>();
  /** Counter for instance ids (ModuleInstance.id). */
  instanceIds = 0;
  /** Counter for [[AsyncEvaluationOrder]] (evaluate.ts). */
  asyncEvaluations = 0;
  /** Warnings raised while loading (a .ts file importing JSON without the attribute), for the next result. */
  readonly warnings: string[] = [];
  private readonly warned = new Set<string>();
  /** Called when a module invalidates outside an update (the runner queues an update for it). */
  onLateInvalidation: () => void = () => {};

  constructor(readonly options: ResolvedRunnerOptions) {
    this.root = options.root;
    this.rootPrefix = options.root + sep;
    this.packages = createPackageJsonReader({ root: options.root });
    this.resolver = createResolver({ root: options.root, tsconfig: options.tsconfig, packages: this.packages });
    this.formatOf = createFormatLookup(this.packages);
    let tsconfig: EsbuildTsconfigResult = { raw: undefined, files: [], compilerOptions: {} };
    try {
      tsconfig = loadTsconfigForEsbuild(options.root, options.tsconfig);
    } catch (error) {
      this.tsconfigError = error;
    }
    this.esbuildTsconfig = tsconfig;
    const configFile = tsconfig.files[0] ? relative(options.root, tsconfig.files[0]) : 'tsconfig.json';
    const metadata = setUpMetadata(tsconfig.compilerOptions, configFile);
    this.metadataWarning = metadata.warning;
    this.compiler = createCompiler({
      cacheDir: options.cacheDir,
      tsconfigRaw: this.esbuildTsconfig.raw,
      defaultFormat: this.formatOf,
      metadata: metadata.transformer,
    });
  }

  /** Files whose change needs a new process: the tsconfig chain and every package.json read. */
  configFiles(): Set<string> {
    return new Set([...this.resolver.configFiles, ...this.esbuildTsconfig.files, ...this.packages.files]);
  }

  /** What replaced instances had left running and devhot stopped, for the next result (owned.ts). */
  readonly cleanedUp: ReleasedCounts = noneReleased();

  released(counts: ReleasedCounts): void {
    for (const key of Object.keys(counts) as Array<keyof ReleasedCounts>) this.cleanedUp[key] += counts[key];
  }

  /** A warning, once per key (a file), reported with the update under way or the next one. */
  warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warnings.push(message);
  }

  /**
   * A path relative to the root, for messages and results. A file under the root is its tail:
   * `path.relative` resolves both paths on every call, and a start's result lists every module
   * (3,000 calls took 8-13 ms of the time to the first response; Node 20, 2026-12-01).
   */
  rel(file: string): string {
    const under = file.startsWith(this.rootPrefix) && !file.endsWith(sep) && !file.includes(`${sep}.`) && !file.includes(`${sep}${sep}`);
    return (under ? file.slice(this.rootPrefix.length) : relative(this.root, file)) || file;
  }

  /** Deliver an event to the `import.meta.hot.on(event)` listeners; a listener that throws is reported. */
  dispatch(event: string, data?: unknown): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        listener(data);
      } catch (error) {
        this.options.onListenerError?.(event, error);
      }
    }
  }

  /** Built-in events under devhot's name and Vite's, so code written for Vite keeps working. */
  emit(name: BuiltinEvent, data: unknown): void {
    this.dispatch(`devhot:${name}`, data);
    this.dispatch(`vite:${name}`, data);
  }

  /** A new `import.meta.hot` for an instance of `node` (one function for all instances to hold). */
  readonly hotContextOf = (node: ModuleNode): HotContext => new HotContext(node.hotData, this.hotHost(node));

  /** What `import.meta.hot` of `node` asks of the runner. */
  hotHost(node: ModuleNode): HotHost {
    return {
      resolveDep: (specifier) => {
        const r = this.resolver.resolve(specifier, node.file, 'import');
        if (r.kind !== 'user') {
          throw new DevhotError(
            ErrorCodes.RESOLVE,
            `import.meta.hot.accept('${specifier}') in ${this.rel(node.file)}: only user modules can be accepted, not ${r.kind === 'builtin' ? r.id : r.url}`,
            {
              fix: 'Accept a file of your own project; packages in node_modules are never re-executed.',
            },
          );
        }
        return r.file;
      },
      invalidate: (message) => {
        if (this.current) this.current.invalidated.set(node, message);
        else {
          this.lateInvalidations.add(node);
          this.onLateInvalidation();
        }
      },
      send: (event, data) => this.options.onHotSend?.(event, data, node.file),
      addListener: (event, listener) => {
        let set = this.listeners.get(event);
        if (!set) this.listeners.set(event, (set = new Set()));
        set.add(listener);
      },
      removeListener: (event, listener) => this.listeners.get(event)?.delete(listener),
    };
  }
}
