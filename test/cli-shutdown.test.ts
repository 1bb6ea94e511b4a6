/**
 * Ctrl-C, SIGTERM, SIGHUP or the supervisor's death leave no process behind and no port held:
 * devhot exits with 128 + the signal's number, the app process is gone, and a new server can
 * listen on the port.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { test } from 'node:test';
import { alive, canListen, createFixture, freePort, get, runDevhot, startDevhot, waitForBody } from './helpers/cli.js';
import { poll } from './helpers/poll.js';

const SERVER = `
import http from 'node:http';
import { spawn } from 'node:child_process';
// A grandchild, as servers start workers or watchers of their own: it must go too.
const worker = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
http
  .createServer((req, res) => {
    res.end(req.url === '/pids' ? \`\${process.pid} \${worker.pid}\` : 'up');
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;

async function startWithPids(t: Parameters<typeof createFixture>[0]) {
  const fixture = createFixture(t, { 'server.ts': SERVER });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'up');
  const pids = (await get(port, '/pids')).body.split(' ').map(Number);
  assert.equal(pids.length, 2);
  for (const pid of pids) assert.ok(alive(pid), `process ${pid} runs`);
  assert.equal(await canListen(port), false, 'the port is taken while devhot runs');
  return { port, devhot, pids };
}

const signals: Array<[NodeJS.Signals, number]> = [
  ['SIGINT', 2],
  ['SIGTERM', 15],
  ['SIGHUP', 1],
];

for (const [signal, number] of signals) {
  test(`${signal}: devhot exits with ${128 + number}, the app and its children are gone, the port is free`, async (t) => {
    const { port, devhot, pids } = await startWithPids(t);
    // An idle keep-alive connection (a browser tab) must not hold the shutdown up.
    const agent = new http.Agent({ keepAlive: true });
    t.after(() => agent.destroy());
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
    assert.equal(Object.values(agent.freeSockets).flat().length, 1, 'one idle connection');
    const t0 = Date.now();
    process.kill(devhot.pid, signal);
    const exit = await Promise.race([
      devhot.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`devhot did not exit${devhot.describe()}`)), 10_000).unref()),
    ]);
    assert.deepEqual(exit, { code: 128 + number, signal: null }, devhot.describe());
    assert.ok(Date.now() - t0 < 3000, `exit took ${Date.now() - t0} ms (the kill timeout is 5000)`);
    // devhot waits for the app before it exits, so nothing should be left even now.
    for (const pid of pids) await poll(() => !alive(pid), `process ${pid} to be gone`, 5000);
    assert.equal(await canListen(port), true, `port ${port} is free`);
  });
}

test('SIGINT while the app starts: devhot exits with 130 once the start is over, and the app is gone', async (t) => {
  // The entry says it runs (a file), then takes a while before it listens.
  const fixture = createFixture(t, {
    'server.ts': `import fs from 'node:fs';\nimport http from 'node:http';\nfs.writeFileSync('started', String(process.pid));\nawait new Promise((r) => setTimeout(r, 500));\nhttp.createServer((_q, s) => s.end('up')).listen(Number(process.env.PORT), '127.0.0.1');\n`,
  });
  const port = await freePort();
  const devhot = runDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await poll(() => fs.existsSync(fixture.file('started')), 'the entry to run', 15_000);
  const appPid = Number(fs.readFileSync(fixture.file('started'), 'utf8'));
  process.kill(devhot.pid, 'SIGINT');
  const exit = await Promise.race([
    devhot.exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`devhot did not exit${devhot.describe()}`)), 10_000).unref()),
  ]);
  assert.deepEqual(exit, { code: 130, signal: null }, devhot.describe());
  await poll(() => !alive(appPid), `the app ${appPid} to be gone`, 5000);
  assert.equal(await canListen(port), true, `port ${port} is free`);
});

test('kill -9 of devhot: the app and its children die too, the port is freed', async (t) => {
  const { port, devhot, pids } = await startWithPids(t);
  process.kill(devhot.pid, 'SIGKILL');
  const exit = await devhot.exited;
  assert.equal(exit.signal, 'SIGKILL');
  for (const pid of pids) await poll(() => !alive(pid), `process ${pid} to be gone`, 5000);
  await poll(() => canListen(port), `port ${port} to be free`, 5000);
});

test('an app that ignores SIGTERM is killed after --kill-timeout, on exit and on restart', async (t) => {
  const stubborn = SERVER.replace("import http from 'node:http';", "import http from 'node:http';\nprocess.on('SIGTERM', () => {});");
  const fixture = createFixture(t, { 'server.ts': stubborn, '.env': 'A=1\n' });
  const port = await freePort();
  const devhot = await startDevhot(t, {
    cwd: fixture.root,
    args: ['server.ts', '--env-file', '.env', '--kill-timeout', '300'],
    env: { PORT: String(port) },
  });
  await waitForBody(port, 'up');
  const [first] = (await get(port, '/pids')).body.split(' ').map(Number);

  // A restart: the old process ignores SIGTERM, and is SIGKILLed once the timeout passes.
  const from = devhot.mark();
  fixture.write('.env', 'A=2\n');
  await devhot.waitEvent((e) => e.event === 'restart' && e.phase === 'ready', 'restart ready', { from });
  const pids = (await get(port, '/pids')).body.split(' ').map(Number);
  assert.notEqual(pids[0], first);
  await poll(() => !alive(first!), `the old process ${first} to be killed`, 3000);

  // Exit: the same, within the timeout and not much more.
  const t0 = Date.now();
  process.kill(devhot.pid, 'SIGTERM');
  const exit = await devhot.exited;
  assert.equal(exit.code, 143);
  assert.ok(Date.now() - t0 < 2500, `exit took ${Date.now() - t0} ms with --kill-timeout 300`);
  for (const pid of pids) await poll(() => !alive(pid), `process ${pid} to be gone`, 3000);
  assert.equal(await canListen(port), true);
});
