/**
 * One app process as the supervisor sees it: started with the listening handles the supervisor
 * holds, driven by IPC requests, watched through its watchdog pipe (watchdog-link.ts), stopped
 * gracefully (drain, signal, SIGKILL) with its whole process group and every descendant, so
 * nothing it started outlives it. A spawn that fails ('error' and no 'exit': EAGAIN, ENOMEM,
 * EMFILE) counts as an exit.
 */
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { WATCHDOG_FD, type AppConfig, type FileChange, type FromApp, type ListenKey, type StuckAt, type ToApp } from '../shared/ipc.js';
import type { ErrorPayload, UpdateResult } from '../shared/results.js';
import type { ModuleInfo } from '../shared/protocol.js';
import { descendants, killAll, killQuietly, killTree, startTime } from '../shared/process-tree.js';
import { type AppSpawn, appProcess } from './app-fork.js';
import { spawnError } from './system-errors.js';
import { WatchdogLink, type Block, type Sample } from './watchdog-link.js';

export interface AppProcessOptions extends AppSpawn {
  config: AppConfig;
  /** Listening sockets to hand over before the entry runs. */
  handles: ReadonlyMap<ListenKey, object>;
  /** Whether the supervisor lacks a spare copy of this socket: the start asks for one. */
  wantsSpare?(key: ListenKey): boolean;
  onListening(key: ListenKey, url: string, handle: object | undefined): void;
  /** A copy of a listening socket, asked for with `spare`. */
  onSpare?(key: ListenKey, handle: object): void;
  onMessage(message: FromApp): void;
  onExit(code: number | null, signal: NodeJS.Signals | null): void;
  /** The app wrote to stdout/stderr (already copied to devhot's own, byte for byte). */
  onOutput?(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  /** The app's event loop has not turned for `ms` (its watchdog says), running at `at`. */
  onBlocked?(ms: number, at: StuckAt | undefined): void;
  onUnblocked?(ms: number): void;
}

export type StartOutcome = { ok: true; result: UpdateResult } | { ok: false; error: ErrorPayload | undefined; exited: boolean };

/**
 * Custom events on their way to the app at most. IPC queues without bound while the app does
 * not read (a blocked loop): a flood from a tool would grow the supervisor's memory instead.
 */
const MAX_EVENTS_IN_FLIGHT = 256;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** What an update or reload resolves to when the app cannot answer it. */
function notApplied(reason: string): UpdateResult {
  return { status: 'needs-restart', rung: 'restart', reason, files: [], duration: 0 };
}

/** How a process ended, as the exit event prints it: `code 7`, or the signal's name. */
export function endedBy(status: { code: number | null; signal: NodeJS.Signals | null }): string {
  return status.signal ?? `code ${status.code}`;
}

export class AppProcess {
  readonly child: ChildProcess;
  private nextId = 1;
  /** Requests waiting for the app's answer, by id: settled with it, or `gone` if the app exits. */
  private readonly pending = new Map<number, { settle(value: unknown): void; gone(): void }>();
  private startWaiter: ((outcome: StartOutcome) => void) | undefined;
  private drainWaiter: (() => void) | undefined;
  private readonly watchdog: WatchdogLink;
  private eventsInFlight = 0;
  /** Processes the app started in a group of their own, by pid: their start time (app/detached.ts). */
  private readonly detached = new Map<number, string>();
  exited = false;
  /** The process answered `start` with success. */
  started = false;
  /** Its start passed its deadline, or an update did with its loop blocked: it is not waited for. */
  hung = false;
  /** Why the spawn failed, when it did. */
  spawnFailure: ErrorPayload | undefined;
  /** How the process ended, once it has: its exit code, or the signal that ended it. */
  exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exitPromise: Promise<void>;
  private resolveExit!: () => void;

  constructor(private readonly options: AppProcessOptions) {
    this.child = appProcess(options, options.config);
    this.exitPromise = new Promise((resolve) => (this.resolveExit = resolve));
    this.child.once('exit', (code, signal) => this.markExited(code, signal));
    this.child.on('error', (error: NodeJS.ErrnoException) => {
      // A spawn that failed has no pid and gets no 'exit': it is an exit all the same. Other
      // errors (a message that could not be sent) are followed by 'exit' when they matter.
      if (this.child.pid !== undefined || this.exited) return;
      this.spawnFailure = spawnError(error);
      this.markExited(null, null);
    });
    this.child.on('message', (message: FromApp, handle?: object) => this.receive(message, handle));
    // A line typed just as the app closes its stdin or dies: EPIPE must not take devhot down.
    this.child.stdin?.on('error', () => {});
    // After a failed spawn (EMFILE) the pipes may not exist.
    for (const stream of ['stdout', 'stderr'] as const) {
      const target = stream === 'stdout' ? process.stdout : process.stderr;
      this.child[stream]?.on('data', (chunk: Buffer) => {
        target.write(chunk);
        options.onOutput?.(stream, chunk);
      });
    }
    this.watchdog = new WatchdogLink(this.child.stdio?.[WATCHDOG_FD] as Socket | null | undefined, {
      blocked: (ms, at) => options.onBlocked?.(ms, at),
      unblocked: (ms) => options.onUnblocked?.(ms),
    });
  }

  private markExited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    this.exitStatus = { code, signal };
    this.startWaiter?.({ ok: false, error: this.spawnFailure, exited: true });
    this.startWaiter = undefined;
    this.drainWaiter?.();
    for (const request of this.pending.values()) request.gone();
    this.pending.clear();
    // What the app started and left behind in its group goes with it, and what it started in a
    // group of its own (found by pid, as it said; /proc no longer says whose they are).
    const pid = this.child.pid;
    if (pid) killQuietly(-pid);
    this.killDetached();
    this.options.onExit(code, signal);
    this.resolveExit();
  }

  /** Each detached process the app started that still runs (the same process: its start time), with what runs below it. */
  private killDetached(): void {
    // A detached child leads a group of its own: killTree reaches it, its group and what left that.
    for (const [pid, started] of this.detached) if (startTime(pid) === started) killTree(pid);
    this.detached.clear();
  }

  /** The app's event loop is known blocked right now (its watchdog reported it). */
  get blocked(): boolean {
    return this.watchdog.blocked;
  }

  /** Where the app's main thread runs now (see watchdog-link.ts). */
  sample(): Promise<Sample | undefined> {
    return this.watchdog.sample();
  }

  /** Resolves when the watchdog next reports the loop blocked. */
  nextBlock(): Promise<Block> {
    return this.watchdog.nextBlock();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Hand over the held sockets, then run the entry. */
  start(): Promise<StartOutcome> {
    return new Promise((resolve) => {
      if (this.exited) return resolve({ ok: false, error: this.spawnFailure, exited: true });
      this.startWaiter = (outcome) => {
        if (outcome.ok) this.started = true;
        resolve(outcome);
      };
      for (const [key, handle] of this.options.handles) {
        this.send({ type: 'handle', key }, handle);
        // Asked before 'start', so the copy is sent before the start's outcome and arrives
        // first: a start that fails at once finds it there for the fallback page. Asked after
        // 'start', it came after the failure in a loaded run, and the page never answered.
        if (this.options.wantsSpare?.(key)) this.send({ type: 'spare', key });
      }
      this.send({ type: 'start' });
    });
  }

  /** Give up waiting for the start (it hung): it resolves with `outcome` now. */
  abandonStart(outcome: StartOutcome): void {
    this.startWaiter?.(outcome);
    this.startWaiter = undefined;
  }

  /**
   * A tool's custom event for `import.meta.hot.on`. False when it was dropped: too many are on
   * their way already (the app does not read them, or a tool floods).
   */
  sendEvent(event: string, data: unknown): boolean {
    if (this.exited || !this.child.connected) return true;
    if (this.eventsInFlight >= MAX_EVENTS_IN_FLIGHT) return false;
    this.eventsInFlight++;
    this.child.send({ type: 'event', event, data } satisfies ToApp, (error) => {
      void error; // the channel closed under us: 'exit' follows and says why
      this.eventsInFlight--;
    });
    return true;
  }

  update(changes: FileChange[]): Promise<UpdateResult> {
    return this.request((id) => ({ type: 'update', id, changes }), notApplied);
  }

  reload(all: boolean): Promise<UpdateResult> {
    return this.request((id) => ({ type: 'reload', id, all }), notApplied);
  }

  graph(): Promise<ModuleInfo[]> {
    return this.request(
      (id) => ({ type: 'graph', id }),
      () => [],
    );
  }

  send(message: ToApp, handle?: object): void {
    if (this.exited || !this.child.connected) return;
    this.child.send(message, handle as never, (error) => {
      void error; // the channel closed under us: 'exit' follows and says why
    });
  }

  /**
   * Stop: let the servers drain and dispose handlers run (IPC), send `signal` to the group, and
   * SIGKILL the group if it is still there after `killTimeout`.
   */
  async stop(signal: NodeJS.Signals, killTimeout: number, reason: 'restart' | 'exit'): Promise<void> {
    if (this.exited) return;
    // Its descendants, read while the app is still their parent (see markExited).
    const tree = this.child.pid ? descendants(this.child.pid) : [];
    // A process whose loop is blocked cannot drain or handle a signal: it goes at once.
    if (this.blocked || this.hung) this.kill();
    await Promise.race([
      new Promise<void>((resolve) => {
        this.drainWaiter = resolve;
        this.send({ type: 'shutdown', reason });
      }),
      delay(killTimeout),
    ]);
    this.signalGroup(signal);
    const exited = await Promise.race([this.exitPromise.then(() => true), delay(killTimeout).then(() => false)]);
    if (!exited) this.signalGroup('SIGKILL');
    await this.exitPromise;
    // Children the app left behind go too: those in its group went with markExited.
    killAll(tree);
  }

  /** Stop waiting for the drain (devhot is exiting): the signal goes out now. */
  hurry(): void {
    this.drainWaiter?.();
    this.drainWaiter = undefined;
  }

  /** Kill at once (devhot is exiting on a second Ctrl-C, or the app hangs). */
  kill(): void {
    this.signalGroup('SIGKILL');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (!pid || this.exited) return;
    // SIGKILL reaches the descendants that left the group (`detached` children) too.
    if (signal === 'SIGKILL') killTree(pid);
    else killQuietly(-pid, signal);
  }

  /** Send a request; `gone` makes the answer when the app is not running or exits first. */
  private request<T>(make: (id: number) => ToApp, gone: (why: string) => T): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      if (this.exited) return resolve(gone('the app is not running'));
      this.pending.set(id, {
        settle: (value) => resolve(value as T),
        gone: () => resolve(gone('the app exited during the update')),
      });
      this.send(make(id));
    });
  }

  private settle(id: number, value: unknown): void {
    const request = this.pending.get(id);
    this.pending.delete(id);
    request?.settle(value);
  }

  private receive(message: FromApp, handle: object | undefined): void {
    switch (message.type) {
      case 'started':
        this.startWaiter?.({ ok: true, result: message.result });
        this.startWaiter = undefined;
        return;
      case 'start-failed':
        this.startWaiter?.({ ok: false, error: message.error, exited: false });
        this.startWaiter = undefined;
        return;
      case 'result':
        this.settle(message.id, message.result);
        return;
      case 'listening':
        this.options.onListening(message.key, message.url, handle);
        return;
      case 'graph':
        this.settle(message.id, message.modules);
        return;
      case 'drained':
        this.drainWaiter?.();
        this.drainWaiter = undefined;
        return;
      case 'spare':
        if (handle) this.options.onSpare?.(message.key, handle);
        return;
      case 'want-handle': {
        const held = this.options.handles.get(message.key);
        if (held) this.send({ type: 'handle', key: message.key }, held);
        else this.send({ type: 'no-handle', key: message.key });
        return;
      }
      case 'detached': {
        const started = startTime(message.pid);
        if (started !== undefined) this.detached.set(message.pid, started);
        // An app that starts detached jobs all day: forget the ones that ended.
        if (this.detached.size > 64) for (const [pid, at] of this.detached) if (startTime(pid) !== at) this.detached.delete(pid);
        return;
      }
      case 'listen-error':
      case 'config-files':
      case 'modules':
      case 'http-port':
      case 'uncaught':
      case 'hot-send':
      case 'late-update':
      case 'upgraded-closed':
        this.options.onMessage(message);
        return;
      default: {
        const unknown: never = message;
        void unknown;
      }
    }
  }
}
