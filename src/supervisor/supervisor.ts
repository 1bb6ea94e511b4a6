/**
 * The supervisor: the `devhot` process. It never runs user code. It watches files, owns the
 * listening sockets, starts the app process and climbs the reload ladder for each save:
 * hot update / entry re-execution inside the app, or a zero-downtime process restart.
 *
 * This file is the wiring: channel, watcher, app processes (app-slot.ts) and logger. What to do
 * is decided by the policy (policy.ts); everything that changes the app goes through one queue.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../config.js';
import { startFix, type Logger } from '../logger.js';
import type { ErrorPayload, UpdateResult } from '../shared/results.js';
import type { FileChange, FromApp, ListenKey } from '../shared/ipc.js';
import { SerialQueue, type QueuedBatch } from '../shared/serial-queue.js';
import type { AppProcess, StartOutcome } from './app-process.js';
import { AppSlot } from './app-slot.js';
import { coalesce } from './change-set.js';
import { createWatcher, type Watcher } from './watcher.js';
import { createChannel, type Channel, type ChannelHandlers } from './channel.js';
import { ChannelBridge } from './channel-bridge.js';
import { isExposed } from './channel-guard.js';
import { restartTriggers, SupervisorPolicy, type BatchDecision } from './policy.js';

/** The built browser client the channel serves. */
const CLIENT_FILE = fileURLToPath(new URL('../../client/client.js', import.meta.url));

/**
 * The longest a restart waits for the watcher to settle on the saves it restarts for (plus
 * --delay): a file rewritten without pause must not hold the queue.
 */
const SETTLE_LIMIT_MS = 1000;

export interface SupervisorOptions {
  config: ResolvedConfig;
  logger: Logger;
  version: string;
  /** Called for every update result and restart (the channel listens here). */
  onEvent?: (event: SupervisorEvent) => void;
}

export type SupervisorEvent =
  | { type: 'update'; result: UpdateResult }
  | { type: 'restart'; phase: 'starting' | 'ready' | 'failed'; reason: string }
  | { type: 'hot-send'; event: string; data: unknown; file: string }
  | { type: 'uncaught'; message: string };

export interface Supervisor {
  /** URLs the app listens on. */
  readonly urls: string[];
  /** The current app process id (tests and tools). */
  readonly appPid: number | undefined;
  restart(reason: string): Promise<void>;
  /** Pass a line the user typed on to the app's stdin. */
  forwardStdin(text: string): void;
  reload(all?: boolean): Promise<UpdateResult | undefined>;
  /** Stop the app (gracefully), release the sockets, stop watching. Idempotent. */
  close(): Promise<void>;
}

/** An app process that runs (and so can update). */
function running(app: AppProcess | undefined): boolean {
  return !!app && !app.exited;
}

class DevhotSupervisor implements Supervisor {
  private readonly config: ResolvedConfig;
  private readonly logger: Logger;
  private readonly policy: SupervisorPolicy;
  /** The one queue: updates, restarts and reloads run one at a time, in order. */
  private readonly queue: SerialQueue;
  /** Saves, applied in batches through the queue: those made while one runs form the next. */
  private readonly saves: QueuedBatch<FileChange>;
  /** Listening addresses → their URLs, as the app reported them. */
  private readonly addresses = new Map<ListenKey, string>();
  private readonly bridge: ChannelBridge;
  // Created by start(), in this order: the channel before the app (whose environment carries
  // the channel's script tag), the watcher with the first app.
  private channel!: Channel;
  private apps!: AppSlot;
  private watcher!: Watcher;
  /** The runner's config files, as the app last reported them: a change to one restarts the app. */
  private appConfigFiles: ReadonlySet<string> = new Set();
  /** The start banner is out: later addresses are announced one by one. */
  private started = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: SupervisorOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.policy = new SupervisorPolicy({
      root: this.config.root,
      hot: this.config.hot,
      restartOnCrash: this.config.restartOnCrash,
      restartTrigger: restartTriggers({ ...this.config, appConfigFiles: () => this.appConfigFiles }),
    });
    this.queue = new SerialQueue((error) =>
      this.logger.log({ event: 'warn', message: `internal error: ${(error as Error).stack ?? error}` }),
    );
    this.saves = this.queue.batch((changes) => this.applyBatch(coalesce(changes)));
    this.bridge = new ChannelBridge(this.config.root, { broadcast: (message) => this.channel.broadcast(message) });
  }

  get urls(): string[] {
    return [...this.addresses.values()];
  }

  get appPid(): number | undefined {
    return this.apps.current?.pid;
  }

  async start(): Promise<void> {
    const { config, logger } = this;
    const t0 = performance.now();
    this.channel = await createChannel({
      root: config.root,
      version: this.options.version,
      host: config.host,
      port: config.channelPort,
      allowedHosts: isExposed(config.host) ? [config.host] : [],
      // The guard treats localhost and the loopback IPs on one port as the same origin.
      appOrigins: () => this.urls.map((url) => new URL(url).origin),
      sessionFile: join(config.root, 'node_modules', '.devhot', 'session.json'),
      clientFile: CLIENT_FILE,
      handlers: this.channelHandlers(),
    });
    if (isExposed(config.host)) {
      logger.log({
        event: 'warn',
        message: `the channel listens on ${config.host}: other machines can reach it (they still need the session token)`,
      });
    }
    this.apps = new AppSlot({
      config,
      clientTag: this.channel.scriptTag(),
      onListening: (key, url) => this.onListening(key, url),
      onMessage: (message) => this.onAppMessage(message),
      onOutput: (stream, chunk) => this.channel.log(stream, chunk.toString('utf8')),
      onExit: (proc, code, signal) => this.onExit(proc, code, signal),
    });
    const app = this.apps.spawn();
    this.apps.promote(app);
    this.watcher = createWatcher({
      root: config.root,
      include: config.include,
      exclude: config.exclude,
      extraFiles: [...config.envFiles, ...(config.configFile ? [config.configFile] : [])],
      delay: config.delay,
      poll: config.poll,
      onBatch: (changes) => this.saves.add(changes),
      onError: (error) => logger.log({ event: 'warn', message: `watcher: ${error.message}` }),
    });
    const [outcome] = await Promise.all([app.start(), this.watcher.ready]);
    this.started = true;
    this.bridge.set({ status: outcome.ok ? 'running' : app.exited ? 'stopped' : 'error', pid: app.exited ? undefined : app.pid });
    this.reportStartFailure(outcome, false);
    if (!outcome.ok && outcome.exited) {
      logger.log({ event: 'exit', code: null, signal: null, reason: 'the app exited while starting; waiting for a change' });
    }
    logger.log({
      event: 'start',
      app: outcome.ok ? 'ready' : outcome.exited ? 'exited' : 'failed',
      version: this.options.version,
      readyMs: performance.now() - t0,
      urls: this.urls,
      entry: config.entry,
      channel: this.channel.url,
    });
    if (outcome.ok && outcome.result.status === 'applied') {
      for (const message of outcome.result.warnings) logger.log({ event: 'warn', message });
    }
    if (!config.inject) {
      logger.log({
        event: 'info',
        message: `browser client not injected (--no-inject); add process.env.DEVHOT_CLIENT_TAG to your pages: ${this.channel.scriptTag()}`,
      });
    }
  }

  // ------------------------------------------------------------------------ what tools ask

  async restart(reason: string): Promise<void> {
    if (!(await this.queue.run(() => this.restartNow(reason)))) {
      const app = this.apps.current;
      throw new Error(
        `the restart (${reason}) failed: the new process did not start; ${app && !app.exited ? 'the previous one keeps serving' : 'no app is running'}`,
      );
    }
  }

  forwardStdin(text: string): void {
    this.apps.current?.child.stdin?.write(text);
  }

  async reload(all = false): Promise<UpdateResult | undefined> {
    const result = await this.queue.run(async (): Promise<UpdateResult | undefined> => {
      const app = this.apps.current;
      const decision = this.policy.reload(running(app));
      if (decision.action === 'restart') {
        await this.restartNow(decision.reason);
        return undefined;
      }
      const reloaded = await app!.reload(all); // the policy reloads only a running app
      this.logger.log({ event: 'update', result: reloaded });
      this.emit({ type: 'update', result: reloaded });
      return reloaded;
    });
    // As after a save: what cannot be applied in-process gets a new process.
    const restartFor = result && this.policy.afterUpdate(result);
    if (restartFor) await this.restart(restartFor);
    return result;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.policy.close();
      await this.watcher.close().catch(() => {});
      // An update that never ends (a top-level await that hangs) must not hold the exit:
      // stopping the app below ends whatever request is still waiting for it.
      await Promise.race([this.queue.idle(), new Promise((resolve) => setTimeout(resolve, this.config.killTimeout).unref())]);
      await this.apps.closeAll();
      await this.channel.close();
    })();
    return this.closing;
  }

  private channelHandlers(): ChannelHandlers {
    return {
      state: () => this.bridge.state(),
      graph: async () => {
        const app = this.apps.current;
        return app && !app.exited ? app.graph() : [];
      },
      reload: async (all) => {
        const result = await this.reload(all);
        if (result?.status === 'error') throw new Error(`reload failed (${result.phase}): ${result.error.message}`);
        return result;
      },
      restart: () => this.restart('restart requested by a tool'),
      custom: (event, data) => this.apps.current?.send({ type: 'event', event, data }),
    };
  }

  // ------------------------------------------------------------------------------- saves

  private async applyBatch(changes: FileChange[]): Promise<void> {
    const app = this.apps.current;
    const decision = this.policy.batch(changes, running(app));
    switch (decision.action) {
      case 'none':
        return;
      case 'restart':
        await this.settle(changes);
        await this.restartNow(decision.reason);
        return;
      case 'update':
        if (app) await this.update(app, decision);
        return;
      default: {
        const unknown: never = decision;
        void unknown;
      }
    }
  }

  /**
   * Before a restart for saves: wait until the watcher has said all it will about these files.
   * Editors and shells truncate, then write, and the watcher reports a file caught empty as it
   * is, then once more at its re-check: the new process must read the written file, and the
   * re-check must not restart a second time. The new process reads every file anew, so the
   * saves made meanwhile are part of this restart.
   */
  private async settle(changes: FileChange[]): Promise<void> {
    const limit = SETTLE_LIMIT_MS + this.config.delay;
    await Promise.race([this.watcher.settled(changes.map((c) => c.file)), new Promise((resolve) => setTimeout(resolve, limit).unref())]);
    this.saves.discard();
  }

  private async update(app: AppProcess, decision: Extract<BatchDecision, { action: 'update' }>): Promise<void> {
    for (const change of decision.browser) {
      if (change.type === 'css-update') this.channel.broadcast({ type: 'css-update', path: change.path, timestamp: Date.now() });
      else this.channel.broadcast({ type: 'full-reload', reason: `${change.path} changed` });
      this.logger.log({ event: 'info', message: `${change.type === 'css-update' ? 'css update' : 'page reload'} ${change.path}` });
    }
    if (decision.app.length === 0) return;
    this.logger.clear();
    const result = await app.update(decision.app);
    if (result.status !== 'unchanged' || this.config.json) this.logger.log({ event: 'update', result });
    this.emit({ type: 'update', result });
    const restartFor = this.policy.afterUpdate(result);
    if (restartFor) await this.restartNow(restartFor);
  }

  // ----------------------------------------------------------------------------- restarts

  /**
   * Start a new process; on success retire the old one, on failure keep the one the policy says.
   * Resolves true when the new process serves; false when it failed (already reported) or devhot
   * is closing. Runs inside the queue.
   */
  private async restartNow(reason: string): Promise<boolean> {
    if (!this.policy.mayStart) return false;
    const tr = performance.now();
    this.logger.log({ event: 'restart', phase: 'starting', reason });
    this.emit({ type: 'restart', phase: 'starting', reason });
    const previous = this.apps.current;
    // A debugger port cannot be shared: with --inspect the old process goes first. The
    // sockets stay open in this process meanwhile, so connections wait rather than fail.
    if (previous && this.config.inspect) await this.apps.stop(previous, 'restart');
    const next = this.apps.spawn();
    // `current` stays the previous process until the new one has started: if the new one exits
    // while starting, that is a failed restart (handled below), not a crash of the running app.
    const outcome = await next.start();
    if (outcome.ok) {
      this.apps.promote(next);
      this.policy.restartSucceeded();
      this.apps.retire(previous);
      this.logger.log({ event: 'restart', phase: 'ready', reason, ms: performance.now() - tr });
      this.emit({ type: 'restart', phase: 'ready', reason });
      return true;
    }
    this.reportStartFailure(outcome, running(previous));
    const decision = this.policy.restartFailed(reason, running(previous));
    if (decision.keep === 'previous') await this.apps.stop(next, 'exit');
    else this.apps.promote(next);
    this.logger.log({ event: 'restart', phase: 'failed', reason: decision.reason });
    this.emit({ type: 'restart', phase: 'failed', reason });
    return false;
  }

  // ------------------------------------------------------------------- what the app says

  private onListening(key: ListenKey, url: string): void {
    if (this.addresses.has(key)) return;
    this.addresses.set(key, url);
    this.bridge.set({ urls: this.urls });
    if (this.started) this.logger.log({ event: 'info', message: `listening on ${url}` });
  }

  private onExit(proc: AppProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const decision = this.policy.appExited({ current: proc === this.apps.current, stopping: this.apps.isStopping(proc) });
    if (decision.action === 'ignore') return;
    this.bridge.set({ status: 'stopped', pid: undefined });
    this.logger.log({ event: 'exit', code, signal, reason: decision.reason });
    if (decision.action === 'restart') {
      const restart = () => this.queue.run(() => this.restartNow(decision.restartReason)).catch(() => {});
      setTimeout(restart, decision.afterMs).unref();
    }
  }

  private onAppMessage(message: FromApp): void {
    switch (message.type) {
      case 'listen-error': {
        const inUse = message.code === 'EADDRINUSE';
        this.reportError('listen', {
          code: inUse ? 'DEVHOT_ERR_PORT_IN_USE' : message.code,
          message: inUse ? `Port ${message.port} is already in use by another process` : message.message,
          fix: inUse
            ? `Stop the process using port ${message.port} (\`lsof -i :${message.port}\`), or listen on another port.`
            : 'Check the address the app listens on.',
        });
        return;
      }
      case 'uncaught':
        this.reportError('uncaught', message.error);
        this.emit({ type: 'uncaught', message: message.error.message });
        return;
      case 'hot-send':
        this.emit({ type: 'hot-send', event: message.event, data: message.data, file: message.file });
        return;
      case 'late-update':
        this.logger.log({ event: 'update', result: message.result });
        this.emit({ type: 'update', result: message.result });
        return;
      case 'config-files':
        this.appConfigFiles = new Set(message.files);
        this.watcher.watchOutside(message.outside);
        return;
      case 'upgraded-closed': {
        const n = `${message.count} websocket${message.count === 1 ? '' : 's'}`;
        const of = message.why === 'update' ? 'of the replaced server' : 'of the previous process';
        this.logger.log({ event: 'info', message: `closed ${n} ${of} (1012 Service Restart): clients reconnect to the new code` });
        return;
      }
      default:
        return;
    }
  }

  /** `previousServes`: an older process keeps serving (a restart), so the runner's fix holds. */
  private reportStartFailure(outcome: StartOutcome, previousServes: boolean): void {
    if (outcome.ok || !outcome.error) return;
    this.reportError('start', previousServes ? outcome.error : { ...outcome.error, fix: startFix(outcome.error.fix) });
  }

  private reportError(source: 'update' | 'start' | 'uncaught' | 'listen', error: ErrorPayload): void {
    this.logger.log({ event: 'error', source, error });
    this.bridge.error(source, error);
  }

  private emit(event: SupervisorEvent): void {
    this.options.onEvent?.(event);
    if (event.type === 'update') this.bridge.update(event.result);
    else if (event.type === 'restart') {
      const app = this.apps.current;
      const pid = running(app) ? app?.pid : undefined;
      this.bridge.restart(event.phase, event.reason, { pid, ...(running(app) ? {} : { status: 'stopped' as const }) });
    } else if (event.type === 'hot-send') this.channel.broadcast({ type: 'custom', event: event.event, data: event.data });
  }
}

export async function startSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  const supervisor = new DevhotSupervisor(options);
  await supervisor.start();
  return supervisor;
}
