/** What the bench parent asks a worker to do, and what the worker reports back. */

export const RESULT_PREFIX = '@@bench ';

interface ProjectTask {
  root: string;
  entry: string;
  tsconfig: string;
  cacheDir: string;
}

export type WorkerTask =
  | (ProjectTask & { mode: 'start' })
  | (ProjectTask & {
      mode: 'updates';
      leaf: string;
      modules: number;
      branching: number;
      /** The leaf self-accepts (rung hot-update) or nothing accepts (rung entry-reexecuted). */
      accept: boolean;
      warmup: number;
      iterations: number;
      /** Updates between the two heap readings; 0: no heap measurement. */
      heapUpdates: number;
      /** Write a CPU profile of the timed loop to this file. */
      profile?: string;
    });

export interface StartResult {
  mode: 'start';
  /** Process start → worker module running (ms). */
  bootMs: number;
  /** import() of devhot (ms). */
  importMs: number;
  /** createRunner() + start() (ms). */
  startMs: number;
  modules: number;
  /** heapUsed right after start(), after a full GC (bytes): what the module graph holds. */
  heapUsed: number;
}

export interface UpdatesResult {
  mode: 'updates';
  accept: boolean;
  rung: string;
  /** Modules re-executed per update. */
  reexecuted: number;
  modules: number;
  /** Per timed update: wall time around `await update()` (ms). */
  outer: number[];
  /** Per timed update: the `duration` update() reported (ms). */
  inner: number[];
  heap:
    | {
        updates: number;
        loopMs: number;
        heapUsedBefore: number;
        heapUsedAfter: number;
        externalBefore: number;
        externalAfter: number;
        rssBefore: number;
        rssAfter: number;
      }
    | undefined;
}
