/**
 * devhot never wedges (issue #11, items 1 and 14): an update that never ends is given up on at
 * its deadline (--update-timeout), reported with where the app was stuck, and the app process
 * restarts while connections wait; a request handler stuck in a loop is reported with its line;
 * Ctrl-C during a hung update exits at once and starts nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import {
  alive,
  cpuMs,
  createFixture,
  freePort,
  get,
  isRestart,
  isUpdate,
  processesIn,
  startDevhot,
  waitForBody,
  type Response,
} from './helpers/cli.js';
import { poll } from './helpers/poll.js';

const SERVER = `import http from 'node:http';
import { route } from './route.js';
http
  .createServer((req, res) => {
    if (req.url === '/spin') for (;;) {}
    res.end(req.url === '/pid' ? String(process.pid) : route());
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;
const SPIN_LINE = 5;
const route = (v: string) => `export const route = (): string => '${v}';\n`;
/** A module whose top-level code never ends: `while (true)` on line 2. */
const HANGING = "let n = 0;\nwhile (true) {\n  n++;\n}\nexport const route = (): string => 'never';\n";

async function start(t: Parameters<typeof createFixture>[0], timeout: number) {
  const fixture = createFixture(t, { 'server.ts': SERVER, 'route.ts': route('v1') });
  const port = await freePort();
  const devhot = await startDevhot(t, {
    cwd: fixture.root,
    args: ['server.ts', '--update-timeout', String(timeout)],
    env: { PORT: String(port) },
  });
  await waitForBody(port, 'v1');
  const pid = Number((await get(port, '/pid')).body);
  return { fixture, port, devhot, pid };
}

test('a save that never finishes: the update hangs at its deadline, devhot names the line, restarts, and the fix applies', async (t) => {
  const { fixture, port, devhot, pid } = await start(t, 2000);

  let from = devhot.mark();
  const before = cpuMs(pid);
  fixture.write('route.ts', HANGING);
  // A request made once the app spins waits (the socket's backlog, then devhot's 503 page):
  // never refused. (One the app accepted just before it went into the loop dies with it: no
  // process can answer it, so the test does not make it then.)
  await poll(() => cpuMs(pid) - before > 300, 'the app to spin in the update', 10_000);
  const during: Promise<Response | Error> = get(port, '/', 20_000).catch((error: Error) => error);
  const hung = await devhot.waitEvent(isUpdate('error'), 'the hung update', { from });
  assert.equal(hung.result.error.code, 'DEVHOT_ERR_UPDATE_TIMEOUT');
  assert.match(
    hung.result.error.message,
    /the update of route\.ts did not finish within 2 s: the app's event loop is blocked in route\.ts:2$/,
  );
  assert.equal(hung.result.error.file, fixture.file('route.ts'));
  assert.equal(hung.result.error.line, 2);
  const starting = await devhot.waitEvent(isRestart('starting'), 'the restart', { from });
  assert.equal(starting.reason, 'the update of route.ts hung');

  // The new process runs the same module, so its start hangs too: reported, and it goes.
  const startError = await devhot.waitEvent((e) => e.event === 'error' && e.source === 'start', 'the hung start', { from });
  assert.match(startError.error.message, /^the start of the app did not finish within .*blocked in route\.ts:2$/);
  await devhot.waitEvent(isRestart('failed'), 'the failed restart', { from });
  await poll(() => !alive(pid), `the blocked process ${pid} to be killed`, 5000);

  // The fix applies: a new process with the new code.
  from = devhot.mark();
  fixture.write('route.ts', route('v3'));
  await devhot.waitEvent(isRestart('ready'), 'the restart for the fix', { from });
  assert.equal(await waitForBody(port, 'v3'), 'v3');
  const answered = await during;
  assert.ok(!(answered instanceof Error), `the request made during the hang failed: ${String(answered)}`);
  assert.ok([200, 503].includes(answered.status), `status ${answered.status}`);
  assert.equal(devhot.exitCode(), undefined, 'devhot runs on');
});

test('a request handler stuck in a loop: devhot says where; the next save restarts the app with it', async (t) => {
  const { fixture, port, devhot, pid } = await start(t, 2000);

  let from = devhot.mark();
  void get(port, '/spin', 30_000).catch(() => undefined); // its connection dies with the process
  const blocked = await devhot.waitEvent((e) => e.event === 'warn' && /blocked/.test(e.message), 'the blocked-loop warning', { from });
  assert.match(blocked.message, new RegExp(`the app's event loop has been blocked for [\\d.]+ s in server\\.ts:${SPIN_LINE}:`));

  from = devhot.mark();
  fixture.write('route.ts', route('v2'));
  const hung = await devhot.waitEvent(isUpdate('error'), 'the update the blocked app cannot run', { from });
  assert.match(hung.result.error.message, new RegExp(`blocked in server\\.ts:${SPIN_LINE}$`));
  await devhot.waitEvent(isRestart('ready'), 'the restart', { from });
  assert.equal(await waitForBody(port, 'v2'), 'v2');
  await poll(() => !alive(pid), `the blocked process ${pid} to be killed`, 5000);
});

test('Ctrl-C during a hung update: devhot exits at once, and no new app process starts', async (t) => {
  // A deadline far enough away that the hang is still under way when Ctrl-C comes.
  const { fixture, devhot, pid } = await start(t, 20_000);
  const before = cpuMs(pid);
  fixture.write('route.ts', HANGING);
  // The app spins: it has used another 300 ms of CPU.
  await poll(() => cpuMs(pid) - before > 300, 'the app to spin in the update', 10_000);

  const from = devhot.mark();
  const t0 = Date.now();
  process.kill(devhot.pid, 'SIGINT');
  const exit = await devhot.exited;
  const took = Date.now() - t0;
  assert.equal(exit.code, 130, devhot.describe());
  assert.ok(took < 3000, `exit took ${took} ms`);
  assert.deepEqual(devhot.find(isRestart('starting'), from), [], 'no restart once shutdown began');
  await poll(() => processesIn(fixture.root).length === 0, `no process left in the project (${processesIn(fixture.root).join(' ')})`, 3000);
});

test('a CommonJS start that blocks the loop past the deadline while it moves from module to module starts, as under node', async (t) => {
  // Eight modules that require each other in a chain, each busy for 400 ms on its line 2:
  // require() is synchronous, so the loop stays blocked ~3.2 s, over the 1 s deadline.
  const tree: Record<string, string> = {
    'package.json': '{}',
    'server.js': `require('./m0.js');\nrequire('node:http').createServer((req, res) => res.end('up')).listen(Number(process.env.PORT), '127.0.0.1');\n`,
  };
  for (let i = 0; i < 8; i++)
    tree[`m${i}.js`] = `const end = Date.now() + 400;\nwhile (Date.now() < end) {}\n${i < 7 ? `require('./m${i + 1}.js');\n` : ''}`;
  const fixture = createFixture(t, tree);

  // Node itself: it starts and answers.
  const nodePort = await freePort();
  const node = spawn(process.execPath, ['server.js'], {
    cwd: fixture.root,
    env: { ...process.env, PORT: String(nodePort) },
    stdio: 'ignore',
  });
  t.after(() => node.kill('SIGKILL'));
  assert.equal(await waitForBody(nodePort, 'up'), 'up');

  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.js', '--update-timeout', '1000'], env: { PORT: String(port) } });
  assert.equal(await waitForBody(port, 'up'), 'up');
  assert.deepEqual(
    devhot.events.filter((e) => e.event === 'error' || (e.event === 'restart' && e.phase === 'starting')),
    [],
    'the start was not given up on',
  );
});
