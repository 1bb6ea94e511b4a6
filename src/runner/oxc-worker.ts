/**
 * The Oxc thread's side (oxc-thread.ts): compile each file posted with the project's Oxc options
 * (given once, with the port, as workerData) and post back the output, or null where esbuild must compile it.
 */
import { type MessagePort, workerData } from 'node:worker_threads';
import { type OxcOptions, transformWithOxc } from './oxc-transform.js';
import { loadOxc } from './toolchain.js';
import type { TransformOutput } from './transform.js';

export interface OxcJob {
  id: number;
  file: string;
  source: string;
}

/** `out`: null where esbuild must compile the file, 'failed' where the transform threw (the main thread tries again). */
export type OxcAnswer = { ready: true } | { id: number; out: TransformOutput | null | 'failed' };

/** The project's options, and the port the main thread reads synchronously (oxc-thread.ts). */
export interface OxcWorkerData {
  options: OxcOptions;
  port: MessagePort;
}

const { options, port } = workerData as OxcWorkerData;
loadOxc();
port.on('message', ({ id, file, source }: OxcJob) => {
  let out: TransformOutput | null | 'failed';
  try {
    out = transformWithOxc(file, source, options) ?? null;
  } catch {
    out = 'failed';
  }
  port.postMessage({ id, out } satisfies OxcAnswer);
});
port.postMessage({ ready: true } satisfies OxcAnswer);
