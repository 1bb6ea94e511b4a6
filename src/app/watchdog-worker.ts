/**
 * The app's watchdog, a worker thread: what must keep working while the app's main thread is
 * blocked (`while (true) {}`), which no handler on that thread can do.
 *
 * - The supervisor's end: the watchdog holds its own pipe to the supervisor (fd WATCHDOG_FD).
 *   When the supervisor is gone, even by `kill -9`, the pipe ends, and the watchdog kills the
 *   app's process group and every descendant of the app (a child that made a group of its own
 *   too), then the app. The IPC `disconnect` handler cannot: it runs on the main thread. As a
 *   second line, the parent pid is checked on every tick (a reparented app has lost devhot).
 * - A blocked event loop: the main thread stamps a shared clock every HEARTBEAT_MS
 *   (watchdog.ts). When the stamp is older than `blockedAfter`, the watchdog samples where the
 *   main thread runs (sample.ts) and reports it; when the loop turns again it says so.
 * - Samples on request: the supervisor asks where a hung update is stuck.
 *
 * Everything it writes goes straight to the pipe with its own event loop: a worker's console
 * output would pass through the main thread.
 */
import { Socket } from 'node:net';
import { workerData } from 'node:worker_threads';
import type { FromWatchdog, ToWatchdog } from '../shared/ipc.js';
import { readJsonLines } from '../shared/json-lines.js';
import { killQuietly, killTree } from '../shared/process-tree.js';
import { sampleMainThread } from './sample.js';

export interface WatchdogData {
  /** Shared clock: the main thread's last heartbeat, ms since the epoch (BigInt64Array). */
  heartbeat: SharedArrayBuffer;
  /** Report a blocked loop after this long (ms); 0: never. */
  blockedAfter: number;
  root: string;
  fd: number;
}

/** How often the watchdog looks (ms): the supervisor's death is acted on within this. */
const TICK_MS = 100;
/**
 * How long a sample may wait for the main thread to pause. About 20 ms on a quiet machine; 1 s
 * was once not enough on Node 24 with two test files running beside it on 2 cores (the hang was
 * then reported as outside JavaScript), so 2 s.
 */
const SAMPLE_TIMEOUT_MS = 2000;
/**
 * A heartbeat older than this means the loop is not turning (the main thread stamps every
 * 100 ms, see watchdog.ts). A loop that turns is not sampled: the pause would land in whatever
 * callback runs next, which says nothing about why an update waits.
 */
const STALLED_MS = 500;

const data = workerData as WatchdogData;
const heartbeat = new BigInt64Array(data.heartbeat);
const parent = process.ppid;

/** devhot is gone: nothing the app started may outlive it. */
function killEverything(): never {
  killTree(process.pid); // its descendants, and the app's group (forked detached, it leads one)
  killQuietly(process.pid);
  process.exit(1); // only reached if the kill was refused: this ends the worker, at least
}

const pipe = new Socket({ fd: data.fd, readable: true, writable: true });
pipe.on('end', killEverything);
pipe.on('close', killEverything);
pipe.on('error', () => {}); // 'close' follows

function report(message: FromWatchdog): void {
  if (!pipe.destroyed) pipe.write(`${JSON.stringify(message)}\n`);
}

readJsonLines<ToWatchdog>(pipe, (request) => {
  if (request.type !== 'sample') return;
  if (lag() < STALLED_MS) report({ type: 'sample', id: request.id, blocked: false, at: undefined });
  else void sampleMainThread(data.root, SAMPLE_TIMEOUT_MS).then((at) => report({ type: 'sample', id: request.id, blocked: true, at }));
});

/** How long ago the main thread last stamped the clock. */
function lag(): number {
  return Date.now() - Number(Atomics.load(heartbeat, 0));
}

/** Since when the loop is known blocked (reported), or undefined. */
let blockedSince: number | undefined;
let sampling = false;

setInterval(() => {
  if (process.ppid !== parent) killEverything();
  if (data.blockedAfter <= 0 || sampling) return;
  const last = Number(Atomics.load(heartbeat, 0));
  const lag = Date.now() - last;
  if (blockedSince === undefined && lag >= data.blockedAfter) {
    blockedSince = last;
    sampling = true;
    void sampleMainThread(data.root, SAMPLE_TIMEOUT_MS)
      .then((at) => report({ type: 'blocked', ms: Date.now() - last, at }))
      .finally(() => (sampling = false));
  } else if (blockedSince !== undefined && lag < data.blockedAfter) {
    report({ type: 'unblocked', ms: last - blockedSince });
    blockedSince = undefined;
  }
}, TICK_MS);
