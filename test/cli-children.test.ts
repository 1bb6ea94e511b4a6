/**
 * Forked children and workers under the devhot command (issue #10.4): they run the project's
 * TypeScript; their errors show where they happened in the .ts source, with its code frame; a
 * save of a file a worker runs restarts it, and the terminal says so.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFixture, freePort, get, isUpdate, runDevhot, startDevhot, waitForBody } from './helpers/cli.js';
import { poll } from './helpers/poll.js';

/** Fails on line 3; `as number` is TypeScript, so a frame of the .ts source shows it (esbuild's output would not). */
const FAILING = `const limit: number = 3;
function work(n: number): number {
  if (n > (limit as number)) throw new Error(\`job failed at \${n}\`);
  return n;
}
work(5);
`;

const SERVER = `import http from 'node:http';
import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
let said = '';
const pool = new Worker(new URL('./pool.ts', import.meta.url));
pool.on('message', (m: string) => (said = m));
http
  .createServer((req, res) => {
    if (req.url === '/fork') fork(new URL('./job.ts', import.meta.url));
    if (req.url === '/worker') new Worker(new URL('./worker.ts', import.meta.url));
    res.end(req.url === '/said' ? said : 'ok');
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;

const POOL = (v: string) =>
  `import { parentPort } from 'node:worker_threads';\nparentPort!.postMessage('${v}' as string);\nparentPort!.on('message', () => {});\n`;

const TREE = { 'server.ts': SERVER, 'job.ts': FAILING, 'worker.ts': FAILING, 'pool.ts': POOL('pool v1') };

test("a worker's uncaught error is reported at its .ts line, with the code frame", async (t) => {
  const fixture = createFixture(t, TREE);
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'ok');
  const from = devhot.mark();
  await get(port, '/worker');
  const event = await devhot.waitEvent((e) => e.event === 'error' && e.source === 'uncaught', "the worker's error", { from });
  assert.equal(event.error.file, fixture.file('worker.ts'), devhot.describe());
  assert.deepEqual([event.error.line, event.error.column], [3, 36]);
  assert.match(event.error.frame, /> 3 \| {3}if \(n > \(limit as number\)\) throw/);
});

test("a forked child's uncaught error shows its .ts line and source, as node prints it", async (t) => {
  const fixture = createFixture(t, TREE);
  const port = await freePort();
  const devhot = runDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) }, json: false });
  await waitForBody(port, 'ok');
  await get(port, '/fork');
  await poll(() => /job failed at 5/.test(devhot.stderr()), "the child's error on the terminal");
  const err = devhot.stderr();
  assert.ok(err.includes(`${fixture.file('job.ts')}:3\n  if (n > (limit as number)) throw`), err);
  assert.ok(err.includes(`at work (${fixture.file('job.ts')}:3:36)`), err);
});

test('a save of the file a worker runs restarts the worker, and the terminal says so', async (t) => {
  const fixture = createFixture(t, TREE);
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await poll(async () => (await get(port, '/said')).body === 'pool v1', 'the pool worker to say v1');
  const from = devhot.mark();
  fixture.write('pool.ts', POOL('pool v2'));
  const applied = await devhot.waitEvent(isUpdate('applied'), 'the update', { from });
  assert.deepEqual(applied.result.restarted, ['worker pool.ts'], devhot.describe());
  await poll(async () => (await get(port, '/said')).body === 'pool v2', 'the new pool worker to say v2');
});

const CLUSTER = `import cluster from 'node:cluster';
import http from 'node:http';
import { message } from './route.js';
if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
  cluster.on('exit', (worker) => console.log(\`worker \${worker.process.pid} exited\`));
} else {
  http.createServer((_req, res) => res.end(\`\${message} \${process.pid}\`)).listen(Number(process.env.PORT), '127.0.0.1');
}
`;
const ROUTE = (v: string) => `export const message: string = '${v}';\n`;

/** The worker pids that answer `version`, once both workers do. */
async function workersSaying(port: number, version: string): Promise<Set<string>> {
  const pids = new Set<string>();
  await poll(async () => {
    const [said, pid] = (await get(port, '/')).body.split(' ');
    if (said === version) pids.add(pid!);
    return pids.size === 2;
  }, `both cluster workers to answer ${version}`);
  return pids;
}

test("cluster.fork() of the .ts entry: a save restarts the workers on the new code; the replaced primary's listeners go", async (t) => {
  const fixture = createFixture(t, { 'server.ts': CLUSTER, 'route.ts': ROUTE('v1') });
  const port = await freePort();
  const devhot = runDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  const before = await workersSaying(port, 'v1');
  const from = devhot.mark();
  fixture.write('route.ts', ROUTE('v2'));
  const applied = await devhot.waitEvent(isUpdate('applied'), 'the update', { from });
  assert.deepEqual(applied.result.restarted, ['cluster worker server.ts', 'cluster worker server.ts'], devhot.describe());
  const after = await workersSaying(port, 'v2');
  assert.equal([...after].filter((pid) => before.has(pid)).length, 0, 'new worker processes answer');
  // Each old worker's exit is seen once: by the new primary code's listener, not also the replaced one's.
  // (The app's own output: stdout lines that are not devhot's JSON events.)
  const out = () => devhot.stray.join('\n');
  for (const pid of before) await poll(() => out().includes(`worker ${pid} exited`), `worker ${pid}'s exit`);
  for (const pid of before) assert.equal(out().split(`worker ${pid} exited`).length - 1, 1, out());
});
