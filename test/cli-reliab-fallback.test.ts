/**
 * While no app process can answer (issue #11, item 10), devhot answers HTTP on the app's port
 * itself: a 503 page that says what happened and that a save restarts the app, with the browser
 * client (which reloads the page when the app is back) and a meta refresh. Connections to a port
 * that does not speak HTTP wait in the backlog, and the next app process answers them.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { createFixture, freePort, get, isRestart, onCleanup, startDevhot, waitForBody } from './helpers/cli.js';
import { poll } from './helpers/poll.js';

const SERVER = `import http from 'node:http';
import net from 'node:net';
import { route } from './route.js';
http
  .createServer((req, res) => {
    if (req.url === '/crash') process.exit(1);
    res.end(route());
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
// A port that does not speak HTTP: an echo server.
net.createServer((socket) => socket.pipe(socket)).listen(Number(process.env.ECHO_PORT), '127.0.0.1');
`;
const route = (v: string) => `export const route = (): string => '${v}';\n`;

/** The app started and then exited (GET /crash): devhot reported the exit. */
async function crashedApp(t: Parameters<typeof createFixture>[0]) {
  const fixture = createFixture(t, { 'server.ts': SERVER, 'route.ts': route('v1') });
  const [port, echoPort] = [await freePort(), await freePort()];
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port), ECHO_PORT: String(echoPort) } });
  await waitForBody(port, 'v1');
  const from = devhot.mark();
  await get(port, '/crash').catch(() => undefined);
  await devhot.waitEvent((e) => e.event === 'exit', 'the exit', { from });
  return { fixture, port, echoPort, devhot };
}

test('after the app exits, its HTTP port answers 503 with what happened; other ports wait; a save brings the app back', async (t) => {
  const { fixture, port, echoPort, devhot } = await crashedApp(t);

  const page = await get(port, '/anything');
  assert.equal(page.status, 503);
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(page.body, /The app exited with code 1\./);
  assert.match(page.body, /Save a file to restart it/);
  assert.match(page.body, /<meta http-equiv="refresh"/);
  assert.match(page.body, /<script type="module" src="http:\/\/127\.0\.0\.1:\d+\/@devhot\/client\.js\?token=[\w-]+"><\/script>/);

  // The echo port is not HTTP: a connection waits (nobody answers it) until the app is back.
  const echo = net.connect(echoPort, '127.0.0.1');
  onCleanup(t, () => echo.destroy());
  let echoed = '';
  echo.setEncoding('utf8').on('data', (chunk: string) => (echoed += chunk));
  echo.on('error', () => {});
  await new Promise((resolve) => echo.once('connect', resolve));
  echo.write('ping');

  const from = devhot.mark();
  fixture.write('route.ts', route('v2'));
  await devhot.waitEvent(isRestart('ready'), 'the restart', { from });
  assert.equal(await waitForBody(port, 'v2'), 'v2');
  // The waiting connection was answered by the new process.
  await poll(() => echoed === 'ping', `the echo (got ${JSON.stringify(echoed)})`, 5000);
});

test('a save that does not bring the app back: the page still answers, with the new reason; the fix brings the app back', async (t) => {
  const { fixture, port, devhot } = await crashedApp(t);
  assert.equal((await get(port, '/')).status, 503);

  // The page gave its sockets back for the restart; the restart fails: it answers again.
  const from = devhot.mark();
  fixture.write('route.ts', `throw new Error('still broken');\nexport const route = (): string => 'never';\n`);
  await devhot.waitEvent(isRestart('failed'), 'the failed restart', { from });
  const again = await get(port, '/', 5000);
  assert.equal(again.status, 503);
  assert.match(again.body, /still broken/);

  // The process whose start failed runs the fix (its start again, as an update).
  fixture.write('route.ts', route('v2'));
  assert.equal(await waitForBody(port, 'v2'), 'v2');
});
