/**
 * The main thread's half of the app's watchdog (watchdog-worker.ts does the watching): a shared
 * clock stamped every HEARTBEAT_MS, and the worker started on the pipe the supervisor opened.
 * Both are unref'd: the watchdog never keeps the app alive.
 */
import { existsSync, fstatSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { WATCHDOG_FD } from '../shared/ipc.js';
import type { WatchdogData } from './watchdog-worker.js';

/** How often the main thread stamps the clock (ms). Cheap: one timer, one atomic store. */
const HEARTBEAT_MS = 100;

const WORKER_FILE = new URL('./watchdog-worker.js', import.meta.url);

export interface WatchdogOptions {
  root: string;
  /** Report a blocked event loop after this long (ms); 0: never. */
  blockedAfter: number;
}

/** Start the watchdog; false when there is no pipe to the supervisor (started some other way). */
export function startWatchdog(options: WatchdogOptions): boolean {
  try {
    if (!fstatSync(WATCHDOG_FD).isSocket()) return false;
  } catch {
    return false;
  }
  if (!existsSync(WORKER_FILE)) return false;
  const heartbeat = new SharedArrayBuffer(8);
  const clock = new BigInt64Array(heartbeat);
  const stamp = () => Atomics.store(clock, 0, BigInt(Date.now()));
  stamp();
  setInterval(stamp, HEARTBEAT_MS).unref();
  const data: WatchdogData = { heartbeat, blockedAfter: options.blockedAfter, root: options.root, fd: WATCHDOG_FD };
  const worker = new Worker(WORKER_FILE, {
    workerData: data,
    // The app's flags (--inspect, --env-file, user flags) are not the watchdog's.
    execArgv: [],
    // Its own output would pass through this (possibly blocked) thread; it writes to its pipe only.
    stdout: true,
    stderr: true,
  });
  worker.unref();
  // A failing watchdog costs its guarantees, never the app.
  worker.on('error', () => {});
  return true;
}
