/**
 * What devhot's close waits for before it stops the app: the update under way, at most
 * killTimeout, and not at all once the app's loop is found blocked (an update that never ends
 * must not hold the exit; stopping the app ends whatever request still waits for it).
 */
import type { ResolvedConfig } from '../config.js';
import type { SerialQueue } from '../shared/serial-queue.js';
import type { AppProcess } from './app-process.js';

/**
 * Wait for the update under way to end (at most killTimeout); true as soon as the app's loop is
 * found blocked. Sampled again every 250 ms: a loop blocked for less than the watchdog's 500 ms
 * still looks busy, so one sample at Ctrl-C would wait the whole killTimeout for an update
 * that had just begun to spin. (Not under --inspect: a sample would resume a debugger paused at
 * a breakpoint.)
 */
export async function blockedBeforeIdle(
  app: AppProcess,
  queue: SerialQueue,
  config: Pick<ResolvedConfig, 'killTimeout' | 'updateTimeout'>,
): Promise<boolean> {
  let idle = false;
  void queue.idle().then(() => {
    idle = true;
  });
  const until = Date.now() + config.killTimeout;
  const sampling = config.updateTimeout > 0;
  for (;;) {
    if (sampling && !app.exited && (await app.sample())?.blocked) return true;
    if (idle || app.exited || Date.now() >= until) return false;
    await Promise.race([queue.idle(), new Promise((resolve) => setTimeout(resolve, 250).unref())]);
  }
}
