/**
 * The process-restart rung: an --env-file change restarts the app with the new environment, a
 * restart whose new process cannot start leaves the old one serving, a crashed app is reported
 * and restarted by the next save, and --no-hot restarts on every save.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFixture, freePort, get, isRestart, isUpdate, startDevhot, waitForBody, type Devhot } from './helpers/cli.js';

const SERVER = `
import http from 'node:http';
import { message } from './route.js';
http
  .createServer((req, res) => {
    if (req.url === '/crash') process.exit(1);
    res.end(req.url === '/pid' ? String(process.pid) : req.url === '/env' ? String(process.env.TOKEN) : message);
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;
const route = (v: string) => `export const message = '${v}';\n`;

async function pidOf(port: number): Promise<number> {
  const res = await get(port, '/pid');
  assert.equal(res.status, 200);
  return Number(res.body);
}

async function start(t: Parameters<typeof createFixture>[0], extraArgs: string[] = []) {
  const fixture = createFixture(t, { 'server.ts': SERVER, 'route.ts': route('v1'), '.env': 'TOKEN=a\n' });
  const port = await freePort();
  const devhot: Devhot = await startDevhot(t, {
    cwd: fixture.root,
    args: ['server.ts', '--env-file', '.env', ...extraArgs],
    env: { PORT: String(port) },
  });
  await waitForBody(port, 'v1');
  return { fixture, port, devhot };
}

test('an --env-file change restarts the app, which sees the new value', async (t) => {
  const { fixture, port, devhot } = await start(t);
  assert.equal((await get(port, '/env')).body, 'a');
  const pid = await pidOf(port);

  const from = devhot.mark();
  fixture.write('.env', 'TOKEN=b\n');
  const starting = await devhot.waitEvent(isRestart('starting'), 'restart starting', { from });
  assert.equal(starting.reason, '.env changed');
  await devhot.waitEvent(isRestart('ready'), 'restart ready', { from });
  assert.equal((await get(port, '/env')).body, 'b');
  const next = await pidOf(port);
  assert.notEqual(next, pid, 'a new process');
  assert.equal(devhot.find(isUpdate('applied'), from).length, 0, 'not an in-process update');
});

test('a restart whose new process fails to start keeps the old process serving; the fix completes it', async (t) => {
  const { fixture, port, devhot } = await start(t);
  const pid = await pidOf(port);

  // A syntax error in the entry: an update error, the old code keeps serving.
  let from = devhot.mark();
  fixture.write('server.ts', `${SERVER}\nconst broken = ;\n`);
  await devhot.waitEvent(isUpdate('error'), 'the failed update', { from });

  // Now the restart: the new process cannot compile the entry.
  from = devhot.mark();
  fixture.write('.env', 'TOKEN=c\n');
  await devhot.waitEvent(isRestart('starting'), 'restart starting', { from });
  const error = await devhot.waitEvent((e) => e.event === 'error' && e.source === 'start', 'the start error', { from });
  assert.equal(error.error.file, fixture.file('server.ts'));
  assert.equal(error.error.line, SERVER.split('\n').length + 1);
  await devhot.waitEvent(isRestart('failed'), 'restart failed', { from });
  assert.equal(await pidOf(port), pid, 'the old process still serves');
  assert.equal((await get(port, '/env')).body, 'a', 'with its old environment');
  assert.equal((await get(port, '/')).body, 'v1');

  // A file that is not source (a log the app writes, notes) is no reason to retry the restart,
  // nor to run anything. A stylesheet saved after it is the barrier: saves are handled in order.
  from = devhot.mark();
  fixture.write('notes.txt', 'hello\n');
  fixture.write('style.css', 'body {}\n');
  await devhot.waitEvent((e) => e.event === 'info' && /css update style\.css/.test(e.message), 'the stylesheet after notes.txt', { from });
  assert.deepEqual(devhot.find(isRestart('starting'), from), [], devhot.describe());
  assert.deepEqual(
    devhot.find((e) => e.event === 'update', from),
    [],
    'notes.txt ran nothing',
  );
  assert.equal(await pidOf(port), pid);

  // The fix: the owed restart happens, with the new environment.
  from = devhot.mark();
  fixture.write('server.ts', SERVER);
  await devhot.waitEvent(isRestart('ready'), 'restart ready', { from });
  assert.equal((await get(port, '/env')).body, 'c');
  assert.notEqual(await pidOf(port), pid);
  assert.equal(devhot.find(isRestart('starting'), from).length, 1, devhot.describe());
});

test('an app that exits (process.exit in a handler) is reported, and the next save restarts it', async (t) => {
  const { fixture, port, devhot } = await start(t);
  const pid = await pidOf(port);

  let from = devhot.mark();
  await get(port, '/crash').catch(() => undefined); // the connection dies with the process
  const exit = await devhot.waitEvent((e) => e.event === 'exit', 'the exit event', { from });
  assert.equal(exit.code, 1);
  assert.match(exit.reason, /waiting for a change/);
  assert.equal(devhot.exitCode(), undefined, 'devhot itself keeps running');

  from = devhot.mark();
  fixture.write('route.ts', route('v2'));
  const starting = await devhot.waitEvent(isRestart('starting'), 'restart starting', { from });
  assert.match(starting.reason, /exited/);
  await devhot.waitEvent(isRestart('ready'), 'restart ready', { from });
  assert.equal(await waitForBody(port, 'v2'), 'v2');
  assert.notEqual(await pidOf(port), pid);
});

test('--no-hot: every save restarts the process (like tsx watch)', async (t) => {
  const { fixture, port, devhot } = await start(t, ['--no-hot']);
  const pids = new Set([await pidOf(port)]);
  const from = devhot.mark();
  for (const v of ['v2', 'v3', 'v4']) {
    const before = devhot.mark();
    fixture.write('route.ts', route(v));
    await devhot.waitEvent(isRestart('ready'), `restart ready for ${v}`, { from: before });
    assert.equal((await get(port, '/')).body, v);
    pids.add(await pidOf(port));
  }
  assert.equal(pids.size, 4, 'a new process for every save');
  assert.equal(devhot.find(isRestart('starting'), from).length, 3, devhot.describe());
  assert.equal(devhot.find((e) => e.event === 'update' && e.result.status === 'applied', from).length, 0, 'nothing applied in-process');
});

test('--restart-on-crash: an app that exits is started again without a save', async (t) => {
  const { port, devhot } = await start(t, ['--restart-on-crash']);
  const pid = await pidOf(port);
  const from = devhot.mark();
  await get(port, '/crash').catch(() => undefined);
  const exit = await devhot.waitEvent((e) => e.event === 'exit', 'the exit event', { from });
  assert.equal(exit.code, 1);
  await devhot.waitEvent(isRestart('ready'), 'restart ready', { from });
  assert.equal(await waitForBody(port, 'v1'), 'v1');
  assert.notEqual(await pidOf(port), pid);
});

test('a request in flight is answered across an entry re-execution, and by the old process across a restart', async (t) => {
  const slowServer = SERVER.replace(
    "if (req.url === '/crash') process.exit(1);",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the fixture's source holds a template literal
    "if (req.url === '/crash') process.exit(1);\n    if (req.url === '/slow') return void setTimeout(() => res.end(`${message} ${process.pid}`), 700);",
  );
  const fixture = createFixture(t, { 'server.ts': slowServer, 'route.ts': route('v1'), '.env': 'TOKEN=a\n' });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', '--env-file', '.env'], env: { PORT: String(port) } });
  await waitForBody(port, 'v1');
  const pid = await pidOf(port);

  // Entry re-execution while /slow runs.
  let from = devhot.mark();
  let slow = get(port, '/slow');
  await new Promise((r) => setTimeout(r, 100)); // let the request reach the server first
  fixture.write('route.ts', route('v2'));
  await devhot.waitEvent(isUpdate('applied'), 'the update', { from });
  assert.equal((await get(port)).body, 'v2');
  // Not lost. (Which `message` it reads is the runner's choice: the old handler's import is a
  // live binding to route.ts, which now has its new instance.)
  const during = await slow;
  assert.equal(during.status, 200);
  assert.match(during.body, new RegExp(`^v[12] ${pid}$`));

  // Restart while /slow runs: the old process finishes it before it goes.
  from = devhot.mark();
  slow = get(port, '/slow');
  await new Promise((r) => setTimeout(r, 100));
  fixture.write('.env', 'TOKEN=b\n');
  await devhot.waitEvent(isRestart('ready'), 'restart ready', { from });
  assert.equal((await get(port, '/env')).body, 'b');
  assert.deepEqual(await slow.then((r) => [r.status, r.body]), [200, `v2 ${pid}`]);
});

/**
 * An editor's save, slowed down: the file is truncated, and written 20 ms later. The watcher
 * reports the empty file at once and the write at its re-check; the restart waits for the
 * watcher to settle, so it reads the written file and happens once. A save that follows is
 * queued behind any second restart, so once it is applied the count is final.
 */
for (const mode of ['an --env-file', 'a --no-hot source'] as const) {
  test(`${mode} save caught between truncate and write restarts once, reading what was written`, async (t) => {
    const noHot = mode === 'a --no-hot source';
    const { fixture, port, devhot } = await start(t, noHot ? ['--no-hot'] : []);
    const [file, written] = noHot ? ['route.ts', route('v2')] : ['.env', 'TOKEN=b\n'];
    const from = devhot.mark();
    fixture.write(file, '');
    const write = new Promise<void>((resolve) => setTimeout(() => resolve(void fixture.write(file, written)), 20));
    await devhot.waitEvent(isRestart('ready'), 'restart ready', { from });
    await write;
    assert.equal((await get(port, noHot ? '/' : '/env')).body, noHot ? 'v2' : 'b');

    const after = devhot.mark();
    fixture.write('route.ts', route('v3'));
    await waitForBody(port, 'v3');
    await devhot.waitEvent(noHot ? isRestart('ready') : isUpdate('applied'), 'the next save', { from: after });
    assert.equal(devhot.find(isRestart('starting'), from).length, noHot ? 2 : 1, devhot.describe());
  });
}
