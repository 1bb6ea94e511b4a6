/**
 * Websockets across a save (issue #10.8). A save that re-runs the entry hands the listening
 * socket to the new server; connections upgraded before it used to stay with the old instance's
 * handlers forever. Now they are closed with 1012 (Service Restart) once the new server listens,
 * so a socket.io client reconnects by itself and gets the new handler's answer, and a `ws`
 * client sees 1012; the terminal says how many were closed. `--keep-websockets` keeps them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { io as ioClient, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { createFixture, freePort, isRestart, isUpdate, startDevhot, waitForBody, type Devhot } from './helpers/cli.js';
import { poll, type After } from './helpers/poll.js';

// The handlers live in the entry, as in most examples: a save of it re-runs the entry, and the
// old connections would keep the old closures. (A handler imported from another module would
// answer with the new code anyway: devhot's live bindings reach old importers too.)
const SOCKET_IO_SERVER = `import http from 'node:http';
import { Server } from 'socket.io';
const server = http.createServer((_req, res) => res.end('up'));
const io = new Server(server);
io.on('connection', (socket) => {
  socket.on('ask', (reply: (text: string) => void) => reply('v1'));
});
server.listen(Number(process.env.PORT), '127.0.0.1');
`;

const WS_SERVER = `import http from 'node:http';
import { WebSocketServer } from 'ws';
const server = http.createServer((_req, res) => res.end('up'));
new WebSocketServer({ server }).on('connection', (ws) => ws.on('message', () => ws.send('v1')));
server.listen(Number(process.env.PORT), '127.0.0.1');
`;

const closedInfo = (why: string) => (e: { event: string; message?: string }) =>
  e.event === 'info' && new RegExp(`^closed 1 websocket ${why} \\(1012 Service Restart\\)`).test(e.message ?? '');

/** A `ws` client that records answers and its close code. */
async function wsClient(t: After, port: number) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  t.after(() => ws.terminate());
  const answers: string[] = [];
  let closeCode: number | undefined;
  ws.on('message', (data) => answers.push(String(data)));
  ws.on('close', (code) => (closeCode = code));
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    closeCode: () => closeCode,
    async ask(): Promise<string> {
      const before = answers.length;
      ws.send('?');
      return poll(() => answers[before], 'an answer', 5000, 10);
    },
  };
}

async function saveHandler(
  devhot: Devhot,
  fixture: { edit(rel: string, from: string, to: string): string },
  version: string,
): Promise<void> {
  const from = devhot.mark();
  fixture.edit('server.ts', "'v1'", `'${version}'`);
  await devhot.waitEvent(isUpdate('applied', 'entry-reexecuted'), `the save of ${version}`, { from });
}

test('socket.io: a client connected across a save of its handler reconnects by itself and gets the new answer', async (t) => {
  const fixture = createFixture(t, { 'server.ts': SOCKET_IO_SERVER });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'up');
  const client: Socket = ioClient(`http://127.0.0.1:${port}`);
  t.after(() => client.close());
  const disconnects: string[] = [];
  client.on('disconnect', (reason) => disconnects.push(reason));
  assert.equal(await client.timeout(5000).emitWithAck('ask'), 'v1');
  // The session is on a websocket (socket.io starts with HTTP long-polling, then upgrades).
  await poll(() => client.io.engine?.transport.name === 'websocket', 'the upgrade to a websocket');

  const from = devhot.mark();
  await saveHandler(devhot, fixture, 'v2');
  await devhot.waitEvent(closedInfo('of the replaced server'), 'the terminal line on the closed websocket', { from });
  await poll(
    async () =>
      (await client
        .timeout(1000)
        .emitWithAck('ask')
        .catch(() => undefined)) === 'v2',
    `the new handler's answer over the reconnected client (disconnects: ${JSON.stringify(disconnects)})${devhot.describe()}`,
  );
  assert.deepEqual(disconnects, ['transport close'], 'closed by the server once, then reconnected');
});

test('ws: the old connection is closed with 1012 after the save, a new one gets the new handler; a process restart closes with 1012 too', async (t) => {
  const fixture = createFixture(t, { 'server.ts': WS_SERVER, '.env': 'X=1\n' });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', '--env-file', '.env'], env: { PORT: String(port) } });
  await waitForBody(port, 'up');
  const before = await wsClient(t, port);
  assert.equal(await before.ask(), 'v1');

  const saved = devhot.mark();
  await saveHandler(devhot, fixture, 'v2');
  await poll(() => before.closeCode() === 1012, `close code 1012 (got ${before.closeCode()})`);
  // The terminal line comes by another road (app -> supervisor) than the close frame: wait for it.
  await devhot.waitEvent(closedInfo('of the replaced server'), 'the terminal line on the closed websocket', { from: saved });
  const after = await wsClient(t, port);
  assert.equal(await after.ask(), 'v2');

  // A process restart: the old process closes its websockets before it drains.
  const from = devhot.mark();
  fixture.write('.env', 'X=2\n');
  await devhot.waitEvent(isRestart('ready'), 'the restart', { from, timeout: 15_000 });
  await poll(() => after.closeCode() === 1012, `close code 1012 at the restart (got ${after.closeCode()})`);
  await devhot.waitEvent(closedInfo('of the previous process'), 'the terminal line for the restart', { from });
  assert.equal(await (await wsClient(t, port)).ask(), 'v2');
});

test('--keep-websockets: the old connection stays open on the old code; new connections get the new one', async (t) => {
  const fixture = createFixture(t, { 'server.ts': WS_SERVER });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', '--keep-websockets'], env: { PORT: String(port) } });
  await waitForBody(port, 'up');
  const before = await wsClient(t, port);
  assert.equal(await before.ask(), 'v1');
  await saveHandler(devhot, fixture, 'v2');
  assert.equal(await (await wsClient(t, port)).ask(), 'v2');
  assert.equal(await before.ask(), 'v1', 'the kept connection talks to the old handler');
  assert.equal(before.closeCode(), undefined);
  assert.equal(devhot.events.filter((e) => e.event === 'info' && /websocket/.test(e.message)).length, 0, devhot.describe());
});

test('ws: when devhot exits, the connection is closed with 1001 (Going Away)', async (t) => {
  const fixture = createFixture(t, { 'server.ts': WS_SERVER });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'up');
  const client = await wsClient(t, port);
  assert.equal(await client.ask(), 'v1');
  process.kill(devhot.pid, 'SIGINT');
  await devhot.exited;
  await poll(() => client.closeCode() === 1001, `close code 1001 (got ${client.closeCode()})`);
});
