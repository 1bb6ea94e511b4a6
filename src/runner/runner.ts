/**
 * The runner: loads the user's entry into this process and applies saved changes to it in place.
 *
 *   update(files) → compile what changed → plan (walk importers up to an accepting boundary)
 *                 → dispose the instances being replaced → link + evaluate the new ones
 *                 → commit, or roll back on error → accept callbacks → prune
 *
 * Updates are serialised: a call made while one runs waits for it, so the last save always wins.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DevhotError, ErrorCodes } from '../errors.js';
import { createCompiler, type Compiler } from './compile.js';
import { ModuleNode, planUpdate, relink, type ModuleVersion, type UpdatePlan } from './graph.js';
import type { HotHost, HotListener } from './hot.js';
import { LoadError, Transaction, setActiveTransaction, type LoaderHost } from './loader.js';
import { createResolver, type Resolver } from './resolve.js';
import { syncNamespace } from './instance.js';
import { unregisterFile } from './stack.js';
import { loadTsconfigForEsbuild } from './esbuild-tsconfig.js';
import { createFormatLookup } from './package-type.js';
import { toErrorPayload } from './error-payload.js';
import type { Rung, UpdateResult } from '../shared/results.js';
import type { FileChange } from '../shared/ipc.js';
import type { ResolvedRunnerOptions, RunnerOptions } from './options.js';
import { resolveRunnerOptions } from './options.js';

export type { Rung, UpdateResult };

export interface Runner {
  readonly options: ResolvedRunnerOptions;
  /** Every user module loaded, by absolute file. */
  readonly modules: ReadonlyMap<string, ModuleNode>;
  /** Load and run the entry. Rejects with a DevhotError (code, file, line, frame) if it fails. */
  start(): Promise<UpdateResult>;
  /** Apply changed, added or deleted files (absolute or relative to root). */
  update(files: ReadonlyArray<string | FileChange>): Promise<UpdateResult>;
  /** Re-execute the entry (or, with `all`, every module) without any file having changed. */
  reload(options?: { all?: boolean }): Promise<UpdateResult>;
  /** Deliver a custom event to `import.meta.hot.on(event)` listeners. */
  dispatch(event: string, data?: unknown): void;
  /** Dispose every module (dispose and prune handlers run) and stop accepting updates. */
  close(): Promise<void>;
  /** Files that, when changed, need a process restart rather than an update (tsconfig...). */
  readonly configFiles: ReadonlySet<string>;
  /** Compile cache hits and misses since creation (memory, disk, esbuild + rewrite). */
  readonly compilerStats: Readonly<Compiler['stats']>;
}

const MAX_PASSES = 32;

export function createRunner(userOptions: RunnerOptions): Runner {
  const options = resolveRunnerOptions(userOptions);
  const { root } = options;
  const nodes = new Map<string, ModuleNode>();
  const listeners = new Map<string, Set<HotListener>>();
  const resolver: Resolver = createResolver({ root, tsconfig: options.tsconfig });
  const esbuildTsconfig = loadTsconfigForEsbuild(root, options.tsconfig);
  const compiler: Compiler = createCompiler({
    cacheDir: options.cacheDir,
    tsconfigRaw: esbuildTsconfig.raw,
    defaultFormat: createFormatLookup(),
  });
  const configFiles = new Set<string>([...resolver.configFiles, ...esbuildTsconfig.files]);
  let entryNode: ModuleNode | undefined;
  let started = false;
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();
  /** Files of a failed update, retried with the next one until it succeeds. */
  const retry = new Set<string>();
  /** Modules that invalidated outside an update; applied as an update of their own. */
  const lateInvalidations = new Set<ModuleNode>();

  const rel = (file: string) => relative(root, file) || file;

  const loaderHost: LoaderHost = {
    root,
    entryFile: options.entry,
    compiler,
    resolver,
    nodes,
    hotHost: (node) => hotHost(node),
  };

  let currentTxn: Transaction | undefined;

  function hotHost(node: ModuleNode): HotHost {
    return {
      resolveDep: (specifier) => {
        const r = resolver.resolve(specifier, node.file, 'import');
        if (r.kind !== 'user') {
          throw new DevhotError(ErrorCodes.RESOLVE, `import.meta.hot.accept('${specifier}') in ${rel(node.file)}: only user modules can be accepted, not ${r.kind === 'builtin' ? r.id : r.url}`, {
            fix: 'Accept a file of your own project; packages in node_modules are never re-executed.',
          });
        }
        return r.file;
      },
      invalidate: (message) => {
        if (currentTxn) currentTxn.invalidated.set(node, message);
        else {
          lateInvalidations.add(node);
          void enqueue(() => applyInvalidations()).catch(() => {});
        }
      },
      send: (event, data) => options.onHotSend?.(event, data, node.file),
      addListener: (event, listener) => {
        let set = listeners.get(event);
        if (!set) listeners.set(event, (set = new Set()));
        set.add(listener);
      },
      removeListener: (event, listener) => listeners.get(event)?.delete(listener),
    };
  }

  function dispatch(event: string, data?: unknown): void {
    for (const listener of [...(listeners.get(event) ?? [])]) {
      try {
        listener(data);
      } catch (error) {
        options.onListenerError?.(event, error);
      }
    }
  }

  /** Built-in events under devhot's name and Vite's, so code written for Vite keeps working. */
  function emit(name: 'beforeUpdate' | 'afterUpdate' | 'error' | 'invalidate' | 'beforeFullReload', data: unknown): void {
    dispatch(`devhot:${name}`, data);
    dispatch(`vite:${name}`, data);
  }

  function enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = queue.then(task, task);
    queue = run.catch(() => {});
    return run;
  }

  function absolute(file: string): string {
    return isAbsolute(file) ? file : resolve(root, file);
  }

  // ------------------------------------------------------------------------------------- start

  async function startNow(): Promise<UpdateResult> {
    const outcome = await attemptStart();
    if (outcome.status === 'error') throw toStartError(outcome);
    return outcome;
  }

  /** Load and run the entry; a failure is returned (with its phase), not thrown. */
  async function attemptStart(): Promise<UpdateResult> {
    const t0 = performance.now();
    if (!existsSync(options.entry) || !statSync(options.entry).isFile()) {
      return errorResult([options.entry], t0, 'link', new DevhotError(ErrorCodes.ENTRY_NOT_FOUND, `Entry ${rel(options.entry)} not found (looked in ${root})`, {
        fix: 'Pass the path of your server file, e.g. `devhot src/server.ts`, relative to the project root.',
      }));
    }
    if (options.args) process.argv = [process.argv[0]!, options.entry, ...options.args];
    const txn = new Transaction(loaderHost, new Set());
    entryNode = txn.node(options.entry);
    const outcome = await runTransaction(txn, [entryNode], 'start', [options.entry]);
    if (outcome.status === 'error') {
      entryNode = nodes.get(options.entry);
      return outcome;
    }
    started = true;
    if (outcome.status === 'applied' && esbuildTsconfig.decoratorMetadata) {
      outcome.warnings.push(
        'tsconfig.json sets emitDecoratorMetadata, which esbuild does not implement: decorators run, but ' +
          'no design:type/design:paramtypes metadata is emitted, so dependency injection that reads it ' +
          '(NestJS, TypeORM, tsyringe) gets undefined. Use explicit @Inject() tokens, or run that app with tsc.',
      );
    }
    return { ...outcome, duration: performance.now() - t0 };
  }

  function toStartError(result: Extract<UpdateResult, { status: 'error' }>): DevhotError {
    const e = result.error;
    return new DevhotError(e.code as DevhotError['code'], e.message, {
      ...(e.fix ? { fix: e.fix } : {}),
      ...(e.file && e.line ? { loc: { file: e.file, line: e.line, column: e.column ?? 1 } } : {}),
      ...(e.frame ? { frame: e.frame } : {}),
      cause: result.error,
    });
  }

  // ------------------------------------------------------------------------------------ update

  async function updateNow(files: ReadonlyArray<string | FileChange>): Promise<UpdateResult> {
    const t0 = performance.now();
    const asked = files.map((f) => absolute(typeof f === 'string' ? f : f.file));
    if (!started) {
      // The first load failed: any save may be the fix, so try the whole start again. A new file
      // may be what a failed resolution was missing, so forget what the resolver saw last time.
      resolver.clearCache();
      return { ...(await attemptStart()), files: asked, duration: performance.now() - t0 };
    }
    const all = new Set([...asked, ...retry]);
    const changed = new Set<ModuleNode>();
    let structural = false;
    for (const file of all) {
      const node = nodes.get(file);
      if (!node) {
        structural = true; // a new file may satisfy an import that failed to resolve before
        continue;
      }
      if (!existsSync(file)) {
        structural = true;
        if (node === entryNode) {
          retry.add(file);
          return errorResult(asked, t0, 'link', new DevhotError(ErrorCodes.ENTRY_NOT_FOUND, `The entry ${rel(file)} was deleted`, {
            fix: 'Restore it; the previous version keeps running until then.',
          }));
        }
        // The importers must re-link: they either dropped the import or now fail to resolve it.
        // A deleted file nobody imports any more is pruned when its importers commit.
        for (const importer of node.importers) if (existsSync(importer.file)) changed.add(importer);
        continue;
      }
      changed.add(node);
    }
    if (structural) resolver.clearCache();
    if (changed.size === 0) {
      retry.clear();
      return { status: 'unchanged', files: asked, duration: performance.now() - t0 };
    }
    const txn = new Transaction(loaderHost, new Set());
    const result = await runTransaction(txn, [...changed], 'update', asked);
    if (result.status === 'error') for (const f of all) retry.add(f);
    else retry.clear();
    return { ...result, duration: performance.now() - t0 };
  }

  /**
   * One update, possibly in several passes: an accept handler that throws or a module that
   * invalidates sends the update further up, bounded so invalidate() loops terminate.
   */
  async function runTransaction(
    first: Transaction,
    changed: ModuleNode[],
    mode: 'start' | 'update' | 'reload' | 'invalidate',
    files: string[],
  ): Promise<UpdateResult> {
    // start/reload re-run exactly `changed`; update/invalidate walk up to the boundaries.
    const direct = mode === 'start' || mode === 'reload';
    const t0 = performance.now();
    const reexecuted: string[] = [];
    const boundaries = new Set<string>();
    const pruned: string[] = [];
    const warnings: string[] = [];
    const ignoreSelfAccept = new Set<ModuleNode>();
    const ignoreAccept = new Set<string>();
    let entryReason: string | undefined;
    let txn = first;
    let pending = changed;
    let compile = mode === 'start' || mode === 'update';
    if (mode === 'invalidate') for (const m of changed) ignoreSelfAccept.add(m);

    if (!direct) emit('beforeUpdate', { files: files.map(rel) });
    for (let pass = 0; pending.length > 0; pass++) {
      if (pass >= MAX_PASSES) {
        warnings.push(`stopped after ${MAX_PASSES} passes of invalidate()/accept failures`);
        break;
      }
      // 1. Compile the changed files and whatever new they import. Nothing is disposed yet.
      try {
        if (compile) {
          await txn.discover(pending, true);
          // A file saved without changes (same content, same resolved imports) needs no update.
          for (const n of pending) {
            const staged = txn.staged.get(n);
            if (mode === 'update' && staged && n.version && n.instance?.status === 'evaluated' && sameVersion(staged, n.version)) {
              txn.staged.delete(n);
              txn.reexecute.delete(n);
            }
          }
          pending = pending.filter((n) => txn.staged.has(n));
          if (pending.length === 0 && pass === 0) return { status: 'unchanged', files, duration: performance.now() - t0 };
        }
      } catch (error) {
        return await failure(error, files, t0, txn, []);
      }

      // 2. Plan: who re-executes, who accepts.
      const plan: UpdatePlan = direct && pass === 0
        ? { reexecute: new Set(pending), acceptedDeps: new Map(), selfAccepted: new Set(), entryReason: undefined, restartReason: undefined }
        : planUpdate(pending, { entry: entryNode, root, ignoreSelfAccept, ignoreAccept });
      if (plan.restartReason) {
        await txn.rollback();
        return { status: 'needs-restart', rung: 'restart', reason: plan.restartReason, files, duration: performance.now() - t0 };
      }
      if (plan.entryReason) {
        entryReason ??= plan.entryReason;
        emit('beforeFullReload', { reason: plan.entryReason });
      }
      for (const n of plan.reexecute) txn.reexecute.add(n);
      const order = txn.evaluationOrder([...plan.reexecute]);

      // 3. Dispose what is replaced (importers first), then link and run the new code.
      currentTxn = txn;
      setActiveTransaction(txn);
      const disposed: ModuleNode[] = [];
      let cleanedUp = false;
      try {
        for (let i = order.length - 1; i >= 0; i--) {
          const old = order[i]!.instance;
          if (old && old.status === 'evaluated') {
            disposed.push(order[i]!);
            if (old.hot.disposers.length > 0) cleanedUp = true;
            for (const e of await old.hot.runDisposers()) warnings.push(`dispose handler of ${rel(order[i]!.file)} threw: ${describe(e)}`);
          }
        }
        try {
          await txn.linkAndEvaluate(order);
        } catch (error) {
          currentTxn = undefined;
          setActiveTransaction(undefined);
          // Without a dispose handler nothing was cleaned up: the old instances are whole again.
          return await failure(error, files, t0, txn, cleanedUp ? disposed : []);
        }
      } finally {
        currentTxn = undefined;
        setActiveTransaction(undefined);
      }

      // 4. Commit, prune, and hand the new modules to the boundaries.
      const orphans = txn.commit();
      for (const n of order) reexecuted.push(rel(n.file));
      pruned.push(...(await prune(orphans, warnings)));
      const next = new Set<ModuleNode>();
      for (const [boundary, deps] of plan.acceptedDeps) {
        boundaries.add(rel(boundary.file));
        for (const reg of boundary.instance!.hot.accepts) {
          const hit = reg.deps.filter((f) => [...deps].some((d) => d.file === f));
          if (hit.length === 0 || !reg.callback) continue;
          const mods = reg.deps.map((f) => ([...deps].some((d) => d.file === f) ? nodes.get(f)?.namespace : undefined));
          try {
            await reg.callback(reg.array ? mods : mods[0]);
          } catch (error) {
            // A handler that throws did not accept: the update goes on to the boundary's importers.
            warnings.push(`accept handler in ${rel(boundary.file)} threw: ${describe(error)}`);
            for (const d of deps) ignoreAccept.add(`${boundary.file}\0${d.file}`);
            next.add(boundary);
          }
        }
      }
      for (const mod of plan.selfAccepted) {
        boundaries.add(rel(mod.file));
        const old = txn.previous.get(mod);
        for (const reg of old?.hot.accepts ?? []) {
          if (reg.deps.length > 0 || !reg.callback) continue;
          try {
            await reg.callback(mod.namespace);
          } catch (error) {
            warnings.push(`accept handler in ${rel(mod.file)} threw: ${describe(error)}`);
            ignoreSelfAccept.add(mod);
            next.add(mod);
          }
        }
      }
      for (const [mod, message] of txn.invalidated) {
        if (ignoreSelfAccept.has(mod) && !next.has(mod)) {
          warnings.push(`${rel(mod.file)} invalidated again in the same update; ignored so the update ends`);
          continue;
        }
        emit('invalidate', { path: rel(mod.file), message });
        if (message) warnings.push(`${rel(mod.file)} invalidated: ${message}`);
        ignoreSelfAccept.add(mod);
        next.add(mod);
      }
      pending = [...next];
      compile = false;
      txn = new Transaction(loaderHost, new Set());
    }

    const result: UpdateResult = {
      status: 'applied',
      rung: entryReason || direct ? 'entry-reexecuted' : 'hot-update',
      reason: direct ? mode : entryReason,
      files,
      reexecuted,
      boundaries: [...boundaries],
      pruned,
      warnings,
      duration: performance.now() - t0,
    };
    if (!direct) emit('afterUpdate', { files: files.map(rel), reexecuted, rung: result.rung });
    return result;
  }

  /**
   * Report a failed pass and roll it back. The payload is built first: the stack of an error
   * thrown by new code is mapped lazily, and the rollback unregisters the new versions' maps.
   */
  async function failure(error: unknown, files: string[], t0: number, txn: Transaction, disposed: ModuleNode[]): Promise<UpdateResult> {
    const phase = error instanceof LoadError ? error.phase : 'evaluate';
    const result = errorResult(files, t0, phase, error);
    await txn.rollback();
    const restoreError = await restore(disposed);
    if (restoreError && result.status === 'error') {
      result.error.message += `; the previous version could not be run again either: ${restoreError}`;
    }
    emit('error', result.status === 'error' ? result.error : undefined);
    return result;
  }

  /**
   * The last good code keeps serving after a failed evaluation (DESIGN.md, invariants), but the
   * modules disposed for the update have already closed their servers and timers: run their
   * previous versions again, as fresh instances (`hot.data` as their dispose handlers left it).
   * Returns why that failed too, if it did.
   */
  async function restore(disposed: ModuleNode[]): Promise<string | undefined> {
    const live = disposed.filter((n) => nodes.has(n.file) && n.version);
    if (live.length === 0) return undefined;
    const txn = new Transaction(loaderHost, new Set(live));
    const order = txn.evaluationOrder(live);
    currentTxn = txn;
    setActiveTransaction(txn);
    try {
      await txn.linkAndEvaluate(order);
    } catch (error) {
      await txn.rollback();
      return describe(error instanceof LoadError ? error.error : error);
    } finally {
      currentTxn = undefined;
      setActiveTransaction(undefined);
    }
    txn.commit();
    return undefined;
  }

  function errorResult(files: string[], t0: number, phase: 'transform' | 'link' | 'evaluate', error: unknown): UpdateResult {
    const inner = error instanceof LoadError ? error.error : error;
    const file = error instanceof LoadError ? error.file : undefined;
    return { status: 'error', phase, error: toErrorPayload(inner, { root, file, phase }), files, duration: performance.now() - t0 };
  }

  /** Dispose and drop modules nobody imports any more, and what only they imported. */
  async function prune(candidates: ModuleNode[], warnings: string[]): Promise<string[]> {
    const dropped: string[] = [];
    const queue = [...candidates];
    while (queue.length > 0) {
      const node = queue.pop()!;
      if (node.importers.size > 0 || node === entryNode || !nodes.has(node.file)) continue;
      const instance = node.instance;
      if (instance) {
        for (const e of await instance.hot.runDisposers()) warnings.push(`dispose handler of ${rel(node.file)} threw: ${describe(e)}`);
        for (const e of await instance.hot.runPruners()) warnings.push(`prune handler of ${rel(node.file)} threw: ${describe(e)}`);
        instance.hot.detach();
      }
      node.instance = undefined;
      syncNamespace(node);
      nodes.delete(node.file);
      unregisterFile(node.file);
      node.runtimeImports.clear();
      queue.push(...relink(node, []));
      dropped.push(rel(node.file));
    }
    return dropped;
  }

  async function applyInvalidations(): Promise<UpdateResult> {
    const t0 = performance.now();
    const mods = [...lateInvalidations].filter((n) => nodes.has(n.file));
    lateInvalidations.clear();
    if (mods.length === 0 || closed) return { status: 'unchanged', files: [], duration: 0 };
    const txn = new Transaction(loaderHost, new Set());
    const result = { ...(await runTransaction(txn, mods, 'invalidate', mods.map((m) => m.file))), duration: performance.now() - t0 };
    options.onUpdate?.(result);
    return result;
  }

  async function reloadNow(all: boolean): Promise<UpdateResult> {
    const t0 = performance.now();
    if (!started) return updateNow([]);
    const mods = all ? [...nodes.values()] : entryNode ? [entryNode] : [];
    const txn = new Transaction(loaderHost, new Set());
    const result = await runTransaction(txn, mods, 'reload', []);
    if (result.status === 'applied') return { ...result, reason: all ? 'reload (all modules)' : 'reload', duration: performance.now() - t0 };
    return { ...result, duration: performance.now() - t0 };
  }

  function guard<T>(fn: () => Promise<T>): Promise<T> {
    if (closed) return Promise.reject(new DevhotError(ErrorCodes.CLOSED, 'This runner is closed', { fix: 'Create a new runner.' }));
    return enqueue(fn);
  }

  let closing: Promise<void> | undefined;
  return {
    options,
    modules: nodes,
    configFiles,
    compilerStats: compiler.stats,
    start: () => guard(startNow),
    update: (files) => guard(() => updateNow(files)),
    reload: (opts) => guard(() => reloadNow(opts?.all ?? false)),
    dispatch,
    close() {
      closing ??= enqueue(async () => {
        closed = true;
        // Discovery order puts the entry first: it closes its server before its deps go away.
        for (const node of nodes.values()) {
          const instance = node.instance;
          if (!instance) continue;
          await instance.hot.runDisposers();
          instance.hot.detach();
        }
        for (const node of nodes.values()) unregisterFile(node.file);
        nodes.clear();
        listeners.clear();
        await compiler.flush();
      });
      return closing;
    },
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Same code and the same resolved dependencies: applying it would change nothing. */
function sameVersion(a: ModuleVersion, b: ModuleVersion): boolean {
  return a.compiled.hash === b.compiled.hash && a.deps.length === b.deps.length && a.deps.every((d, i) => d === b.deps[i]);
}
