/**
 * Nothing outlives devhot (issue #11, items 2 and 3): whatever happens to the supervisor (kill -9
 * included) and whatever the app does (a blocked loop included), the app, its children (one in a
 * process group of its own too) and esbuild are gone within about a second, and the port is free.
 * A fork that fails (here: the supervisor out of descriptors, EMFILE) is a failed restart with a
 * named error: the old process keeps serving and the next save retries.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import {
  alive,
  canListen,
  cpuMs,
  createFixture,
  fdCount,
  freePort,
  get,
  isRestart,
  onCleanup,
  processesIn,
  startDevhot,
  waitForBody,
} from './helpers/cli.js';
import { poll } from './helpers/poll.js';
import { killAll } from '../src/shared/process-tree.js';

const SERVER = `import http from 'node:http';
import { spawn } from 'node:child_process';
import { route } from './route.js';
// Children, as servers start workers: one in the app's group, one in a group of its own.
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
const detached = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', detached: true });
http
  .createServer((req, res) => {
    if (req.url === '/spin') for (;;) {}
    if (req.url === '/exit') process.exit(3);
    res.end(req.url === '/pids' ? \`\${process.pid} \${child.pid} \${detached.pid}\` : route());
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;
const route = (v: string) => `export const route = (): string => '${v}';\n`;

async function startSpinning(t: Parameters<typeof createFixture>[0]) {
  const fixture = createFixture(t, { 'server.ts': SERVER, 'route.ts': route('v1') });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'v1');
  const pids = (await get(port, '/pids')).body.split(' ').map(Number);
  assert.equal(pids.length, 3);
  const [app] = pids;
  const before = cpuMs(app!);
  void get(port, '/spin', 30_000).catch(() => undefined);
  // The app's main thread spins: it has used another 300 ms of CPU.
  await poll(() => cpuMs(app!) - before > 300, 'the app to spin', 10_000);
  return { fixture, port, devhot, pids };
}

async function expectNothingLeft(root: string, pids: number[], port: number, ms: number): Promise<void> {
  const t0 = Date.now();
  await poll(() => pids.every((pid) => !alive(pid)), `processes ${pids.join(' ')} to be gone`, 5000, 10);
  const took = Date.now() - t0;
  assert.ok(took < ms, `they outlived devhot by ${took} ms`);
  await poll(() => processesIn(root).length === 0, 'no process left in the project', 2000);
  await poll(() => canListen(port), `port ${port} to be free`, 2000);
}

test('kill -9 of devhot while the app spins in a loop: the app and all its children go within a second, the port is free', async (t) => {
  const { fixture, port, devhot, pids } = await startSpinning(t);
  process.kill(devhot.pid, 'SIGKILL');
  await devhot.exited;
  await expectNothingLeft(fixture.root, pids, port, 1500);
});

test('two Ctrl-C while the app spins: devhot exits at once, and nothing it started remains', async (t) => {
  const { fixture, port, devhot, pids } = await startSpinning(t);
  process.kill(devhot.pid, 'SIGINT');
  process.kill(devhot.pid, 'SIGINT');
  const exit = await devhot.exited;
  assert.equal(exit.code, 130);
  await expectNothingLeft(fixture.root, pids, port, 1500);
});

test('a fork that fails (EMFILE) is a failed restart with a named error; the old process serves; the next save retries', async (t) => {
  const fixture = createFixture(t, { 'server.ts': SERVER, 'route.ts': route('v1'), '.env': 'A=1\n' });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', '--env-file', '.env'], env: { PORT: String(port) } });
  await waitForBody(port, 'v1');
  const oldPid = Number((await get(port, '/pids')).body.split(' ')[0]);

  // Leave the supervisor too few descriptors for a fork (which needs ~10 for its pipes): lower
  // its limit to what it has open plus a few, then take those few with channel connections.
  const session = JSON.parse(fs.readFileSync(path.join(fixture.root, 'node_modules', '.devhot', 'session.json'), 'utf8'));
  const hard = execFileSync('prlimit', ['--pid', String(devhot.pid), '--nofile', '--output', 'HARD', '--noheadings'], {
    encoding: 'utf8',
  }).trim();
  const soft = execFileSync('prlimit', ['--pid', String(devhot.pid), '--nofile', '--output', 'SOFT', '--noheadings'], {
    encoding: 'utf8',
  }).trim();
  const limit = fdCount(devhot.pid) + 6;
  execFileSync('prlimit', ['--pid', String(devhot.pid), `--nofile=${limit}:${hard}`]);
  onCleanup(t, () => {
    if (alive(devhot.pid)) execFileSync('prlimit', ['--pid', String(devhot.pid), `--nofile=${soft}:${hard}`]);
  });
  const sockets: WebSocket[] = [];
  onCleanup(t, () => {
    for (const ws of sockets) ws.terminate();
  });
  // Authenticated websockets stay open; add them until the supervisor has 2 descriptors left.
  await poll(
    async () => {
      if (fdCount(devhot.pid) >= limit - 2) return true;
      const ws = new WebSocket(session.url, { headers: { Authorization: `Bearer ${session.token}` } });
      ws.on('error', () => {});
      sockets.push(ws);
      await new Promise((resolve) => ws.once('open', resolve).once('error', resolve).once('unexpected-response', resolve));
      return false;
    },
    'the supervisor to run low on descriptors',
    10_000,
    1,
  );

  let from = devhot.mark();
  fixture.write('.env', 'A=2\n');
  await devhot.waitEvent(isRestart('starting'), 'the restart', { from });
  const error = await devhot.waitEvent((e) => e.event === 'error' && e.source === 'start', 'the start error', { from });
  assert.equal(error.error.code, 'DEVHOT_ERR_DESCRIPTORS', JSON.stringify(error));
  assert.match(error.error.message, /ran out of file descriptors \(EMFILE\) starting the app process/);
  await devhot.waitEvent(isRestart('failed'), 'the failed restart', { from });
  assert.equal(Number((await get(port, '/pids')).body.split(' ')[0]), oldPid, 'the old process still serves');

  // Descriptors back: the next save retries the restart, and it succeeds.
  for (const ws of sockets) ws.terminate();
  execFileSync('prlimit', ['--pid', String(devhot.pid), `--nofile=${soft}:${hard}`]);
  from = devhot.mark();
  fixture.write('route.ts', route('v2'));
  await devhot.waitEvent(isRestart('ready'), 'the retried restart', { from });
  assert.equal(await waitForBody(port, 'v2'), 'v2');
  assert.notEqual(Number((await get(port, '/pids')).body.split(' ')[0]), oldPid);
});

for (const [how, end] of [
  ['exits by itself (process.exit)', (port: number) => void get(port, '/exit').catch(() => undefined)],
  ['is killed by someone else (kill -9)', (_port: number, app: number) => process.kill(app, 'SIGKILL')],
] as const) {
  test(`an app that ${how} takes its children with it, the one in a group of its own included`, async (t) => {
    const fixture = createFixture(t, { 'server.ts': SERVER, 'route.ts': route('v1') });
    const port = await freePort();
    const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
    await waitForBody(port, 'v1');
    const pids = (await get(port, '/pids')).body.split(' ').map(Number);
    assert.ok(pids.every(alive));
    onCleanup(t, () => killAll(pids));
    const from = devhot.mark();
    end(port, pids[0]!);
    await devhot.waitEvent((e) => e.event === 'exit', 'devhot to say the app ended', { from });
    await poll(() => pids.every((pid) => !alive(pid)), `the app and its children ${pids.join(' ')} to be gone`, 5000);
  });
}

test('a restart stops the old process with its children, the one in a group of its own included', async (t) => {
  const fixture = createFixture(t, { 'server.ts': SERVER, 'route.ts': route('v1'), '.env': 'A=1\n' });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', '--env-file', '.env'], env: { PORT: String(port) } });
  await waitForBody(port, 'v1');
  const old = (await get(port, '/pids')).body.split(' ').map(Number);
  assert.ok(old.every(alive));

  const from = devhot.mark();
  fixture.write('.env', 'A=2\n');
  await devhot.waitEvent(isRestart('ready'), 'the restart', { from });
  // The detached child left the app's group: only the list read while the app lived finds it.
  await poll(() => old.every((pid) => !alive(pid)), `the old process and its children ${old.join(' ')} to be gone`, 5000);
  const now = (await get(port, '/pids')).body.split(' ').map(Number);
  assert.ok(now.every(alive), 'the new process and its children run');
});
