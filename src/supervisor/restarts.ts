/**
 * Starting app processes: the first one, and every restart. A new process starts while the old
 * one serves; once it has started, it serves and the old one drains and goes. A new process that
 * fails to start (an error, an exit, a spawn the system refused, a start that hung) goes, and
 * the old one keeps serving; one that hung is of no use, so it goes too. While no process can
 * answer and none is starting, the fallback page answers HTTP on the app's ports. Once devhot
 * is closing nothing starts, and a process that was starting when it began goes.
 */
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../config.js';
import { isDevhotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { parseListenKey } from '../shared/ipc.js';
import type { ErrorPayload } from '../shared/results.js';
import { type AppProcess, endedBy, type StartOutcome } from './app-process.js';
import type { AppReports } from './app-reports.js';
import type { AppSlot } from './app-slot.js';
import type { Deadlines } from './deadlines.js';
import type { FallbackPage } from './fallback.js';
import type { SupervisorPolicy } from './policy.js';
import type { SupervisorEvent } from './supervisor.js';
import { isDescriptorError, spawnError } from './system-errors.js';

/** An app process that runs and answers (and so can update): not exited, not hung. */
export function running(app: AppProcess | undefined): app is AppProcess {
  return !!app && !app.exited && !app.hung;
}

/** The error of a failure to create an app process (its environment, the spawn itself). */
function createError(error: unknown): ErrorPayload {
  // An env file that cannot be read for want of descriptors is a descriptor failure.
  if (isDevhotError(error) && !isDescriptorError(error.cause)) {
    return { code: error.code, message: error.message, ...(error.fix ? { fix: error.fix } : {}) };
  }
  return spawnError(isDevhotError(error) ? error.cause : error);
}

export interface RestartsHost {
  config: ResolvedConfig;
  logger: Logger;
  policy: SupervisorPolicy;
  apps: AppSlot;
  deadlines: Deadlines;
  fallback: FallbackPage;
  reports: AppReports;
  emit(event: SupervisorEvent): void;
}

export class Restarts {
  /** A new process is starting: connections wait for it rather than get the fallback page. */
  private starting = false;

  constructor(private readonly host: RestartsHost) {}

  /** The first app process, started (or failed to: then the next save starts another). */
  async first(): Promise<{ app: AppProcess | undefined; outcome: StartOutcome }> {
    const { apps, policy, config } = this.host;
    const { next: app, outcome } = await this.startOne();
    if (!app) return { app, outcome };
    apps.promote(app);
    // The first process binds the sockets itself, during its start: their spares come after it.
    if (outcome.ok) apps.requestSpares(app);
    else {
      policy.failed([config.entry], outcome.error?.file);
      if (app.hung) await apps.stop(app, 'exit');
    }
    return { app, outcome };
  }

  /**
   * Start a new process; on success retire the old one, on failure keep the one the policy says.
   * Resolves true when the new process serves; false when it failed (already reported) or devhot
   * is closing. Runs inside the supervisor's queue.
   */
  async restart(reason: string): Promise<boolean> {
    const { logger, policy, apps, reports, config } = this.host;
    if (!policy.mayStart) return false;
    const t0 = performance.now();
    logger.log({ event: 'restart', phase: 'starting', reason });
    this.host.emit({ type: 'restart', phase: 'starting', reason });
    const previous = apps.current;
    // A debugger port cannot be shared: with --inspect the old process goes first. The
    // sockets stay open in this process meanwhile, so connections wait rather than fail.
    if (previous && config.inspect) await apps.stop(previous, 'restart');
    // `current` stays the previous process until the new one has started: if the new one exits
    // while starting, that is a failed restart (handled below), not a crash of the running app.
    const { next, outcome } = await this.startOne();
    if (!policy.mayStart) {
      // devhot began to exit while this one started: it must not outlive the exit.
      if (next) await apps.stop(next, 'exit');
      return false;
    }
    if (outcome.ok && next) {
      apps.promote(next);
      policy.restartSucceeded();
      apps.retire(previous);
      // Sockets it bound itself during its start (a new port) get spares too.
      apps.requestSpares(next);
      logger.log({ event: 'restart', phase: 'ready', reason, ms: performance.now() - t0 });
      this.host.emit({ type: 'restart', phase: 'ready', reason });
      return true;
    }
    reports.startFailure(outcome, running(previous));
    if (!outcome.ok) policy.failed([], outcome.error?.file);
    const decision = policy.restartFailed(reason, running(previous));
    if (next && (decision.keep === 'previous' || next.hung || next.exited)) void apps.stop(next, 'exit');
    else if (next) apps.promote(next);
    if (previous?.hung) apps.retire(previous);
    // A process that exited while starting says how, as node would have (a preload's exit code, a signal).
    const exited = !outcome.ok && outcome.exited && next?.exitStatus ? `it exited (${endedBy(next.exitStatus)}) while starting` : undefined;
    logger.log({ event: 'restart', phase: 'failed', reason: exited ? `${exited}; ${decision.reason}` : decision.reason });
    this.host.emit({ type: 'restart', phase: 'failed', reason });
    const why = outcome.ok ? '' : `: ${outcome.error?.message ?? exited ?? 'it exited while starting'}`;
    this.showFallback(`The app could not be restarted (${reason})${why}.`);
    return false;
  }

  /**
   * While no app process can answer (and none is starting), answer HTTP on the app's ports with
   * a 503 page saying `reason`.
   */
  showFallback(reason: string): void {
    const { policy, apps, fallback, reports } = this.host;
    if (this.starting || !policy.mayStart) return;
    const app = apps.current;
    if (running(app) && app.started) return;
    fallback.serve(
      apps.takeSpares((key) => reports.httpPorts.has(parseListenKey(key).port)),
      reason,
    );
  }

  /** Spawn and start one process, with the start's deadline; the fallback page is off meanwhile. */
  private async startOne(): Promise<{ next: AppProcess | undefined; outcome: StartOutcome }> {
    const { apps, deadlines, fallback } = this.host;
    // From here connections wait for the new process, not for the fallback page.
    fallback.stop();
    this.starting = true;
    let next: AppProcess | undefined;
    try {
      next = apps.spawn();
      // Hands the held sockets over first, each with a request for a spare copy the slot lacks:
      // the page closes its copies when it stops, and a start that fails must not leave it none
      // (asked only after a start succeeded, the page answered once and then never again).
      return { next, outcome: await deadlines.start(next) };
    } catch (error) {
      return { next, outcome: { ok: false, error: createError(error), exited: true } };
    } finally {
      this.starting = false;
    }
  }
}
