/**
 * SerialQueue: one task at a time, in order, each caller getting its own task's outcome; a
 * rejection reaches the reporter and never stops the tasks behind it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SerialQueue } from '../src/shared/serial-queue.js';

/** A promise the test settles by hand. */
function gate<T = void>(): { promise: Promise<T>; open(value: T): void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

describe('SerialQueue', () => {
  it('runs one task at a time, in the order they were queued', async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    const first = gate();
    const a = queue.run(async () => {
      log.push('a start');
      await first.promise;
      log.push('a end');
      return 'a';
    });
    const b = queue.run(async () => {
      log.push('b');
      return 'b';
    });
    await Promise.resolve();
    assert.deepEqual(log, ['a start'], 'b waits for a');
    first.open();
    assert.deepEqual(await Promise.all([a, b]), ['a', 'b']);
    assert.deepEqual(log, ['a start', 'a end', 'b']);
  });

  it('a task that rejects: its caller gets the rejection, the reporter is told, the next task runs', async () => {
    const reported: unknown[] = [];
    const queue = new SerialQueue((error) => reported.push(error));
    const boom = new Error('boom');
    const failing = queue.run(async () => {
      throw boom;
    });
    const next = queue.run(async () => 'next');
    await assert.rejects(failing, boom);
    assert.equal(await next, 'next');
    assert.deepEqual(reported, [boom]);
  });

  it('a reporter that throws does not stop the queue', async () => {
    const queue = new SerialQueue(() => {
      throw new Error('reporter');
    });
    await assert.rejects(
      queue.run(async () => Promise.reject(new Error('task'))),
      /task/,
    );
    assert.equal(await queue.run(async () => 1), 1);
  });

  it('idle() settles once everything queued so far has, and never rejects', async () => {
    const queue = new SerialQueue();
    const slow = gate();
    let done = false;
    void queue.run(() => slow.promise.then(() => void (done = true)));
    void queue.run(async () => Promise.reject(new Error('ignored'))).catch(() => {});
    const idle = queue.idle();
    slow.open();
    await idle;
    assert.equal(done, true);
  });

  it('batch(): items that arrive while a batch runs are applied together in the next one', async () => {
    const queue = new SerialQueue();
    const applied: number[][] = [];
    const hold = gate();
    const batches = queue.batch<number>(async (items) => {
      applied.push(items);
      if (applied.length === 1) await hold.promise;
    });
    batches.add([1]);
    await new Promise((resolve) => setImmediate(resolve)); // the first batch is running
    batches.add([2]);
    batches.add([3, 4]);
    hold.open();
    await queue.idle();
    assert.deepEqual(applied, [[1], [2, 3, 4]]);
  });

  it('batch(): a batch waits for the tasks queued before it; discard() empties the waiting one', async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    const hold = gate();
    const batches = queue.batch<string>(async (items) => void log.push(`batch ${items.join(',')}`));
    void queue.run(async () => {
      await hold.promise;
      log.push('task');
    });
    batches.add(['a']);
    batches.discard();
    batches.add(['b']);
    hold.open();
    await queue.idle();
    assert.deepEqual(log, ['task', 'batch b']);
    batches.add(['c']);
    batches.discard();
    await queue.idle();
    assert.deepEqual(log, ['task', 'batch b'], 'a discarded batch runs as nothing');
  });
});
