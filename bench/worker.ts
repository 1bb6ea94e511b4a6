/**
 * One benchmark measurement in a process of its own, so measurements do not share a heap, JIT
 * state or caches. Started by runner.bench.js as
 *
 *   node [--expose-gc] dist/bench/worker.js '<json WorkerTask>'
 *
 * and reports one line `@@bench <json>` on stdout (other lines, such as the generated entry's
 * `ready`, are the app's own output).
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { leafSource } from './generate.js';
import { RESULT_PREFIX, type StartResult, type UpdatesResult, type WorkerTask } from './protocol.js';

/** Time from process start until this module ran (Node boot + loading this file). */
const bootMs = performance.now();

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2] ?? '') as WorkerTask;
  const t0 = performance.now();
  const { createRunner } = await import('../src/index.js');
  const importMs = performance.now() - t0;

  if (task.mode === 'start') {
    await measureStart(task, createRunner, importMs);
    process.exit(0);
  }

  // mode 'updates': the leaf gets new content before each update([leaf]).
  const project = { modules: task.modules, branching: task.branching };
  let version = 1;
  const salt = `run ${process.pid}-${Date.now()}`;
  const edit = (): void => writeFileSync(task.leaf, leafSource(project, version++, task.accept, salt));
  edit(); // the variant under test (accept or not), before start
  const runner = createRunner({ root: task.root, entry: task.entry, cacheDir: task.cacheDir, tsconfig: task.tsconfig });
  const started = await runner.start();
  if (started.status !== 'applied') throw new Error(`start: ${started.status}`);
  const expectedRung = task.accept ? 'hot-update' : 'entry-reexecuted';

  let reexecuted = -1;
  const one = async (): Promise<{ outer: number; inner: number }> => {
    edit();
    const t = performance.now();
    const r = await runner.update([task.leaf]);
    const outer = performance.now() - t;
    if (r.status !== 'applied') throw new Error(`update ${version - 1}: ${r.status} ${JSON.stringify(r).slice(0, 500)}`);
    if (r.rung !== expectedRung) throw new Error(`update ${version - 1}: rung ${r.rung}, expected ${expectedRung}`);
    if (reexecuted === -1) reexecuted = r.reexecuted.length;
    else if (reexecuted !== r.reexecuted.length) throw new Error(`re-executed ${r.reexecuted.length} modules, before ${reexecuted}`);
    return { outer, inner: r.duration };
  };

  for (let i = 0; i < task.warmup; i++) await one();

  const stopProfile = task.profile ? await startProfile() : undefined;
  const outer: number[] = [];
  const inner: number[] = [];
  for (let i = 0; i < task.iterations; i++) {
    const t = await one();
    outer.push(t.outer);
    inner.push(t.inner);
  }
  if (stopProfile) await stopProfile(task.profile!);

  let heap: UpdatesResult['heap'];
  if (task.heapUpdates > 0) {
    const before = await settledMemory();
    const t = performance.now();
    for (let i = 0; i < task.heapUpdates; i++) await one();
    const loopMs = performance.now() - t;
    const after = await settledMemory();
    heap = {
      updates: task.heapUpdates,
      loopMs,
      heapUsedBefore: before.heapUsed,
      heapUsedAfter: after.heapUsed,
      externalBefore: before.external,
      externalAfter: after.external,
      rssBefore: before.rss,
      rssAfter: after.rss,
    };
  }
  report<UpdatesResult>({
    mode: 'updates',
    accept: task.accept,
    rung: expectedRung,
    reexecuted,
    modules: runner.modules.size,
    outer,
    inner,
    heap,
  });
  await runner.close();
  process.exit(0);
}

async function measureStart(
  task: Extract<WorkerTask, { mode: 'start' }>,
  createRunner: typeof import('../src/index.js').createRunner,
  importMs: number,
): Promise<void> {
  const t1 = performance.now();
  const runner = createRunner({ root: task.root, entry: task.entry, cacheDir: task.cacheDir, tsconfig: task.tsconfig });
  const result = await runner.start();
  const startMs = performance.now() - t1;
  if (result.status !== 'applied') throw new Error(`start: ${result.status}`);
  const { heapUsed } = await settledMemory();
  report<StartResult>({ mode: 'start', bootMs, importMs, startMs, modules: runner.modules.size, heapUsed });
  // The start's cache writes follow it (compile-cache.ts): the warm start and the update runs need them.
  await runner.close();
}

function report<T>(result: T): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

async function settledMemory(): Promise<NodeJS.MemoryUsage> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the worker with --expose-gc');
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  gc();
  return process.memoryUsage();
}

/** CPU profile of the timed update loop only (not start), written as a .cpuprofile file. */
async function startProfile(): Promise<(file: string) => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 50 });
  await session.post('Profiler.start');
  return async (file) => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
