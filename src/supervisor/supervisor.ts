/**
 * The supervisor: the `devhot` process. It never runs user code. It watches files, owns the
 * listening sockets, starts the app process and climbs the reload ladder for each save:
 * hot update / entry re-execution inside the app, or a zero-downtime process restart.
 *
 * This file is the wiring: channel, watcher, app processes (app-slot.ts, restarts.ts), what the
 * app reports (app-reports.ts) and logger; what the first start says (start-report.ts), the
 * answers to tools (tool-requests.ts) and what close waits for (shutdown.ts) have files of their
 * own. What to do is decided by the policy (policy.ts);
 * everything that changes the app goes through one queue, and nothing the app is asked waits
 * past its deadline (deadlines.ts), so the queue never wedges.
 */
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { UpdateResult } from '../shared/results.js';
import type { FileChange, ListenKey } from '../shared/ipc.js';
import { SerialQueue, type QueuedBatch } from '../shared/serial-queue.js';
import type { AppProcess } from './app-process.js';
import { AppSlot } from './app-slot.js';
import { coalesce } from './change-set.js';
import { createWatcher, type Watcher } from './watcher.js';
import { createChannel, type Channel } from './channel.js';
import { ChannelBridge } from './channel-bridge.js';
import { hostRuleFor, isExposed } from '../shared/host-rules.js';
import { restartTriggers, SupervisorPolicy, type BatchDecision } from './policy.js';
import { Deadlines } from './deadlines.js';
import { FallbackPage } from './fallback.js';
import { AppReports } from './app-reports.js';
import { Restarts, running } from './restarts.js';
import { isDescriptorError } from './system-errors.js';
import { reportStart } from './start-report.js';
import { toolHandlers } from './tool-requests.js';
import { blockedBeforeIdle } from './shutdown.js';

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
  /** Kill every app process now, without waiting (devhot exits in a hurry: a second Ctrl-C). */
  killNow(): void;
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
  private readonly deadlines: Deadlines;
  // Created by start(), in this order: the channel before the app (whose environment carries
  // the channel's script tag), the watcher with the first app.
  private channel!: Channel;
  private apps!: AppSlot;
  private watcher!: Watcher;
  private fallback!: FallbackPage;
  private restarts!: Restarts;
  private readonly reports: AppReports;
  /** The app process an update or reload is running in (its blocked loop is the deadline's to report). */
  private updating: AppProcess | undefined;
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
      restartTrigger: restartTriggers({ ...this.config, appConfigFiles: () => this.reports.configFiles }),
      appModules: () => this.reports.modules,
    });
    this.deadlines = new Deadlines(this.config.updateTimeout, this.config.root);
    this.queue = new SerialQueue((error) =>
      this.logger.log({ event: 'warn', message: `internal error: ${(error as Error).stack ?? error}` }),
    );
    this.saves = this.queue.batch((changes) => this.applyBatch(coalesce(changes)));
    this.bridge = new ChannelBridge(this.config.root, { broadcast: (message) => this.channel.broadcast(message) });
    this.reports = new AppReports({
      root: this.config.root,
      logger: this.logger,
      bridge: this.bridge,
      emit: (event) => this.emit(event),
      current: () => this.apps.current,
      updating: () => this.updating,
      watchOutside: (modules) => this.watcher?.watchOutside(modules),
    });
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
      allowedHosts: hostRuleFor(config.host).extra,
      // The guard treats localhost and the loopback IPs on one port as the same origin.
      appOrigins: () => this.urls.map((url) => new URL(url).origin),
      sessionFile: join(config.root, 'node_modules', '.devhot', 'session.json'),
      clientFile: CLIENT_FILE,
      handlers: toolHandlers({
        bridge: this.bridge,
        reports: this.reports,
        updateTimeout: config.updateTimeout,
        current: () => this.apps.current,
        reload: (all) => this.reload(all),
        restart: (reason) => this.restart(reason),
      }),
      onAcceptError: (error) => this.reports.systemError('accepting a connection to the channel', error),
    });
    this.fallback = new FallbackPage({
      clientTag: this.channel.scriptTag(),
      onError: (error) => this.reports.systemError("answering on the app's port", error),
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
      onMessage: (message, proc) => this.reports.message(message, proc),
      onPromote: (proc) => this.reports.adopt(proc),
      onOutput: (stream, chunk) => this.channel.log(stream, chunk.toString('utf8')),
      onExit: (proc, code, signal) => this.onExit(proc, code, signal),
      onBlocked: (proc, ms, at) => this.reports.blocked(proc, ms, at),
      onUnblocked: (proc, ms) => this.reports.unblocked(proc, ms),
    });
    this.restarts = new Restarts({
      config,
      logger,
      policy: this.policy,
      apps: this.apps,
      deadlines: this.deadlines,
      fallback: this.fallback,
      reports: this.reports,
      emit: (event) => this.emit(event),
    });
    this.watcher = createWatcher({
      root: config.root,
      include: config.include,
      exclude: config.exclude,
      extraFiles: [...config.envFiles, ...(config.configFile ? [config.configFile] : [])],
      delay: config.delay,
      poll: config.poll,
      onBatch: (changes) => this.saves.add(changes),
      onError: (error) =>
        isDescriptorError(error)
          ? this.reports.systemError('watching the project', error)
          : logger.log({ event: 'warn', message: `watcher: ${error.message}` }),
    });
    // In the queue, as restarts and saves are: a save made while the first process starts (it
    // may serve already) waits for it and updates it, instead of finding no app and restarting.
    const [{ app, outcome }] = await Promise.all([this.queue.run(() => this.restarts.first()), this.watcher.ready]);
    this.started = true;
    const { bridge, reports, channel, urls } = this;
    reportStart({ config, logger, version: this.options.version, bridge, reports, channel, app, outcome, t0, urls });
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
      // The policy reloads only a running app.
      const reloaded = await this.applyInApp(app as AppProcess, () => app!.reload(all), all ? 'the reload of every module' : 'the reload');
      return reloaded;
    });
    // As after a save: what cannot be applied in-process gets a new process.
    const restartFor = result && this.policy.afterUpdate(result);
    if (restartFor) await this.restart(restartFor);
    return result;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // From here on nothing starts: not a restart for a save, a crash, a hung update or a tool.
      this.policy.close();
      this.fallback.stop();
      await this.watcher.close().catch(() => {});
      // An update that never ends must not hold the exit: stopping the app below ends whatever
      // request still waits for it. One whose app is blocked is not waited for at all.
      const app = this.apps.current;
      if (app && (await blockedBeforeIdle(app, this.queue, this.config))) app.hung = true;
      await this.apps.closeAll();
      await this.channel.close();
    })();
    return this.closing;
  }

  killNow(): void {
    this.policy.close();
    this.apps.killAll();
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
   * Editors and shells truncate, then write, and the watcher reports both: the new process must
   * read the written file, and the write must not restart a second time. settled() resolves once
   * no event for these files waits in a batch and none came in the last moment (batches.ts). The
   * new process reads every file anew, so the saves made meanwhile are part of this restart.
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
    const files = decision.app.map((c) => c.file);
    const what = `the update of ${files.map((f) => relative(this.config.root, f) || f).join(', ')}`;
    const result = await this.applyInApp(app, () => app.update(decision.app), what, files);
    const restartFor = this.policy.afterUpdate(result);
    if (restartFor) await this.restartNow(restartFor);
  }

  /**
   * An update or reload in the app, with the deadline: its result is reported; a hung one is
   * reported as an error and the app process restarts (unless devhot is closing).
   */
  private async applyInApp(app: AppProcess, run: () => Promise<UpdateResult>, what: string, files: string[] = []): Promise<UpdateResult> {
    // An app whose start failed tries it again with this update and may listen from then on:
    // connections wait for it rather than get the fallback page.
    const retriesStart = !app.started;
    if (retriesStart) this.fallback.stop();
    this.updating = app;
    const t0 = performance.now();
    let answer: Awaited<ReturnType<Deadlines['update']>>;
    try {
      answer = await this.deadlines.update(app, run(), what);
    } finally {
      this.updating = undefined;
    }
    const result: UpdateResult = answer.ok
      ? (answer.value as UpdateResult)
      : { status: 'error', phase: 'evaluate', error: answer.error, files, duration: performance.now() - t0 };
    if (result.status !== 'unchanged' || this.config.json) this.logger.log({ event: 'update', result });
    this.emit({ type: 'update', result });
    if (!answer.ok) await this.restartNow(`${what} hung`);
    else if (retriesStart && result.status === 'applied') {
      app.started = true;
      this.apps.requestSpares(app);
    } else if (retriesStart) this.restarts.showFallback('The app failed to start; the last save did not fix it.');
    return result;
  }

  /** A restart, inside the queue (restarts.ts). */
  private restartNow(reason: string): Promise<boolean> {
    return this.restarts.restart(reason);
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
    const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
    this.restarts.showFallback(`The app ${how}${decision.action === 'restart' ? '; devhot restarts it shortly' : ''}.`);
    if (decision.action === 'restart') {
      const restart = () => this.queue.run(() => this.restartNow(decision.restartReason)).catch(() => {});
      setTimeout(restart, decision.afterMs).unref();
    }
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
