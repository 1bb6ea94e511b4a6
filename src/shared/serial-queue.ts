/**
 * One thing at a time. A process that applies updates must not start one while another is
 * half-done (two transactions over one module graph, two restarts racing for one socket), so
 * each process has one queue and everything that changes its state goes through it.
 *
 * Tasks run in the order they were queued, each once the previous one has settled, fulfilled or
 * rejected, and the caller gets its own task's outcome. A rejection is also handed to `onError`,
 * so a task nobody awaits cannot reject into the void, and it never stops the tasks behind it.
 * Imports nothing: every process (supervisor, app, library runner) may use it.
 */
export class SerialQueue {
  /** Settles when the last queued task has; never rejects. */
  private tail: Promise<void> = Promise.resolve();

  /** `onError`: told of every task that rejected (default: nothing, the caller handles it). */
  constructor(private readonly onError: (error: unknown) => void = () => {}) {}

  /** Run `task` after everything queued before it; resolves or rejects as the task does. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task);
    this.tail = run.then(
      () => undefined,
      (error: unknown) => {
        try {
          this.onError(error);
        } catch {
          // A failing reporter must not stop the queue.
        }
      },
    );
    return run;
  }

  /** Settles once every task queued so far has (never rejects): for close(), to wait for work in flight. */
  idle(): Promise<void> {
    return this.tail;
  }

  /**
   * Work that arrives in pieces, applied in batches through this queue: `add()` puts items into
   * the batch that waits for its turn, queueing one if none waits; when its turn comes, `apply`
   * gets every item added until then. Items that arrive while a batch runs go into the next one,
   * so a burst of saves during an update becomes one update after it, not one per save.
   */
  batch<T>(apply: (items: T[]) => Promise<void>): QueuedBatch<T> {
    let waiting: T[] | undefined;
    return {
      add: (items) => {
        if (!waiting) {
          const batch: T[] = (waiting = []);
          this.run(() => {
            if (waiting === batch) waiting = undefined;
            return batch.length > 0 ? apply(batch) : Promise.resolve();
          }).catch(() => {}); // handed to onError by run()
        }
        waiting.push(...items);
      },
      discard: () => {
        if (waiting) waiting.length = 0;
      },
    };
  }
}

export interface QueuedBatch<T> {
  /** Into the batch waiting for its turn (a new one if none waits). */
  add(items: Iterable<T>): void;
  /** Empty the waiting batch: what it held was taken care of otherwise. It runs as nothing. */
  discard(): void;
}
