/**
 * The app processes of one devhot run: the one serving (`current`) and those being stopped. It
 * starts each new process with the environment and the listening sockets devhot holds, keeps a
 * copy of every socket a process opens (so connections wait in the backlog while no process
 * runs), and tracks every stop so that devhot's exit waits for all of them.
 */
import type { ResolvedConfig } from '../config.js';
import { readEnvFiles } from '../config.js';
import type { AppConfig, FromApp, ListenKey } from '../shared/ipc.js';
import { AppProcess } from './app-process.js';

export interface AppSlotOptions {
  config: ResolvedConfig;
  /** The browser client's <script> tag (the channel's port and token). */
  clientTag: string;
  /** A process listens on an address (every time; the slot keeps the first handle per address). */
  onListening(key: ListenKey, url: string): void;
  onMessage(message: FromApp): void;
  onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  onExit(proc: AppProcess, code: number | null, signal: NodeJS.Signals | null): void;
}

export class AppSlot {
  private serving: AppProcess | undefined;
  /** The listening sockets, by address: handed to every new process before its entry runs. */
  private readonly handles = new Map<ListenKey, object>();
  /** Processes being stopped; closeAll() waits for every one, so none outlives devhot. */
  private readonly stopping = new Map<AppProcess, Promise<void>>();
  private readonly appConfig: AppConfig;

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
      host: config.host,
      keepWebsockets: config.keepWebsockets,
    };
  }

  /** The process that serves (or last served, or is starting as the first one). */
  get current(): AppProcess | undefined {
    return this.serving;
  }

  /** A new process, not started and not yet current. */
  spawn(): AppProcess {
    const { config } = this.options;
    // The tag is in the environment too, for templates that add it themselves (--no-inject).
    const env: NodeJS.ProcessEnv = { ...process.env, ...readEnvFiles(config.envFiles), DEVHOT_CLIENT_TAG: this.options.clientTag };
    // The app writes into a pipe (devhot copies it to the terminal): keep its colours on when
    // the terminal has them, as libraries (chalk, picocolors, pino-pretty) read FORCE_COLOR.
    if (process.stdout.isTTY && env.NO_COLOR === undefined && env.FORCE_COLOR === undefined) env.FORCE_COLOR = '1';
    const proc: AppProcess = new AppProcess({
      config: this.appConfig,
      env,
      execArgv: config.execArgv,
      handles: this.handles,
      pipeStdin: config.shortcuts,
      onListening: (key, url, handle) => {
        if (handle && !this.handles.has(key)) this.handles.set(key, handle);
        this.options.onListening(key, url);
      },
      onMessage: (message) => this.options.onMessage(message),
      onOutput: (stream, chunk) => this.options.onOutput(stream, chunk),
      onExit: (code, signal) => this.options.onExit(proc, code, signal),
    });
    return proc;
  }

  /** `proc` serves from now on. */
  promote(proc: AppProcess): void {
    this.serving = proc;
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

  /** devhot exits: every process stops, then the held sockets close. */
  async closeAll(): Promise<void> {
    // Processes retired by a restart may still be draining keep-alive connections: at exit
    // nobody is left to serve, so they get the signal now.
    for (const proc of this.stopping.keys()) if (proc !== this.serving) proc.hurry();
    if (this.serving) void this.stop(this.serving, 'exit');
    await Promise.all(this.stopping.values());
    for (const handle of this.handles.values()) (handle as { close?: () => void }).close?.();
    this.handles.clear();
  }
}
