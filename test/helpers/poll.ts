/**
 * What every test harness needs from node:test and the clock: the one method of a test context
 * that registers cleanup, and waiting for a condition with a deadline (tests never sleep).
 */

/** The part of node:test's TestContext the helpers use: cleanup that runs after the test. */
export type After = { after(fn: () => unknown): void };

/**
 * Poll until `check` returns a truthy value (or stops throwing), or fail after `timeout` ms with
 * "timed out after N ms waiting for <what>" and the last error `check` threw, if any.
 *
 * The defaults (10 s, every 20 ms) suit black-box tests of spawned processes, whose start and
 * restarts take hundreds of milliseconds on a loaded 2-core machine; in-process tests (runner,
 * channel) pass 5000, 10.
 */
export async function poll<T>(check: () => T | Promise<T>, what: string, timeout = 10_000, interval = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
