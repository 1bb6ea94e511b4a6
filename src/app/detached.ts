/**
 * Processes the app starts outside its own process group (`detached: true`) die with the app,
 * however it ends. The group kill misses them, and after the app is gone /proc no longer says
 * whose they were, so:
 * - each one's pid goes to the supervisor as it starts (it stops them when the app exits by a
 *   signal, kill -9 and the OOM killer included: no code of the app runs then);
 * - an app that exits by itself (`process.exit()`, the end of its loop) kills what runs below it
 *   on its way out, which also reaches what its children detached in turn.
 */
import { ChildProcess } from 'node:child_process';
import process from 'node:process';
import { descendants, killAll } from '../shared/process-tree.js';

/** Node's ChildProcess#spawn: public on the class, though @types/node does not declare it. */
type Spawn = (this: ChildProcess, options: { detached?: boolean } | undefined) => unknown;

export function trackDetachedChildren(report: (pid: number) => void): void {
  // The prototype's spawn is where child_process.spawn, exec, execFile, fork and cluster.fork
  // all arrive, the ones made through Node's internal references included.
  const proto = ChildProcess.prototype as unknown as { spawn: Spawn };
  const spawn = proto.spawn;
  proto.spawn = function (options) {
    const result = spawn.call(this, options);
    if (options?.detached && this.pid !== undefined) report(this.pid);
    return result;
  };
  process.on('exit', () => killAll(descendants(process.pid)));
}
