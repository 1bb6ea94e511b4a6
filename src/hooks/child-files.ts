/**
 * In a forked child or a worker of the app: tell the app which project files this process runs
 * (protocol.ts, CHILD_FILES_CMD), batched per turn of the loop, without keeping anything alive.
 */
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';
import { CHILD_FILES_CMD, WORKER_FILES_CHANNEL, type WorkerFilesMessage } from './protocol.js';

/** A function that reports a file (once), or undefined when there is no one to tell. */
export function childFilesReporter(): ((file: string) => void) | undefined {
  const send = sender();
  if (!send) return undefined;
  const seen = new Set<string>();
  const batch: string[] = [];
  return (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    if (batch.length === 0) setImmediate(() => send(batch.splice(0))).unref();
    batch.push(file);
  };
}

function sender(): ((files: string[]) => void) | undefined {
  if (!isMainThread) {
    const channel = new BroadcastChannel(WORKER_FILES_CHANNEL);
    channel.unref();
    return (files) => channel.postMessage({ threadId, files } satisfies WorkerFilesMessage);
  }
  if (typeof process.send !== 'function') return undefined;
  return (files) => {
    if (process.connected) process.send!({ cmd: CHILD_FILES_CMD, files });
  };
}
