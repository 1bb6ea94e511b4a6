/**
 * What the app processes tell the supervisor, turned into what it knows (config files, the module
 * graph's files, HTTP ports) and what it reports (log lines, channel messages): errors, a blocked
 * event loop and its end, custom events dropped, and failures of the system under devhot
 * (descriptors), which come in bursts and are reported at most every SYSTEM_WARNING_MS.
 */
import { startFix, type Logger } from '../logger.js';
import type { FromApp, OutsideModule, StuckAt } from '../shared/ipc.js';
import type { ErrorPayload } from '../shared/results.js';
import type { AppProcess, StartOutcome } from './app-process.js';
import type { ChannelBridge } from './channel-bridge.js';
import { blockedWhere, seconds } from './deadlines.js';
import type { SupervisorEvent } from './supervisor.js';
import { descriptorError, isDescriptorError } from './system-errors.js';

const SYSTEM_WARNING_MS = 10_000;

export interface ReportsHost {
  root: string;
  logger: Logger;
  bridge: ChannelBridge;
  emit(event: SupervisorEvent): void;
  /** The process that serves. */
  current(): AppProcess | undefined;
  /** The process an update or reload runs in now (its deadline reports a blocked loop). */
  updating(): AppProcess | undefined;
  /** Watch these files one by one: modules outside the root (the watcher follows no link out of it). */
  watchOutside(modules: OutsideModule[]): void;
}

/** What a process reported of its graph (app/main.ts, reportConfigFiles). */
interface GraphReport {
  configFiles?: ReadonlySet<string>;
  modules?: ReadonlySet<string>;
  outside?: OutsideModule[];
}

export class AppReports {
  /** The runner's config files, as the serving app last reported them: a change to one restarts it. */
  configFiles: ReadonlySet<string> = new Set();
  /** The files of the serving app's module graph, as it last reported them. */
  modules: ReadonlySet<string> = new Set();
  /**
   * Each process's last report of its graph, taken up when it serves: a new process whose start
   * failed (its graph rolled back, empty) must not stop the watch on the files of the one that
   * keeps serving, and one that starts reports before it serves.
   */
  private readonly graphs = new WeakMap<AppProcess, GraphReport>();
  /** Ports an HTTP server of the app answered on: the fallback page may answer there. */
  readonly httpPorts = new Set<number>();
  /** A blocked loop was reported for this process (so its end is reported too). */
  private blockedProcess: AppProcess | undefined;
  /** Custom events dropped since the last one that went through. */
  private droppedEvents = 0;
  private lastSystemWarning = 0;

  constructor(private readonly host: ReportsHost) {}

  /** `proc` serves from now on: what it reported of its graph is what saves are judged by. */
  adopt(proc: AppProcess): void {
    const report = this.graphs.get(proc);
    if (report) this.apply(report);
  }

  private graph(from: AppProcess, part: GraphReport): void {
    this.graphs.set(from, { ...this.graphs.get(from), ...part });
    if (from === this.host.current()) this.apply(part);
  }

  private apply(report: GraphReport): void {
    if (report.configFiles) this.configFiles = report.configFiles;
    if (report.modules) this.modules = report.modules;
    if (report.outside) this.host.watchOutside(report.outside);
  }

  message(message: FromApp, from: AppProcess): void {
    const { host } = this;
    switch (message.type) {
      case 'listen-error': {
        const inUse = message.code === 'EADDRINUSE';
        this.error('listen', {
          code: inUse ? 'DEVHOT_ERR_PORT_IN_USE' : message.code,
          message: inUse ? `Port ${message.port} is already in use by another process` : message.message,
          fix: inUse
            ? `Stop the process using port ${message.port} (\`lsof -i :${message.port}\`), or listen on another port.`
            : 'Check the address the app listens on.',
        });
        return;
      }
      case 'uncaught':
        this.error('uncaught', message.error);
        host.emit({ type: 'uncaught', message: message.error.message });
        return;
      case 'hot-send':
        host.emit({ type: 'hot-send', event: message.event, data: message.data, file: message.file });
        return;
      case 'late-update':
        host.logger.log({ event: 'update', result: message.result });
        host.emit({ type: 'update', result: message.result });
        return;
      case 'config-files':
        this.graph(from, { configFiles: new Set(message.files), outside: message.outside });
        return;
      case 'modules':
        this.graph(from, { modules: new Set(message.files) });
        return;
      case 'http-port':
        this.httpPorts.add(message.port);
        return;
      case 'upgraded-closed': {
        const n = `${message.count} websocket${message.count === 1 ? '' : 's'}`;
        const of = message.why === 'update' ? 'of the replaced server' : 'of the previous process';
        host.logger.log({ event: 'info', message: `closed ${n} ${of} (1012 Service Restart): clients reconnect to the new code` });
        return;
      }
      default:
        return;
    }
  }

  error(source: 'update' | 'start' | 'uncaught' | 'listen', error: ErrorPayload): void {
    this.host.logger.log({ event: 'error', source, error });
    this.host.bridge.error(source, error);
  }

  /** `previousServes`: an older process keeps serving (a restart), so the runner's fix holds. */
  startFailure(outcome: StartOutcome, previousServes: boolean): void {
    if (outcome.ok || !outcome.error) return;
    this.error('start', previousServes ? outcome.error : { ...outcome.error, fix: startFix(outcome.error.fix) });
  }

  /** The watchdog of `proc` says its loop has not turned for `ms`. */
  blocked(proc: AppProcess, ms: number, at: StuckAt | undefined): void {
    // A start's or an update's own deadline reports those; a retired process is not news.
    if (proc !== this.host.current() || !proc.started || proc === this.host.updating() || proc.exited) return;
    this.blockedProcess = proc;
    const where = blockedWhere(this.host.root, at);
    this.host.logger.log({
      event: 'warn',
      message: `the app's event loop has been blocked for ${seconds(ms)}${where}: requests wait until it returns. Save a fix: the update restarts the app. [DEVHOT_ERR_APP_BLOCKED]`,
    });
  }

  unblocked(proc: AppProcess, ms: number): void {
    if (proc !== this.blockedProcess) return;
    this.blockedProcess = undefined;
    if (!proc.exited)
      this.host.logger.log({ event: 'info', message: `the app's event loop turns again (it was blocked for ${seconds(ms)})` });
  }

  /** A custom event was dropped (`delivered` false) or went through: one warning per run of drops. */
  customEvent(event: string, delivered: boolean): void {
    const { logger } = this.host;
    if (!delivered) {
      if (this.droppedEvents++ === 0) {
        logger.log({
          event: 'warn',
          message: `custom events from tools are dropped: too many are waiting for the app to read them (is it blocked?). First dropped: '${event}'`,
        });
      }
      return;
    }
    if (this.droppedEvents === 0) return;
    logger.log({ event: 'warn', message: `${this.droppedEvents} custom event(s) from tools were dropped` });
    this.droppedEvents = 0;
  }

  /** The system failed devhot while `what` (EMFILE on accept): a named warning. */
  systemError(what: string, error: NodeJS.ErrnoException): void {
    const now = Date.now();
    if (now - this.lastSystemWarning < SYSTEM_WARNING_MS) return;
    this.lastSystemWarning = now;
    if (!isDescriptorError(error)) {
      this.host.logger.log({ event: 'warn', message: `${what} failed: ${error.message}; devhot goes on` });
      return;
    }
    const payload = descriptorError(what, error);
    this.host.logger.log({ event: 'warn', message: `${payload.message}; ${payload.fix} [${payload.code}]` });
  }
}
