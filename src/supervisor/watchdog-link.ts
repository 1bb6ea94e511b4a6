/**
 * The supervisor's end of an app process's watchdog pipe (app/watchdog-worker.ts): blocked and
 * unblocked reports, and samples of where the app's main thread runs. The pipe answers while the
 * app's main thread is blocked, which IPC cannot.
 */
import type { Socket } from 'node:net';
import type { FromWatchdog, StuckAt, ToWatchdog } from '../shared/ipc.js';
import { readJsonLines } from '../shared/json-lines.js';

export interface Sample {
  /** The loop had not turned for a while (false: it turns; the wait is an await that never ends). */
  blocked: boolean;
  /** Where the main thread ran (mapped to the source), if it could be paused. */
  at: StuckAt | undefined;
}

export interface Block {
  ms: number;
  at: StuckAt | undefined;
}

export interface WatchdogEvents {
  blocked(ms: number, at: StuckAt | undefined): void;
  unblocked(ms: number): void;
}

/** How long a sample may take before the answer is "unknown" (the worker waits up to 2 s itself). */
const SAMPLE_WAIT_MS = 2500;

export class WatchdogLink {
  /** Since when (Date.now()) the app's loop is reported blocked, or undefined. */
  private blockedAt: number | undefined;
  private nextId = 1;
  private readonly samples = new Map<number, (sample: Sample | undefined) => void>();
  private blockWaiters: Array<(block: Block) => void> = [];

  constructor(
    private readonly pipe: Socket | null | undefined,
    private readonly events: WatchdogEvents,
  ) {
    if (!pipe) return;
    readJsonLines<FromWatchdog>(pipe, (message) => this.handle(message));
    pipe.on('error', () => {}); // the app exits; its 'exit' says why
    pipe.on('close', () => {
      for (const settle of this.samples.values()) settle(undefined);
      this.samples.clear();
      this.blockWaiters = [];
    });
  }

  /** The app's event loop is known blocked right now (reported, not yet turning again). */
  get blocked(): boolean {
    return this.blockedAt !== undefined;
  }

  /** Resolves at the next 'blocked' report (never, if none comes). */
  nextBlock(): Promise<Block> {
    return new Promise((resolve) => this.blockWaiters.push(resolve));
  }

  /** Where the app's main thread runs; undefined when the watchdog does not answer in time. */
  sample(): Promise<Sample | undefined> {
    const { pipe } = this;
    if (!pipe || pipe.destroyed) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(undefined), SAMPLE_WAIT_MS);
      timer.unref();
      const settle = (sample: Sample | undefined) => {
        clearTimeout(timer);
        this.samples.delete(id);
        resolve(sample);
      };
      this.samples.set(id, settle);
      const request: ToWatchdog = { type: 'sample', id };
      pipe.write(`${JSON.stringify(request)}\n`);
    });
  }

  private handle(message: FromWatchdog): void {
    switch (message.type) {
      case 'blocked': {
        this.blockedAt = Date.now() - message.ms;
        const waiters = this.blockWaiters;
        this.blockWaiters = [];
        for (const waiter of waiters) waiter({ ms: message.ms, at: message.at });
        this.events.blocked(message.ms, message.at);
        return;
      }
      case 'unblocked':
        this.blockedAt = undefined;
        this.events.unblocked(message.ms);
        return;
      case 'sample':
        this.samples.get(message.id)?.({ blocked: message.blocked, at: message.at });
        return;
      default: {
        const unknown: never = message;
        void unknown;
      }
    }
  }
}
