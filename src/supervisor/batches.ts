/**
 * The watcher's events gathered into batches: one tick's events (or those within --delay) make
 * one batch, merged per file (change-set.ts). That is batching, not a queue: nothing here waits
 * for the supervisor, which queues the batches itself (saves made while it applies one join its
 * next batch).
 *
 * A file caught empty (editors and shells save by truncate-then-write, and the truncate's event
 * can come first) is reported as it is, without waiting here: the runner, which reads the file,
 * waits for its content, and the write comes as an event of its own.
 */
import type { ChangeKind, FileChange } from '../shared/ipc.js';
import { ChangeSet } from './change-set.js';

/**
 * settled() waits until a file has had no event for this long. A restart waits for it, so a
 * truncate and the write after it lead to one restart that reads the written file. Between the
 * two, writeFileSync and a shell's `>` take microseconds; an editor that writes in place and
 * fsyncs, a few milliseconds. It delays only restarts (which take hundreds of ms), not updates.
 */
export const SETTLE_QUIET_MS = 50;

/**
 * Two turns of the event loop: events already queued in the kernel are read (poll phase),
 * looked at (dir-tree's setImmediate) and recorded before `fn` judges the files.
 */
function afterQueuedEvents(fn: () => void): void {
  setImmediate(() => setImmediate(fn));
}

interface Waiter {
  files: readonly string[];
  resolve(): void;
}

export class Batches {
  private pending = new ChangeSet();
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** When each file was last reported (Date.now()). */
  private readonly lastEvent = new Map<string, number>();
  private readonly waiters = new Set<Waiter>();
  private wakeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly delay: number,
    private readonly onBatch: (changes: FileChange[]) => void,
  ) {}

  /** Into the batch being gathered; handed over at the end of this tick, or after --delay. */
  record(kind: ChangeKind, file: string): void {
    // unlink then add within one batch is a change (a rename over the file): see mergeKind.
    this.pending.add({ file, kind });
    this.lastEvent.set(file, Date.now());
    if (this.delay > 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.flush(), this.delay);
    } else if (!this.immediate) {
      // Events of one poll phase (a rename's unlink + add, a multi-file save) make one batch,
      // without the ≥ 1 ms a setTimeout(0) costs on every save.
      this.immediate = setImmediate(() => this.flush());
    }
  }

  /**
   * Resolves once the watcher has said all it will about these files for now: none waits in a
   * batch not yet handed over, and none had an event in the last SETTLE_QUIET_MS.
   */
  settled(files: readonly string[]): Promise<void> {
    return new Promise((resolve) => {
      afterQueuedEvents(() => {
        this.waiters.add({ files, resolve });
        this.wake();
      });
    });
  }

  /** Nothing more will be reported: whoever waits for the watcher to settle may go on. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.pending = new ChangeSet();
    this.lastEvent.clear();
    this.wake();
  }

  private flush(): void {
    this.timer = undefined;
    this.immediate = undefined;
    const batch = this.pending;
    this.pending = new ChangeSet();
    if (batch.size > 0) this.onBatch(batch.list());
    this.wake();
  }

  /** Release the waiters whose files are quiet; come back when the next one may be. */
  private wake(): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    const now = Date.now();
    for (const [file, at] of this.lastEvent) if (now - at >= SETTLE_QUIET_MS) this.lastEvent.delete(file);
    let next = Number.POSITIVE_INFINITY;
    for (const waiter of this.waiters) {
      if (waiter.files.some((file) => this.pending.has(file))) continue; // flush() wakes again
      const quietAt = waiter.files.reduce((latest, file) => Math.max(latest, (this.lastEvent.get(file) ?? 0) + SETTLE_QUIET_MS), 0);
      if (quietAt > now) {
        next = Math.min(next, quietAt - now);
        continue;
      }
      this.waiters.delete(waiter);
      waiter.resolve();
    }
    if (next !== Number.POSITIVE_INFINITY) {
      // Past the queued events too: a process starved for longer than SETTLE_QUIET_MS (a loaded
      // machine) finds its timer due and the write that followed the truncate still in the
      // kernel; judged at once, the restart went ahead and the write restarted again.
      this.wakeTimer = setTimeout(() => afterQueuedEvents(() => this.wake()), next);
      this.wakeTimer.unref();
    }
  }
}
