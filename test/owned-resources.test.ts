/**
 * What replaced code left running is stopped (issue #10.6): process listeners, intervals and
 * timers a module instance started, and workers it created, go when the instance is replaced;
 * a package's own timers are left alone. Runs with `ownResources`, which wraps process-wide
 * functions: node:test gives this file a process of its own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { poll } from './helpers/poll.js';
import { G, expectStatus, startProject } from './helpers/project.js';

// The heap check needs gc(): exposed here rather than by a flag the test runner would have to pass.
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('what a replaced instance started', () => {
  it('an entry with SIGTERM/SIGINT handlers, an interval and a timer chain, saved 20 times: counts and heap stay flat', async (t) => {
    const entry = (v: number) =>
      [
        `import { startMetrics } from 'metrics';`,
        `import { serve } from 'server-kit';`,
        `import http from 'node:http';`,
        `const server = http.createServer((req, res) => res.end('v${v}'));`,
        `server.listen(0, '127.0.0.1');`,
        `process.on('SIGTERM', () => server.close());`,
        `serve(server);`,
        `setInterval(() => { globalThis.__t_ticks = (globalThis.__t_ticks ?? 0) + 1; }, 10_000);`,
        `const again = () => setTimeout(again, 60_000);`,
        `again();`,
        `startMetrics();`,
        `import.meta.hot?.dispose(() => server.close());`,
        `export const big = new Array(20_000).fill('v${v}');`,
      ].join('\n');
    const { project, runner } = await startProject(
      t,
      {
        // Registers a signal handler for the server it is given, as Apollo Server and Effect do.
        'node_modules/server-kit/package.json': JSON.stringify({ name: 'server-kit', type: 'module', main: 'index.js' }),
        'node_modules/server-kit/index.js': `export function serve(server) { process.on('SIGINT', () => server.close()); }\n`,
        // A singleton that starts its own interval on first use: it must keep running.
        'node_modules/metrics/package.json': JSON.stringify({ name: 'metrics', type: 'module', main: 'index.js' }),
        'node_modules/metrics/index.js': `let started = false;\nexport function startMetrics() { if (started) return; started = true; globalThis.__t_metrics = setInterval(() => {}, 60_000); }\n`,
        'main.ts': entry(0),
      },
      { ownResources: true },
    );
    t.after(() => clearInterval(G.__t_metrics));
    const sigterm = process.listenerCount('SIGTERM');
    const sigint = process.listenerCount('SIGINT');
    const active = timers();
    gc();
    const heap = process.memoryUsage().heapUsed;
    for (let v = 1; v <= 20; v++) expectStatus(await runner.update([project.write('main.ts', entry(v))]), 'applied');
    assert.equal(process.listenerCount('SIGTERM'), sigterm, 'one SIGTERM handler, not one per save');
    assert.equal(process.listenerCount('SIGINT'), sigint, "the package's SIGINT handler went with the code that called it");
    assert.equal(timers(), active, 'one interval and one pending timer of the chain, not one per save');
    assert.ok(G.__t_metrics.hasRef(), "the package's own interval keeps running");
    await poll(() => {
      gc();
      return process.memoryUsage().heapUsed - heap < 2_000_000;
    }, 'the heap to come back: the retired servers and their handlers are collected');
  });

  it('a worker created by a replaced instance is terminated', async (t) => {
    const { project, runner } = await startProject(
      t,
      {
        'worker.mjs': `import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => {});\n`,
        'main.ts': `import { Worker } from 'node:worker_threads';\nconst worker = new Worker(new URL('./worker.mjs', import.meta.url));\nglobalThis.__t_workers = [...(globalThis.__t_workers ?? []), worker];\nexport const v = 1;\n`,
      },
      { ownResources: true, nativeLoads: true },
    );
    expectStatus(await runner.update([project.edit('main.ts', 'v = 1', 'v = 2')]), 'applied');
    const [first, second] = G.__t_workers as import('node:worker_threads').Worker[];
    await poll(() => first!.threadId === -1, 'the first worker to be terminated');
    assert.notEqual(second!.threadId, -1, 'the new one runs');
    await second!.terminate();
  });
});
