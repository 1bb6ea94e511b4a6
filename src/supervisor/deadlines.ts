/**
 * Deadlines for what the supervisor asks of an app process. An update whose module runs
 * `while (true) {}` (or awaits something that never settles) once wedged devhot: the fix-save,
 * `devhot restart` and `r` queued behind it forever. Now an update or reload that has not answered
 * after `--update-timeout` is given up on (the caller restarts the app), and so is a start that
 * blocks the app's event loop that long or has not finished after START_FACTOR times as long.
 * The error says where the app was stuck, from a sample of its main thread (watchdog-link.ts).
 */
import { relative } from 'node:path';
import { ErrorCodes } from '../errors.js';
import type { StuckAt } from '../shared/ipc.js';
import type { ErrorPayload } from '../shared/results.js';
import type { AppProcess, StartOutcome } from './app-process.js';
import type { Block, Sample } from './watchdog-link.js';

/**
 * A start compiles and runs every module (a cold start of 3,000 modules takes ~2-7 s on a
 * 2-core machine, see the README's benchmarks), so it gets this many update deadlines.
 */
const START_FACTOR = 6;

/**
 * A start that blocks the event loop for a deadline is hung only if it stays in one file. ES
 * modules yield to the loop between modules, but CommonJS modules require each other
 * synchronously: an empty-cache start of 3,000 of them blocked the loop for 8-10 s (as under
 * node, which has no deadline), moving from module to module, and was killed as hung at 5 s, then
 * again at every retry, so such a project never started. While it blocks, the main thread is
 * sampled this often; two samples on the same line (or outside JavaScript both times) are a hang.
 * A line, not a file: the innermost module of a chain of requires stays on one line only while it
 * requires one module, milliseconds; a busy loop spread over lines is caught by the wall deadline.
 */
const PROGRESS_SAMPLE_MS = 1000;

export type Deadlined<T> = { ok: true; value: T } | { ok: false; error: ErrorPayload };

function timer(ms: number): { promise: Promise<'timeout'>; cancel(): void } {
  let handle: NodeJS.Timeout | undefined;
  const promise = new Promise<'timeout'>((resolve) => {
    handle = setTimeout(() => resolve('timeout'), ms);
    handle.unref();
  });
  return { promise, cancel: () => clearTimeout(handle) };
}

/** A duration as devhot says it: "1.2 s". */
export function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** Where a blocked app's main thread was: " in src/a.ts:12", or outside JavaScript. */
export function blockedWhere(root: string, at: StuckAt | undefined): string {
  return at ? ` in ${relative(root, at.file) || at.file}:${at.line}` : ' outside JavaScript (a synchronous call)';
}

export class Deadlines {
  constructor(
    /** --update-timeout (ms); 0: no deadline. */
    private readonly timeout: number,
    private readonly root: string,
  ) {}

  /** `work` (an update, a reload) of `app`, or the error of a hang once the deadline passed. */
  async update<T>(app: AppProcess, work: Promise<T>, what: string): Promise<Deadlined<T>> {
    if (this.timeout <= 0) return { ok: true, value: await work };
    const deadline = timer(this.timeout);
    try {
      const first = await Promise.race([work.then((value) => ({ value })), deadline.promise]);
      if (first !== 'timeout') return { ok: true, value: first.value };
    } finally {
      deadline.cancel();
    }
    const sample = await app.sample();
    // A process whose loop is blocked (or that does not say) can neither serve nor drain: it is
    // not waited for. One that awaits something that never settles still serves, and drains as
    // usual once its successor is ready.
    if (sample?.blocked !== false) app.hung = true;
    return { ok: false, error: this.hangError(what, this.timeout, sample) };
  }

  /** Start `app`; a hung start is a failed one (with `hung` set on the process). */
  async start(app: AppProcess): Promise<StartOutcome> {
    const started = app.start();
    if (this.timeout <= 0) return started;
    const wall = timer(this.timeout * START_FACTOR);
    try {
      const ended = started.then((outcome) => ({ outcome }));
      let first = await Promise.race([ended, wall.promise, app.nextBlock()]);
      if (typeof first === 'object' && 'ms' in first) first = await this.whileProgressing(app, first, ended, wall.promise);
      if (typeof first === 'object' && 'outcome' in first) return first.outcome;
      app.hung = true;
      const sample = first === 'timeout' ? await app.sample() : { blocked: true, at: first.at };
      const ms = first === 'timeout' ? this.timeout * START_FACTOR : first.ms;
      const outcome: StartOutcome = { ok: false, error: this.hangError('the start of the app', ms, sample), exited: false };
      app.abandonStart(outcome);
      return outcome;
    } finally {
      wall.cancel();
    }
  }

  /**
   * A start that blocks the loop (`block`): resolves with its outcome if it ends, 'timeout' at the
   * wall deadline, or the block it is hung in, once two samples PROGRESS_SAMPLE_MS apart find its
   * main thread on the same line. A loop that turns again goes back to waiting for the next block.
   */
  private async whileProgressing<T>(
    app: AppProcess,
    block: Block,
    ended: Promise<T>,
    wall: Promise<'timeout'>,
  ): Promise<T | 'timeout' | Block> {
    // Where it was last seen, and since when the loop has been blocked (the report's `ms`).
    let at = block.at;
    let blockedSince = performance.now() - block.ms;
    const hung = (where: StuckAt | undefined): Block => ({ ms: performance.now() - blockedSince, at: where });
    for (;;) {
      const pause = timer(PROGRESS_SAMPLE_MS);
      const next = await Promise.race([ended, wall, pause.promise.then(() => 'sample' as const)]);
      pause.cancel();
      if (next !== 'sample') return next;
      const sample = await app.sample();
      if (!sample) return hung(at);
      if (!sample.blocked) {
        const again = await Promise.race([ended, wall, app.nextBlock()]);
        if (typeof again !== 'object' || again === null || !('ms' in again)) return again;
        at = (again as Block).at;
        blockedSince = performance.now() - (again as Block).ms;
        continue;
      }
      if (sample.at?.file === at?.file && sample.at?.line === at?.line) return hung(sample.at);
      at = sample.at;
    }
  }

  /** What a hang is reported as: how long, where the app was, what devhot does about it. */
  hangError(what: string, ms: number, sample: Sample | undefined): ErrorPayload {
    const at = sample?.at;
    const state = !sample
      ? ''
      : sample.blocked
        ? `: the app's event loop is blocked${blockedWhere(this.root, at)}`
        : ': the app is not blocked, so something it awaits never settles';
    const error: ErrorPayload = {
      code: ErrorCodes.UPDATE_TIMEOUT,
      message: `${what} did not finish within ${seconds(ms)}${state}`,
      fix: 'devhot restarts the app process (connections wait meanwhile). Fix the code and save; --update-timeout sets the deadline.',
    };
    if (at) Object.assign(error, { file: at.file, line: at.line, column: at.column });
    return error;
  }
}
