/**
 * The app processes of one devhot run: the one serving (`current`) and those being stopped. It
 * starts each new process with the environment and the listening sockets devhot holds, keeps a
 * copy of every socket a process opens (so connections wait in the backlog while no process
 * runs) plus a spare copy (which the 503 page of fallback.ts may listen on and close), and
 * tracks every stop so that devhot's exit waits for all of them. Once closed it starts nothing.
 */
import type { ResolvedConfig } from '../config.js';
import { readEnvFiles } from '../config.js';
import type { AppConfig, FromApp, ListenKey, StuckAt } from '../shared/ipc.js';
import { withTerminalColours } from './app-fork.js';
import { AppProcess } from './app-process.js';

export interface AppSlotOptions {
  config: ResolvedConfig;
  /** The browser client's <script> tag (the channel's port and token). */
  clientTag: string;
  /** A process listens on an address (every time; the slot keeps the first handle per address). */
  onListening(key: ListenKey, url: string): void;
  /** A message from `proc`, which may not serve (yet, or any more). */
  onMessage(message: FromApp, proc: AppProcess): void;
  /** `proc` serves from now on. */
  onPromote(proc: AppProcess): void;
  onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  onExit(proc: AppProcess, code: number | null, signal: NodeJS.Signals | null): void;
  onBlocked(proc: AppProcess, ms: number, at: StuckAt | undefined): void;
  onUnblocked(proc: AppProcess, ms: number): void;
}

export class AppSlot {
  private serving: AppProcess | undefined;
  /** The listening sockets, by address: handed to every new process before its entry runs. */
  private readonly handles = new Map<ListenKey, object>();
  /**
   * A second copy of each socket, never listened on by the hand-over: the fallback page takes
   * it (and closes it when an app serves again); the next app that serves sends a new one.
   */
  private readonly spares = new Map<ListenKey, object>();
  /** Processes being stopped; closeAll() waits for every one, so none outlives devhot. */
  private readonly stopping = new Map<AppProcess, Promise<void>>();
  /** Every process spawned and not yet exited, so an exit in a hurry can kill them all. */
  private readonly live = new Set<AppProcess>();
  private readonly appConfig: AppConfig;
  private closed = false;

  constructor(private readonly options: AppSlotOptions) {
    const { config } = options;
    this.appConfig = {
      root: config.root,
      entry: config.entry,
      args: [...config.args],
      cacheDir: config.cacheDir,
      tsconfig: config.tsconfig,
      drainTimeout: config.killTimeout,
      inject: config.inject ? options.clientTag : false,
      blockedAfter: config.updateTimeout,
      host: config.host,
      keepWebsockets: config.keepWebsockets,
    };
  }

  /** The process that serves (or last served, or is starting as the first one). */
  get current(): AppProcess | undefined {
    return this.serving;
  }

  /**
   * A new process, not started and not yet current. Throws when devhot is closing, or when the
   * environment cannot be read or the spawn throws at once; a spawn that fails later (EAGAIN,
   * EMFILE) makes a process that has exited (`spawnFailure`).
   */
  spawn(): AppProcess {
    if (this.closed) throw new Error('devhot is shutting down: no new app process');
    const { config } = this.options;
    // The tag is in the environment too, for templates that add it themselves (--no-inject).
    // As `node --env-file`: a variable the environment already has keeps its value.
    const env = withTerminalColours({ ...readEnvFiles(config.envFiles), ...process.env, DEVHOT_CLIENT_TAG: this.options.clientTag });
    const proc: AppProcess = new AppProcess({
      config: this.appConfig,
      env,
      execArgv: config.execArgv,
      handles: this.handles,
      wantsSpare: this.lacksSpare,
      pipeStdin: config.shortcuts,
      onListening: (key, url, handle) => {
        // Its spare copy comes with it (app/main.ts).
        if (handle && !this.handles.has(key)) this.handles.set(key, handle);
        this.options.onListening(key, url);
      },
      onSpare: (key, handle) => this.keepSpare(key, handle),
      onMessage: (message) => this.options.onMessage(message, proc),
      onOutput: (stream, chunk) => this.options.onOutput(stream, chunk),
      onBlocked: (ms, at) => this.options.onBlocked(proc, ms, at),
      onUnblocked: (ms) => this.options.onUnblocked(proc, ms),
      onExit: (code, signal) => {
        this.live.delete(proc);
        this.options.onExit(proc, code, signal);
      },
    });
    if (!proc.exited) this.live.add(proc);
    return proc;
  }

  /** Ask `proc` (which serves) for a spare copy of each socket the slot has none of. */
  requestSpares(proc: AppProcess): void {
    for (const key of this.handles.keys()) if (this.lacksSpare(key)) proc.send({ type: 'spare', key });
  }

  /** Whether the fallback page has no spare copy of this socket: a process that has it is asked for one. */
  private readonly lacksSpare = (key: ListenKey): boolean => !this.spares.has(key);

  /** Take the spare copies `which` wants (the fallback page listens on them and closes them). */
  takeSpares(which: (key: ListenKey) => boolean): Map<ListenKey, object> {
    const taken = new Map<ListenKey, object>();
    for (const [key, handle] of this.spares) {
      if (!which(key)) continue;
      taken.set(key, handle);
      this.spares.delete(key);
    }
    return taken;
  }

  private keepSpare(key: ListenKey, handle: object): void {
    if (this.closed || this.spares.has(key)) (handle as { close?: () => void }).close?.();
    else this.spares.set(key, handle);
  }

  /** `proc` serves from now on. */
  promote(proc: AppProcess): void {
    this.serving = proc;
    this.options.onPromote(proc);
  }

  isStopping(proc: AppProcess): boolean {
    return this.stopping.has(proc);
  }

  /** Drain, signal, and SIGKILL after --kill-timeout; one stop per process however often asked. */
  stop(proc: AppProcess, reason: 'restart' | 'exit'): Promise<void> {
    let stop = this.stopping.get(proc);
    if (!stop) {
      // Forgotten once stopped ('exit', which onExit checks against this map, fires before).
      stop = proc.stop(this.options.config.signal, this.options.config.killTimeout, reason).finally(() => this.stopping.delete(proc));
      this.stopping.set(proc, stop);
    }
    return stop;
  }

  /** A process a new one replaced: it drains and goes, in the background. */
  retire(proc: AppProcess | undefined): void {
    if (proc && !proc.exited) void this.stop(proc, 'restart');
  }

  /** Kill every process now (devhot exits without waiting: a second Ctrl-C). */
  killAll(): void {
    this.closed = true;
    for (const proc of this.live) proc.kill();
  }

  /** devhot exits: every process stops, then the held sockets close. Nothing starts afterwards. */
  async closeAll(): Promise<void> {
    this.closed = true;
    // A process spawned but never promoted (a start cut short by the exit) goes as well.
    for (const proc of this.live) if (proc !== this.serving && !this.stopping.has(proc)) void this.stop(proc, 'exit');
    // Processes retired by a restart may still be draining keep-alive connections: at exit
    // nobody is left to serve, so they get the signal now.
    for (const proc of this.stopping.keys()) if (proc !== this.serving) proc.hurry();
    if (this.serving) void this.stop(this.serving, 'exit');
    await Promise.all(this.stopping.values());
    for (const handle of [...this.handles.values(), ...this.spares.values()]) (handle as { close?: () => void }).close?.();
    this.handles.clear();
    this.spares.clear();
  }
}
