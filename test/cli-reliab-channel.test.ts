/**
 * The channel under abuse (issue #11, items 5, 6, 12, 13): silent connections cannot exhaust the
 * supervisor's descriptors; the token in the page's script tag only receives events, and the
 * control token is never printed; a flood of custom events at an app that does not read them is
 * bounded, with a warning; control characters never reach the terminal or the channel.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { connect } from '../src/tool/connect.js';
import type { ServerMessage, SessionFile } from '../src/shared/protocol.js';
import {
  createFixture,
  fdCount,
  freePort,
  get,
  isUpdate,
  onCleanup,
  rssKb,
  runDevhot,
  startDevhot,
  waitForBody,
  type Fixture,
} from './helpers/cli.js';
import { poll } from './helpers/poll.js';

const SERVER = `import http from 'node:http';
import { route } from './route.js';
import './echo.js';
http
  .createServer((req, res) => {
    if (req.url === '/log') console.log('app log line');
    if (req.url === '/block') {
      const end = Date.now() + 3000;
      while (Date.now() < end) {}
    }
    if (req.url?.startsWith('/boom')) {
      setTimeout(() => {
        throw new Error('boom \\x1b]0;owned\\x07 \\x1b[2J\\x9b31m url=' + req.url);
      });
    }
    res.end(req.url === '/pid' ? String(process.pid) : route());
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;
const ECHO = `import.meta.hot?.on('ping', (data) => import.meta.hot?.send('pong', data));
export {};
`;
const route = (v: string) => `export const route = (): string => '${v}';\n`;

function session(fixture: Fixture): SessionFile {
  return JSON.parse(fs.readFileSync(path.join(fixture.root, 'node_modules', '.devhot', 'session.json'), 'utf8')) as SessionFile;
}

async function start(t: Parameters<typeof createFixture>[0], args: string[] = []) {
  const fixture = createFixture(t, { 'server.ts': SERVER, 'echo.ts': ECHO, 'route.ts': route('v1') });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', ...args], env: { PORT: String(port) } });
  await waitForBody(port, 'v1');
  return { fixture, port, devhot, session: session(fixture) };
}

/** A websocket client on the channel with `token`, recording what it receives. */
async function wsClient(t: Parameters<typeof createFixture>[0], url: string, token: string) {
  const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
  const messages: ServerMessage[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as ServerMessage));
  ws.on('error', () => {});
  onCleanup(t, () => ws.terminate());
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { ws, messages };
}

function post(url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { Authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('1,500 silent connections to the channel: the supervisor holds a bounded few, closes them, and keeps working', async (t) => {
  const { devhot, session: s, port } = await start(t);
  const channelPort = Number(new URL(s.url).port);
  const before = fdCount(devhot.pid);
  const sockets: net.Socket[] = [];
  onCleanup(t, () => {
    for (const socket of sockets) socket.destroy();
  });
  let maxFds = 0;
  for (let i = 0; i < 1500; i++) {
    const socket = net.connect(channelPort, '127.0.0.1');
    socket.on('error', () => {});
    sockets.push(socket);
    if (i % 100 === 99) {
      await Promise.all(
        sockets
          .slice(-100)
          .map((c) => new Promise((resolve) => (c.connecting ? c.once('connect', resolve).once('close', resolve) : resolve(undefined)))),
      );
      maxFds = Math.max(maxFds, fdCount(devhot.pid));
    }
  }
  assert.ok(maxFds - before < 80, `the supervisor held ${maxFds - before} more descriptors (before: ${before})`);
  // Tools still get in during the flood, and the app still restarts.
  const tool = await connect({ url: s.url, token: s.token });
  onCleanup(t, () => tool.close());
  assert.equal((await tool.status()).status, 'running');
  const pid = Number((await get(port, '/pid')).body);
  assert.equal(await post(`http://127.0.0.1:${channelPort}/@devhot/restart`, s.token), 200);
  assert.notEqual(Number((await get(port, '/pid')).body), pid);
  // Silent connections are closed within the handshake time (3 s).
  await poll(() => sockets.every((c) => c.destroyed || c.readyState === 'closed'), 'every silent connection to be closed', 8000);
  await poll(
    () => fdCount(devhot.pid) - before < 10,
    `the supervisor's descriptors back near ${before} (now ${fdCount(devhot.pid)})`,
    5000,
  );
});

test("the page's token only receives events; the control token is never printed", async (t) => {
  const { fixture, port, devhot, session: s } = await start(t, ['--no-inject']);
  // The tag (printed for --no-inject) carries a token, and it is not the control token.
  // Printed right after the start event, which may arrive on its own.
  const info = await devhot.waitEvent((e) => e.event === 'info' && /DEVHOT_CLIENT_TAG/.test(e.message), 'the --no-inject hint');
  const browserToken = /\?token=([^"]+)"/.exec(info.message)?.[1];
  assert.ok(browserToken);
  assert.notEqual(browserToken, s.token);

  const browser = await wsClient(t, s.url, browserToken);
  const tool = await connect({ url: s.url, token: s.token });
  onCleanup(t, () => tool.close());
  const toolMessages: ServerMessage[] = [];
  tool.on('*', (m) => toolMessages.push(m));

  // No requests, no custom events, no app logs for the browser token.
  browser.ws.send(JSON.stringify({ type: 'request', id: 'r1', method: 'restart' }));
  const reply = await poll(() => browser.messages.find((m) => m.type === 'reply'), 'the reply to the restart request');
  assert.deepEqual(reply.type === 'reply' && !reply.ok && /only receive events/.test(reply.error), true, JSON.stringify(reply));
  browser.ws.send(JSON.stringify({ type: 'subscribe', logs: true }));
  browser.ws.send(JSON.stringify({ type: 'custom', event: 'ping', data: 'from the page' }));
  const pongs = () => toolMessages.filter((m) => m.type === 'custom').map((m) => m.type === 'custom' && m.data);
  tool.send('ping', 'from the tool');
  await poll(() => pongs().length >= 1, 'the pong to the tool');
  // A barrier: the pong of a second ping comes after whatever the page sent before the first.
  tool.send('ping', 'again from the tool');
  await poll(() => pongs().length >= 2, 'the second pong to the tool');
  assert.deepEqual(pongs(), ['from the tool', 'again from the tool'], 'the page\u2019s custom event never reached the app');
  const channelPort = Number(new URL(s.url).port);
  assert.equal(await post(`http://127.0.0.1:${channelPort}/@devhot/restart`, browserToken), 403);
  // Events do reach the page: an update after a save, with no app log before it.
  await get(port, '/log');
  const from = devhot.mark();
  fixture.write('route.ts', route('v2'));
  await devhot.waitEvent(isUpdate('applied'), 'the update', { from });
  await poll(() => browser.messages.find((m) => m.type === 'update'), 'the update message on the page');
  assert.deepEqual(
    browser.messages.filter((m) => m.type === 'log'),
    [],
  );
  assert.equal(devhot.find((e) => e.event === 'restart').length, 0, 'nothing restarted');
  // The control token appears nowhere in what devhot printed.
  const printed = JSON.stringify(devhot.events) + devhot.stray.join('\n') + devhot.stderr();
  assert.equal(printed.includes(s.token), false);
});

test('a flood of custom events at an app that does not read them is bounded and dropped with a warning', async (t) => {
  const { port, devhot, session: s, fixture } = await start(t);
  const tool = await connect({ url: s.url, token: s.token });
  onCleanup(t, () => tool.close());
  const rss = rssKb(devhot.pid);
  // The app's loop is busy for 3 s: it reads nothing meanwhile.
  const blocked = get(port, '/block', 10_000);
  await poll(async () => (await fetchStatus(port)) === undefined, 'the app to be busy', 5000);
  const data = 'x'.repeat(10_000);
  for (let i = 0; i < 6000; i++) tool.send('ping', data);
  await devhot.waitEvent((e) => e.event === 'warn' && /custom events from tools are dropped/.test(e.message), 'the warning', {
    timeout: 15_000,
  });
  const grew = rssKb(devhot.pid) - rss;
  assert.ok(grew < 40_000, `the supervisor grew by ${grew} kB`);
  await blocked;
  // "After the flood": its 60 MB reach the supervisor for seconds after the app is free again (6 s
  // on a slow machine), and the app echoes each ping it gets, so a save in the middle of it can
  // miss the update deadline (a restart, not an update). The supervisor reports its drops every
  // ~0.5 s while they go on: the flood is over once a second passes without a report.
  const drops = () => devhot.events.filter((e) => e.event === 'warn' && /custom event\(s\) from tools were dropped/.test(e.message)).length;
  let seen = -1;
  let since = Date.now();
  await poll(
    () => {
      const n = drops();
      if (n !== seen) [seen, since] = [n, Date.now()];
      return Date.now() - since >= 1000;
    },
    'the flood to end',
    30_000,
    50,
  );
  const from = devhot.mark();
  fixture.write('route.ts', route('v2'));
  await devhot.waitEvent(isUpdate('applied'), 'a save after the flood', { from, timeout: 20_000 });
  assert.equal(await waitForBody(port, 'v2'), 'v2');
});

/** undefined when the app does not answer within 200 ms (busy). */
async function fetchStatus(port: number): Promise<number | undefined> {
  try {
    return (await get(port, '/pid', 200)).status;
  } catch {
    return undefined;
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

test('control characters from URLs, file names and error messages reach neither the terminal nor the channel', async (t) => {
  // JSON mode, and a tool on the channel.
  const { fixture, port, devhot, session: s } = await start(t);
  const tool = await connect({ url: s.url, token: s.token });
  onCleanup(t, () => tool.close());
  const messages: ServerMessage[] = [];
  tool.on('*', (m) => messages.push(m));
  let from = devhot.mark();
  await get(port, '/boom?%1B%5B2J%07');
  const uncaught = await devhot.waitEvent((e) => e.event === 'error' && e.source === 'uncaught', 'the uncaught error', { from });
  assert.match(uncaught.error.message, /^Error: boom \]0;owned \[2J31m url=\/boom/);
  assert.doesNotMatch(JSON.stringify(uncaught), /\\u001b|\\u0007|\\u009b/);
  const sent = await poll(() => messages.find((m) => m.type === 'error'), 'the error on the channel');
  assert.doesNotMatch(JSON.stringify(sent), /\\u001b|\\u0007|\\u009b/);
  // A file whose name holds an escape sequence.
  from = devhot.mark();
  fixture.write('evil\x1b[2J.ts', 'export const x = ;\n');
  fixture.write('route.ts', "import './evil\x1b[2J.js';\nexport const route = (): string => 'v2';\n");
  const failed = await devhot.waitEvent(isUpdate('error'), 'the failed update', { from });
  assert.doesNotMatch(JSON.stringify(failed), /\\u001b/);
  assert.match(failed.result.error.file, /evil\[2J\.ts$/);

  // The terminal (human output) of another run: not one control character but newlines.
  const fixture2 = createFixture(t, { 'server.ts': SERVER, 'echo.ts': ECHO, 'route.ts': route('v1') });
  const port2 = await freePort();
  const human = runDevhot(t, { cwd: fixture2.root, args: ['server.ts'], env: { PORT: String(port2) }, json: false });
  await waitForBody(port2, 'v1');
  await get(port2, '/boom?%1B%5B2J%07');
  await poll(() => human.stray.some((line) => line.includes('boom')), 'the error on the terminal');
  const terminal = human.stray.join('\n');
  assert.equal(CONTROLS.test(terminal), false, JSON.stringify(terminal));
});
