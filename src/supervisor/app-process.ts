/**
 * One app process as the supervisor sees it: started with the listening handles the supervisor
 * holds, driven by IPC requests, stopped gracefully (drain, signal, SIGKILL) with its whole
 * process group, so nothing it started outlives it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AppConfig, FileChange, FromApp, ListenKey, ToApp } from '../shared/ipc.js';
import type { ErrorPayload, UpdateResult } from '../shared/results.js';
import type { ModuleInfo } from '../shared/protocol.js';

const APP_MAIN = fileURLToPath(new URL('../app/main.js', import.meta.url));

export interface AppProcessOptions {
  config: AppConfig;
  env: NodeJS.ProcessEnv;
  execArgv: readonly string[];
  /** Listening sockets to hand over before the entry runs. */
  handles: ReadonlyMap<ListenKey, object>;
  /** Pipe stdin through the supervisor (shortcuts read it) instead of sharing the terminal's. */
  pipeStdin: boolean;
  onListening(key: ListenKey, url: string, handle: object | undefined): void;
  onMessage(message: FromApp): void;
  onExit(code: number | null, signal: NodeJS.Signals | null): void;
  /** The app wrote to stdout/stderr (already copied to devhot's own, byte for byte). */
  onOutput?(stream: 'stdout' | 'stderr', chunk: Buffer): void;
}

export type StartOutcome = { ok: true; result: UpdateResult } | { ok: false; error: ErrorPayload | undefined; exited: boolean };

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** What an update or reload resolves to when the app cannot answer it. */
function notApplied(reason: string): UpdateResult {
  return { status: 'needs-restart', rung: 'restart', reason, files: [], duration: 0 };
}

export class AppProcess {
  readonly child: ChildProcess;
  private nextId = 1;
  /** Requests waiting for the app's answer, by id: settled with it, or `gone` if the app exits. */
  private readonly pending = new Map<number, { settle(value: unknown): void; gone(): void }>();
  private startWaiter: ((outcome: StartOutcome) => void) | undefined;
  private drainWaiter: (() => void) | undefined;
  exited = false;
  readonly exitPromise: Promise<void>;

  constructor(private readonly options: AppProcessOptions) {
    this.child = fork(APP_MAIN, [], {
      env: { ...options.env, DEVHOT_APP: JSON.stringify(options.config) },
      execArgv: [...options.execArgv],
      // With shortcuts, stdin is piped and the supervisor forwards what is not a shortcut.
      // stdout/stderr pass through the supervisor, so tools can subscribe to the app's output.
      stdio: [options.pipeStdin ? 'pipe' : 'inherit', 'pipe', 'pipe', 'ipc'],
      // Its own process group, so a stop reaches every process the app started.
      detached: true,
    });
    this.exitPromise = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exited = true;
        this.startWaiter?.({ ok: false, error: undefined, exited: true });
        this.startWaiter = undefined;
        this.drainWaiter?.();
        for (const request of this.pending.values()) request.gone();
        this.pending.clear();
        options.onExit(code, signal);
        resolve();
      });
    });
    this.child.on('error', () => {
      // spawn failures surface as 'exit'; nothing else to do here
    });
    this.child.on('message', (message: FromApp, handle?: object) => this.receive(message, handle));
    // A line typed just as the app closes its stdin or dies: EPIPE must not take devhot down.
    this.child.stdin?.on('error', () => {});
    for (const stream of ['stdout', 'stderr'] as const) {
      const target = stream === 'stdout' ? process.stdout : process.stderr;
      this.child[stream]!.on('data', (chunk: Buffer) => {
        target.write(chunk);
        options.onOutput?.(stream, chunk);
      });
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Hand over the held sockets, then run the entry. */
  start(): Promise<StartOutcome> {
    return new Promise((resolve) => {
      this.startWaiter = resolve;
      for (const [key, handle] of this.options.handles) this.send({ type: 'handle', key }, handle);
      this.send({ type: 'start' });
    });
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
    // Children the app left behind in its group go too.
    this.signalGroup('SIGKILL');
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
    if (!pid) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
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
      case 'listen-error':
      case 'config-files':
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
