/**
 * Who started what (see owned.ts for the rules): process-wide functions are wrapped once per
 * process (process listeners, setTimeout/setInterval and node:timers, child_process.fork; workers
 * are made in native-loads.ts) and report to the instance that owns the call. Runners that want
 * it register while they run; the wrappers find an instance through the runner whose graph holds
 * the code on the stack.
 */
import childProcess, { type ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { syncBuiltinESMExports } from 'node:module';
import timers from 'node:timers';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BroadcastChannel, type Worker } from 'node:worker_threads';
import { CHILD_FILES_CMD, WORKER_FILES_CHANNEL, type WorkerFilesMessage } from '../hooks/protocol.js';
import type { ModuleInstance } from './instance.js';
import { closeNestApp, type NestApp } from './nest-apps.js';
import { ownedResources, type SpawnedRun } from './owned.js';
import type { RunnerState } from './state.js';

interface Tracking {
  runners: Set<RunnerState>;
  /** Owned workers by threadId, for what they report running (child-files.ts). */
  workers: Map<number, { worker: Worker; owner: ModuleInstance }>;
  /** The instance whose code runs now (its evaluation, or a callback of a timer it owns). */
  owner: ModuleInstance | undefined;
}

const KEY = Symbol.for('devhot.resourceTracking');
const kOwner = Symbol('devhot.owner');
type Timer = NodeJS.Timeout & { [kOwner]?: ModuleInstance };

function tracking(): Tracking | undefined {
  return (globalThis as unknown as Record<symbol, Tracking | undefined>)[KEY];
}

/** Track what this runner's instances start; returns the function that stops it. */
export function installResourceTracking(state: RunnerState): () => void {
  const global = globalThis as unknown as Record<symbol, Tracking | undefined>;
  let t = global[KEY];
  if (!t) {
    t = global[KEY] = { runners: new Set(), workers: new Map(), owner: undefined };
    listenToWorkers(t);
    wrapListeners(t, process);
    wrapTimers(t);
    wrapFork(t);
    // A cluster primary's listeners too: `cluster.on('exit', () => cluster.fork())` of a replaced
    // entry would fork again for each worker its stop ends. Loaded only now, after wrapFork:
    // Node's cluster takes child_process.fork when it loads, and forks its workers through it.
    wrapListeners(t, process.getBuiltinModule('node:cluster') as unknown as EventEmitter);
  }
  t.runners.add(state);
  const installed = t;
  return () => installed.runners.delete(state);
}

/** Run `fn` as `instance` (its evaluation): what it starts is the instance's. */
export function runAs<T>(instance: ModuleInstance | undefined, fn: () => T): T {
  const t = tracking();
  if (!t) return fn();
  const before = t.owner;
  t.owner = instance;
  try {
    return fn();
  } finally {
    t.owner = before;
  }
}

/**
 * Who gets a NestJS app that a call made now will make (nest-apps.ts): the instance that owns
 * the call, as for a process listener (the one evaluating, else the nearest project frame).
 */
export function appOwner(): ((app: NestApp) => void) | undefined {
  const owner = ownerOf(true);
  if (!owner) return undefined;
  // Now, while the instance runs: release() marks it when the instance is replaced.
  const owned = (owner.owned ??= ownedResources());
  return (app) => {
    if (owned.released) closeNestApp(app);
    else owned.apps.add(app);
  };
}

/** A worker made by running code, from `filename` (native-loads.ts makes the Worker class). */
export function ownWorker(worker: Worker, filename: unknown): void {
  const t = tracking();
  const owner = ownerOf(true);
  if (!t || !owner) return;
  const owned = (owner.owned ??= ownedResources());
  owned.workers.add(worker);
  owned.runs.set(worker, spawnedRun('worker', filename));
  spawnedBy(t, owner);
  const { threadId } = worker;
  t.workers.set(threadId, { worker, owner });
  worker.once('exit', () => {
    owned.workers.delete(worker);
    owned.runs.delete(worker);
    t.workers.delete(threadId);
  });
}

/** `owner` made a worker or child: its runner looks at it on every save (runner.ts, spawnersOf). */
function spawnedBy(t: Tracking, owner: ModuleInstance): void {
  for (const state of t.runners) if (state.nodes.get(owner.node.file)?.instance === owner) state.spawners.add(owner);
}

/** What a worker or child runs: its main file (a path, `file:` URL or URL, relative to the cwd as Node takes it). */
function spawnedRun(kind: SpawnedRun['kind'], main: unknown): SpawnedRun {
  let file: string | undefined;
  try {
    if (main instanceof URL || (typeof main === 'string' && main.startsWith('file:'))) file = fileURLToPath(main);
    else if (typeof main === 'string' && !main.includes('\n')) file = resolve(main);
  } catch {
    file = undefined;
  }
  return { kind, main: file, files: new Set(file ? [file] : []) };
}

/** Workers post the project files they load (src/hooks/child-files.ts). */
function listenToWorkers(t: Tracking): void {
  const channel = new BroadcastChannel(WORKER_FILES_CHANNEL);
  channel.unref();
  channel.onmessage = (event) => {
    const { threadId, files } = (event as { data: WorkerFilesMessage }).data;
    const known = t.workers.get(threadId);
    const run = known?.owner.owned?.runs.get(known.worker);
    if (run) for (const file of files) run.files.add(file);
  };
}

/**
 * The instance that owns a call. `deep` (listeners, workers, children): the one evaluating, else
 * the nearest frame of user code, so a package registering on the code's behalf counts. Otherwise
 * (timers) only a direct caller in user code: a package's own singleton interval, started the
 * first time user code calls it, is the package's and outlives the instance.
 */
function ownerOf(deep: boolean): ModuleInstance | undefined {
  const t = tracking();
  if (!t || t.runners.size === 0) return undefined;
  return deep ? (t.owner ?? ownerOnStack(t, true)) : ownerOnStack(t, false);
}

function ownerOnStack(t: Tracking, deep: boolean): ModuleInstance | undefined {
  const limit = Error.stackTraceLimit;
  const prepare = Error.prepareStackTrace;
  let sites: NodeJS.CallSite[] = [];
  try {
    Error.stackTraceLimit = deep ? 64 : 4;
    Error.prepareStackTrace = (_error, callSites) => callSites;
    const holder = {} as { stack: NodeJS.CallSite[] };
    Error.captureStackTrace(holder, ownerOnStack);
    sites = holder.stack;
  } finally {
    Error.stackTraceLimit = limit;
    Error.prepareStackTrace = prepare;
  }
  // Past ownerOnStack, ownerOf and the wrapper itself.
  for (const site of sites.slice(2, deep ? undefined : 3)) {
    const instance = instanceOf(t, site.getFileName());
    if (instance) return instance;
  }
  return undefined;
}

/**
 * The current instance of the compiled script `name` (`/abs/file.cjs` or `file:///abs/file.ts`,
 * with `?v=N` for later versions: link.ts).
 */
function instanceOf(t: Tracking, name: string | null | undefined): ModuleInstance | undefined {
  if (!name) return undefined;
  const match = /^(.*?)(?:\?v=(\d+))?$/.exec(name)!;
  const file = name.startsWith('file:') ? fileURLToPath(match[1]!) : match[1]!;
  const number = match[2] ? Number(match[2]) : 1;
  for (const state of t.runners) {
    const instance = state.nodes.get(file)?.instance;
    if (instance && instance.version.number === number) return instance;
  }
  return undefined;
}

function wrapListeners(t: Tracking, target: EventEmitter): void {
  const emitter = target as unknown as Record<string, (event: string | symbol, listener: (...args: unknown[]) => void) => unknown>;
  for (const method of ['on', 'addListener', 'prependListener', 'once', 'prependOnceListener'] as const) {
    const original = emitter[method]!;
    emitter[method] = function (this: EventEmitter, event: string | symbol, listener: (...args: unknown[]) => void) {
      original.call(this, event, listener);
      const owner = t.runners.size > 0 ? ownerOf(true) : undefined;
      if (owner) (owner.owned ??= ownedResources()).listeners.push([target, event, listener]);
      return this;
    };
  }
}

function wrapTimers(t: Tracking): void {
  const { setTimeout: set, setInterval: every, clearTimeout: clear, clearInterval: clearEvery } = timers;
  const own = (timer: Timer, owner: ModuleInstance) => {
    timer[kOwner] = owner;
    (owner.owned ??= ownedResources()).timers.add(timer);
    return timer;
  };
  const disown = (timer: unknown) => {
    const owner = (timer as Timer | undefined)?.[kOwner];
    if (owner) owner.owned?.timers.delete(timer as Timer);
  };
  const wrapped = {
    setTimeout(callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): NodeJS.Timeout {
      // Off the request path: only while an instance runs is anything looked at.
      const owner = t.owner && typeof callback === 'function' ? ownerOf(false) : undefined;
      if (!owner) return set(callback, ms, ...args);
      const timer: Timer = set(function (this: unknown) {
        disown(timer);
        runAs(owner, () => callback.apply(this, args));
      }, ms);
      return own(timer, owner);
    },
    setInterval(callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): NodeJS.Timeout {
      const owner = t.runners.size > 0 && typeof callback === 'function' ? ownerOf(false) : undefined;
      if (!owner) return every(callback, ms, ...args);
      return own(
        every(function (this: unknown) {
          runAs(owner, () => callback.apply(this, args));
        }, ms),
        owner,
      );
    },
    clearTimeout(timer: NodeJS.Timeout | string | number | undefined): void {
      disown(timer);
      clear(timer);
    },
    clearInterval(timer: NodeJS.Timeout | string | number | undefined): void {
      disown(timer);
      clearEvery(timer);
    },
  };
  // util.promisify(setTimeout) must still give the promise form.
  for (const name of ['setTimeout', 'setInterval'] as const) {
    const custom = (timers[name] as unknown as Record<symbol, unknown>)[promisify.custom];
    if (custom) Object.defineProperty(wrapped[name], promisify.custom, { value: custom });
  }
  for (const target of [globalThis, timers] as Array<Record<string, unknown>>) Object.assign(target, wrapped);
  syncBuiltinESMExports();
}

function wrapFork(t: Tracking): void {
  const fork = childProcess.fork;
  childProcess.fork = function (this: unknown, ...args: Parameters<typeof fork>): ChildProcess {
    const child = fork.apply(this, args);
    const owner = t.runners.size > 0 ? ownerOf(true) : undefined;
    if (owner) {
      const owned = (owner.owned ??= ownedResources());
      // cluster.fork() arrives here too (Node's cluster forks through this module's fork).
      const options = (Array.isArray(args[1]) ? args[2] : args[1]) as { env?: NodeJS.ProcessEnv } | undefined;
      const run = spawnedRun(options?.env?.NODE_UNIQUE_ID === undefined ? 'child process' : 'cluster worker', args[0]);
      owned.children.add(child);
      owned.runs.set(child, run);
      spawnedBy(t, owner);
      // Internal messages (a NODE_ cmd) never reach the child's user 'message' listeners.
      child.on('internalMessage', (message: { cmd?: unknown; files?: unknown }) => {
        if (message?.cmd === CHILD_FILES_CMD && Array.isArray(message.files)) for (const file of message.files) run.files.add(String(file));
      });
      child.once('exit', () => {
        owned.children.delete(child);
        owned.runs.delete(child);
      });
    }
    return child;
  } as typeof fork;
  syncBuiltinESMExports();
}
