/**
 * A save of a file a worker or a forked child runs restarts it (issue #10.4): the module that
 * made it runs again, which stops the old one with its instance and makes a new one on the new
 * code; the result says which was restarted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { poll } from './helpers/poll.js';
import { G, expectStatus, startProject } from './helpers/project.js';
import type { Runner } from '../src/runner/runner.js';

/** Whether the instance of `file` knows that what it started runs `ran` (reported by the child). */
function knowsItRuns(runner: Runner, file: string, ran: string): boolean {
  const owned = (runner.modules.get(file)?.instance as { owned?: { runs: Map<unknown, { files: Set<string> }> } } | undefined)?.owned;
  return [...(owned?.runs.values() ?? [])].some((run) => run.files.has(ran));
}

describe('workers and forked children follow saves of their files', () => {
  it('a .ts worker: a save of a module it imports restarts it on the new code', async (t) => {
    const { project, runner } = await startProject(
      t,
      {
        'greeting.ts': `export const greeting: string = 'hello 1';\n`,
        // A worker that stays (a pool's): one that has ended has nothing to restart.
        'worker.ts': `import { parentPort } from 'node:worker_threads';\nimport { greeting } from './greeting.ts';\nparentPort!.postMessage(greeting);\nparentPort!.on('message', () => {});\n`,
        'main.ts': [
          `import { Worker } from 'node:worker_threads';`,
          `const worker = new Worker(new URL('./worker.ts', import.meta.url));`,
          `worker.on('message', (m) => { (globalThis as any).__t_said = [...((globalThis as any).__t_said ?? []), m]; });`,
          `(globalThis as any).__t_workers = [...((globalThis as any).__t_workers ?? []), worker];`,
        ].join('\n'),
      },
      { ownResources: true, nativeLoads: true },
    );
    t.after(() => {
      for (const w of G.__t_workers ?? []) void w.terminate();
      delete G.__t_workers;
      delete G.__t_said;
    });
    await poll(
      () => G.__t_said?.length === 1 && knowsItRuns(runner, project.file('main.ts'), project.file('greeting.ts')),
      'the worker to say hello and report its files',
    );
    const result = expectStatus(await runner.update([project.edit('greeting.ts', 'hello 1', 'hello 2')]), 'applied');
    assert.deepEqual(result.restarted, ['worker worker.ts']);
    await poll(() => G.__t_said.length === 2, 'the new worker to say hello');
    assert.deepEqual(G.__t_said, ['hello 1', 'hello 2']);
    await poll(() => G.__t_workers[0].threadId === -1, 'the old worker to be stopped');
  });

  it('a forked .ts child: a save of its file restarts it', async (t) => {
    const { project, runner } = await startProject(
      t,
      {
        'job.ts': `process.send!({ version: 1 as number });\nsetInterval(() => {}, 1000);\n`,
        'main.ts': [
          `import { fork } from 'node:child_process';`,
          `const child = fork(new URL('./job.ts', import.meta.url).pathname);`,
          `child.on('message', (m: any) => { (globalThis as any).__t_versions = [...((globalThis as any).__t_versions ?? []), m.version]; });`,
          `(globalThis as any).__t_children = [...((globalThis as any).__t_children ?? []), child];`,
        ].join('\n'),
      },
      { ownResources: true, nativeLoads: true },
    );
    t.after(() => {
      for (const c of G.__t_children ?? []) c.kill('SIGKILL');
      delete G.__t_children;
      delete G.__t_versions;
    });
    await poll(() => G.__t_versions?.length === 1, 'the child to start');
    const result = expectStatus(await runner.update([project.edit('job.ts', 'version: 1', 'version: 2')]), 'applied');
    assert.deepEqual(result.restarted, ['child process job.ts']);
    await poll(() => G.__t_versions.length === 2, 'the new child to start');
    assert.deepEqual(G.__t_versions, [1, 2]);
    await poll(() => G.__t_children[0].exitCode !== null || G.__t_children[0].signalCode !== null, 'the old child to be stopped');
  });
});
