/**
 * The runner: loads the user's entry into this process and applies saved changes to it in place.
 *
 *   update(files) → changes.ts: which modules changed → update.ts: compile, plan, swap (dispose,
 *   link + evaluate, commit or roll back), prune, boundaries → the result
 *
 * This file holds the runner's public face: its options, its state (state.ts), and one queue.
 * Updates are serialised: a call made while one runs waits for it, so the last save always wins.
 */
import { existsSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DevhotError, ErrorCodes } from '../errors.js';
import type { FileChange } from '../shared/ipc.js';
import type { Rung, UpdateResult } from '../shared/results.js';
import { askedFiles, collectChanges } from './changes.js';
import type { CompiledModule, Compiler } from './compile.js';
import { errorResult } from './error-payload.js';
import type { ModuleNode } from './graph.js';
import type { ResolvedRunnerOptions, RunnerOptions } from './options.js';
import { resolveRunnerOptions } from './options.js';
import { RunnerState } from './state.js';
import { Transaction } from './transaction.js';
import { recycleEsbuild } from './transform.js';
import { runUpdate } from './update.js';
import { installNativeLoads } from './native-loads.js';
import { settleNestCloses } from './nest-apps.js';
import { release, runsChanged } from './owned.js';
import { installResourceTracking } from './resource-tracking.js';
import { safeSetTimeout } from './intrinsics.js';

/**
 * How long after a start the compiler warms up (compile.ts, warmUp): after the app's own first
 * steps, before a user's first save. At 3,000 modules, the in-app update() of the first save
 * after a start from the disk cache took 29-42 ms without it and 12-22 ms with it (a later save
 * ~6 ms; the CLI bench's project, 5 runs alternating with the build before, Node 20, 2026-11-30).
 */
const WARM_UP_DELAY_MS = 300;

export type { Rung, UpdateResult };

export interface Runner {
  readonly options: ResolvedRunnerOptions;
  /** Every user module loaded, by absolute file. */
  readonly modules: ReadonlyMap<string, ModuleNode>;
  /** Load and run the entry. Rejects with a DevhotError (code, file, line, frame) if it fails. */
  start(): Promise<UpdateResult>;
  /** Apply changed, added or deleted files (absolute or relative to root; with their kind when known). */
  update(files: ReadonlyArray<string | FileChange>): Promise<UpdateResult>;
  /** Re-execute the entry (or, with `all`, every module) without any file having changed. */
  reload(options?: { all?: boolean }): Promise<UpdateResult>;
  /** Deliver a custom event to `import.meta.hot.on(event)` listeners. */
  dispatch(event: string, data?: unknown): void;
  /** Dispose every module (dispose and prune handlers run) and stop accepting updates. */
  close(): Promise<void>;
  /**
   * Files that, when changed, need a process restart rather than an update: the tsconfig chain
   * (with its `extends`) and every package.json read so far. It grows as modules load.
   */
  readonly configFiles: ReadonlySet<string>;
  /** Files outside the root read so far, with a hash of what was last read (state.ts). */
  readonly outsideSources: ReadonlyMap<string, string>;
  /** Compile cache hits and misses since creation (memory, disk, esbuild + rewrite). */
  readonly compilerStats: Readonly<Compiler['stats']>;
}

export function createRunner(userOptions: RunnerOptions): Runner {
  return new DevhotRunner(resolveRunnerOptions(userOptions));
}

class DevhotRunner implements Runner {
  readonly modules: ReadonlyMap<string, ModuleNode>;
  readonly compilerStats: Readonly<Compiler['stats']>;
  private readonly state: RunnerState;
  private started = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Stops Node's loaders from loading this runner's files through it (native-loads.ts). */
  private uninstallNativeLoads: (() => void) | undefined;
  /** Stops tracking what this runner's instances start (resource-tracking.ts). */
  private uninstallTracking: (() => void) | undefined;
  /** Files of a failed update, retried with the next one until it succeeds. */
  private readonly retry = new Set<string>();
  private warmUpTimer: NodeJS.Timeout | undefined;

  constructor(readonly options: ResolvedRunnerOptions) {
    const state = (this.state = new RunnerState(options));
    this.modules = state.nodes;
    this.compilerStats = state.compiler.stats;
    state.onLateInvalidation = () => void this.enqueue(() => this.applyInvalidations()).catch(() => {});
  }

  get configFiles(): ReadonlySet<string> {
    return this.state.configFiles();
  }

  get outsideSources(): ReadonlyMap<string, string> {
    return this.state.outsideSources;
  }

  start(): Promise<UpdateResult> {
    return this.guard(async () => {
      const outcome = await this.attemptStart();
      if (outcome.status === 'error') throw toStartError(outcome);
      return outcome;
    });
  }

  update(files: ReadonlyArray<string | FileChange>): Promise<UpdateResult> {
    return this.guard(() => this.updateNow(files));
  }

  reload(options?: { all?: boolean }): Promise<UpdateResult> {
    return this.guard(() => this.reloadNow(options?.all ?? false));
  }

  dispatch(event: string, data?: unknown): void {
    this.state.dispatch(event, data);
  }

  close(): Promise<void> {
    this.closing ??= this.enqueue(() => this.closeNow());
    return this.closing;
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const { compiler } = this.state;
    // One at a time, with the loads running code makes (state.queue): the last save always wins.
    // The compile cache writes to disk only between them (compile-cache.ts, defer()).
    return this.state.queue.run(async () => {
      compiler.deferWrites();
      try {
        return await task();
      } finally {
        compiler.resumeWrites();
      }
    });
  }

  private guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new DevhotError(ErrorCodes.CLOSED, 'This runner is closed', { fix: 'Create a new runner.' }));
    return this.enqueue(fn);
  }

  /** Load and run the entry; a failure is returned (with its phase), not thrown. */
  private async attemptStart(): Promise<UpdateResult> {
    const { state, options } = this;
    const t0 = performance.now();
    if (!existsSync(options.entry) || !statSync(options.entry).isFile()) {
      const error = new DevhotError(ErrorCodes.ENTRY_NOT_FOUND, `Entry ${state.rel(options.entry)} not found (looked in ${options.root})`, {
        fix: 'Pass the path of your server file, e.g. `devhot src/server.ts`, relative to the project root.',
      });
      return errorResult(options.root, [options.entry], t0, error, 'link');
    }
    if (state.tsconfigError) return errorResult(options.root, [options.entry], t0, state.tsconfigError, 'transform');
    if (options.args) process.argv = [process.argv[0]!, options.entry, ...options.args];
    if (options.nativeLoads) this.uninstallNativeLoads ??= installNativeLoads(state);
    if (options.ownResources) this.uninstallTracking ??= installResourceTracking(state);
    const txn = new Transaction(state);
    state.entry = txn.node(options.entry);
    const missesBefore = state.compiler.stats.misses;
    state.compiler.beginStart(options.entry);
    // The resolver notes which answers the next start pack may keep (start-pack.ts, PackLink).
    state.resolver.noteLinks(state.compiler.noting);
    let outcome: UpdateResult;
    try {
      outcome = await runUpdate(state, { changed: [state.entry], files: [options.entry], compile: true, direct: 'start', txn });
    } finally {
      state.resolver.noteLinks(false);
      state.compiler.endStart(compiledModules(state));
    }
    // esbuild's service keeps the memory a big compile needed (transform.ts).
    if (state.compiler.stats.misses - missesBefore >= RECYCLE_ESBUILD_AFTER) recycleEsbuild();
    if (outcome.status === 'error') {
      state.entry = state.nodes.get(options.entry);
      return outcome;
    }
    this.started = true;
    this.warmUpTimer ??= safeSetTimeout(() => {
      if (!this.closed) state.compiler.warmUp();
    }, WARM_UP_DELAY_MS).unref();
    if (outcome.status === 'applied' && state.metadataWarning) outcome.warnings.push(state.metadataWarning);
    return { ...outcome, duration: performance.now() - t0 };
  }

  private async updateNow(files: ReadonlyArray<string | FileChange>): Promise<UpdateResult> {
    const { state, options, retry } = this;
    const t0 = performance.now();
    const asked = askedFiles(options.root, files);
    const paths = asked.map((a) => a.file);
    if (!this.started) {
      // The first load failed: any save may be the fix, so try the whole start again. A new file
      // may be what a failed resolution was missing, so forget what the resolver saw last time.
      state.resolver.clearCache();
      return { ...(await this.attemptStart()), files: paths, duration: performance.now() - t0 };
    }
    const changes = collectChanges(state, asked, retry);
    if (changes.kind === 'entry-deleted') {
      retry.add(options.entry);
      return errorResult(options.root, paths, t0, changes.error, 'link');
    }
    const spawners = spawnersOf(state, new Set(paths));
    if (changes.changed.size === 0 && spawners.rerun.length === 0) {
      if (changes.retried) retry.clear();
      return { status: 'unchanged', files: paths, duration: performance.now() - t0 };
    }
    const result = await runUpdate(state, { changed: [...changes.changed], files: paths, compile: true, rerun: spawners.rerun });
    if (result.status === 'applied' && spawners.restarted.length > 0) result.restarted = spawners.restarted;
    if (result.status === 'error') {
      for (const f of paths) retry.add(f);
    } else if (changes.retried) retry.clear();
    return { ...result, duration: performance.now() - t0 };
  }

  /** Modules that invalidated outside an update, applied as an update of their own. */
  private async applyInvalidations(): Promise<UpdateResult> {
    const { state } = this;
    const t0 = performance.now();
    const mods = [...state.lateInvalidations].filter((n) => state.nodes.has(n.file));
    state.lateInvalidations.clear();
    if (mods.length === 0 || this.closed) return { status: 'unchanged', files: [], duration: 0 };
    const files = mods.map((m) => m.file);
    const outcome = await runUpdate(state, { changed: mods, files, compile: false, ignoreSelfAccept: mods });
    const result = { ...outcome, duration: performance.now() - t0 };
    this.options.onUpdate?.(result);
    return result;
  }

  private async reloadNow(all: boolean): Promise<UpdateResult> {
    const { state } = this;
    const t0 = performance.now();
    if (!this.started) return this.updateNow([]);
    const mods = all ? [...state.nodes.values()] : state.entry ? [state.entry] : [];
    const result = await runUpdate(state, { changed: mods, files: [], compile: false, direct: 'reload' });
    if (result.status === 'applied')
      return { ...result, reason: all ? 'reload (all modules)' : 'reload', duration: performance.now() - t0 };
    return { ...result, duration: performance.now() - t0 };
  }

  private async closeNow(): Promise<void> {
    const { state } = this;
    this.closed = true;
    clearTimeout(this.warmUpTimer);
    // Discovery order puts the entry first: it closes its server before its deps go away.
    for (const node of state.nodes.values()) {
      const instance = node.instance;
      if (!instance) continue;
      await instance.hotInUse?.runDisposers();
      instance.hotInUse?.detach();
      release(instance.owned);
    }
    // The NestJS apps just released run their shutdown hooks now: let them finish (bounded; the
    // supervisor's --kill-timeout bounds the process anyway).
    await settleNestCloses(APP_CLOSE_MS);
    this.uninstallNativeLoads?.();
    this.uninstallTracking?.();
    state.stacks.close();
    state.nodes.clear();
    state.listeners.clear();
    await state.compiler.flush();
  }
}

/** What every module of the graph runs now: the next start pack's modules. */
function* compiledModules(state: RunnerState): Generator<CompiledModule> {
  for (const node of state.nodes.values()) if (node.version) yield node.version.compiled;
}

/** How long close() waits for the shutdown hooks of the NestJS apps it closes. */
const APP_CLOSE_MS = 5000;

/** Transforms in one start past which esbuild's service is replaced by a fresh one (transform.ts). */
const RECYCLE_ESBUILD_AFTER = 500;

function toStartError(result: Extract<UpdateResult, { status: 'error' }>): DevhotError {
  const e = result.error;
  return new DevhotError(e.code as DevhotError['code'], e.message, {
    ...(e.fix ? { fix: e.fix } : {}),
    ...(e.file && e.line ? { loc: { file: e.file, line: e.line, column: e.column ?? 1 } } : {}),
    ...(e.frame ? { frame: e.frame } : {}),
    cause: result.error,
  });
}

/**
 * The modules whose workers or forked children run one of `files` (owned.ts): re-running such a
 * module stops its worker or child with its old instance and makes a new one, on the new code.
 * With what to tell the user ("worker src/job.ts"). Only the instances that made one are looked
 * at (state.spawners): a look at every module cost ~0.08 ms an update at 3,000 modules.
 */
function spawnersOf(state: RunnerState, files: ReadonlySet<string>): { rerun: ModuleNode[]; restarted: string[] } {
  const rerun: ModuleNode[] = [];
  const restarted: string[] = [];
  for (const instance of state.spawners) {
    const { node } = instance;
    if (node.instance !== instance || !instance.owned || instance.owned.runs.size === 0) {
      state.spawners.delete(instance); // replaced, or what it made has ended
      continue;
    }
    const changed = runsChanged(instance.owned, files);
    if (changed.length === 0) continue;
    rerun.push(node);
    for (const run of changed) restarted.push(`${run.kind} ${run.main ? state.rel(run.main) : `started by ${state.rel(node.file)}`}`);
  }
  return { rerun, restarted };
}
