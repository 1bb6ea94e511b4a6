/**
 * The browser client in a real browser: Debian's chromium driven by playwright-core.
 *
 * Two layers. First the client alone against a scripted channel in this process (each message
 * type, the overlay's text-only rendering, the lost-connection poll). Then the real `devhot`
 * command on an express fixture: a template edit reloads the page, a CSS edit swaps the sheet
 * without a reload, a syntax error shows the overlay and its fix removes it, an --env-file
 * restart reloads the page.
 *
 * Skipped only when /usr/bin/chromium is missing outside CI; in CI (.ci/run installs it) a
 * missing browser fails.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ServerMessage } from '../src/shared/protocol.js';
import { CHANNEL_PATH, CLIENT_PATH } from '../src/shared/protocol.js';
import { createFixture, freePort, get, isRestart, isUpdate, REPO_ROOT, startDevhot, waitForBody } from './helpers/cli.js';
import { CONNECTED, MARK, OVERLAY_TEXT, openPage, RELOADED, skipWithoutChromium as skip, until } from './helpers/browser.js';
import { poll, type After } from './helpers/poll.js';

const CLIENT_FILE = path.join(REPO_ROOT, 'dist', 'client', 'client.js');

if (skip) process.stderr.write(`browser.test: ${skip}\n`);

const MARKED = 'window.__marker === 1';
const NO_OVERLAY = `document.querySelector('devhot-error-overlay') === null`;

// ---------------------------------------------------------------------------------------------
// The client against a scripted channel

interface FakeChannel {
  /** The page's URL (an app server on its own port, like the real thing). */
  readonly pageUrl: string;
  css: string;
  send(message: ServerMessage): void;
  /** Sockets currently open. */
  readonly sockets: Set<WebSocket>;
  /** Stop the channel (sockets and HTTP) until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  /** devhot itself goes away: the app's server and the channel both stop. */
  exit(): Promise<void>;
  /** devhot runs again: the app on its old port, the channel on a new one (ports are random). */
  rerun(): Promise<void>;
}

async function fakeChannel(t: After): Promise<FakeChannel> {
  const token = 'secret-token';
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true });
  let channelPort = 0;
  const channel = http.createServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== CLIENT_PATH) return void res.writeHead(404).end();
    res.writeHead(200, {
      'Content-Type': 'text/javascript',
      'Cache-Control': 'no-cache',
      ...(req.headers.origin ? { 'Access-Control-Allow-Origin': req.headers.origin } : {}),
    });
    res.end(fs.readFileSync(CLIENT_FILE));
  });
  channel.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== CHANNEL_PATH || url.searchParams.get('token') !== token) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.send(
        JSON.stringify({
          type: 'connected',
          protocol: 1,
          version: 'test',
          urls: [],
          state: { status: 'running', pid: 1, urls: [], error: undefined },
        } satisfies ServerMessage),
      );
    });
  });
  const listenChannel = () => new Promise<void>((r) => channel.listen(channelPort, '127.0.0.1', r));
  await listenChannel();
  channelPort = (channel.address() as AddressInfo).port;

  const state = { css: 'h1 { color: rgb(255, 0, 0); }' };
  const app = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    if (pathname === '/static/site.css') {
      res.writeHead(200, { 'Content-Type': 'text/css', 'Cache-Control': 'no-store' });
      res.end(state.css);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(
      `<!doctype html><html><head><link rel="stylesheet" href="/static/site.css"><link rel="stylesheet" href="/static/other.css"></head>` +
        `<body><h1>hello</h1><script type="module" src="http://127.0.0.1:${channelPort}${CLIENT_PATH}?token=${token}"></script></body></html>`,
    );
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const appPort = (app.address() as AddressInfo).port;
  const pageUrl = `http://127.0.0.1:${appPort}/`;

  const down = async () => {
    for (const ws of sockets) ws.terminate();
    channel.closeAllConnections();
    await new Promise<void>((r) => (channel.listening ? channel.close(() => r()) : r()));
  };
  t.after(async () => {
    await down();
    app.closeAllConnections();
    await new Promise<void>((r) => app.close(() => r()));
  });
  return {
    pageUrl,
    get css() {
      return state.css;
    },
    set css(v: string) {
      state.css = v;
    },
    send(message) {
      for (const ws of sockets) ws.send(JSON.stringify(message));
    },
    sockets,
    down,
    up: listenChannel,
    async exit() {
      await down();
      app.closeAllConnections();
      await new Promise<void>((r) => app.close(() => r()));
    },
    async rerun() {
      await new Promise<void>((r) => app.listen(appPort, '127.0.0.1', r));
      channelPort = 0;
      await listenChannel();
      channelPort = (channel.address() as AddressInfo).port;
    },
  };
}

async function openFake(t: After): Promise<{ page: Page; channel: FakeChannel }> {
  assert.ok(fs.existsSync(CLIENT_FILE), `${CLIENT_FILE} is not built (npm run build)`);
  const channel = await fakeChannel(t);
  const page = await openPage(t);
  await page.goto(channel.pageUrl);
  await until(page, CONNECTED, 'the client to connect');
  await poll(() => channel.sockets.size === 1, 'one socket on the channel');
  await page.evaluate(MARK);
  return { page, channel };
}

test('client: update, full-reload and restart ready reload the page; a no-module update does not', { skip }, async (t) => {
  const { page, channel } = await openFake(t);

  await page.evaluate(`addEventListener('devhot:ping', (e) => (window.__pinged = e.detail), { once: true })`);
  channel.send({ type: 'update', files: ['notes.txt'], modules: [], rung: 'hot-update', reason: undefined, duration: 1 });
  channel.send({ type: 'restart', phase: 'starting', reason: '.env changed' });
  // Messages are handled in order: once this one arrived, the ones above were handled.
  channel.send({ type: 'custom', event: 'ping', data: 42 });
  await until(page, 'window.__pinged === 42', 'the custom event on window');
  assert.equal(await page.evaluate(MARKED), true, 'no reload for an update that changed no module');

  for (const message of [
    { type: 'update', files: ['views.ts'], modules: ['views.ts'], rung: 'hot-update', reason: undefined, duration: 1 },
    { type: 'full-reload', reason: 'index.html changed' },
    { type: 'restart', phase: 'ready', reason: '.env changed' },
  ] satisfies ServerMessage[]) {
    await page.evaluate(MARK);
    channel.send(message);
    await until(page, RELOADED, `a reload after ${message.type}`);
    await until(page, CONNECTED, `the client to connect again after ${message.type}`);
    await poll(() => channel.sockets.size === 1, 'one socket again');
  }
});

test('client: css-update swaps the matching stylesheet without a reload', { skip }, async (t) => {
  const { page, channel } = await openFake(t);
  const color = `getComputedStyle(document.querySelector('h1')).color`;
  assert.equal(await page.evaluate(color), 'rgb(255, 0, 0)');

  channel.css = 'h1 { color: rgb(0, 128, 0); }';
  channel.send({ type: 'css-update', path: 'public/static/site.css', timestamp: 1 });
  await until(page, `${color} === 'rgb(0, 128, 0)'`, 'the new color');
  assert.equal(await page.evaluate(MARKED), true, 'the page was not reloaded');
  // The old link is gone once the new one loaded; the other stylesheet was left alone.
  await until(page, `document.querySelectorAll('link[href*="site.css"]').length === 1`, 'one site.css link');
  assert.match(String(await page.evaluate(`document.querySelector('link[href*="site.css"]').href`)), /site\.css\?t=1$/);
  assert.equal(await page.evaluate(`document.querySelector('link[href*="other.css"]').getAttribute('href')`), '/static/other.css');
});

test('client: error shows a text-only overlay; Esc closes it; error-cleared and update remove it', { skip }, async (t) => {
  const { page, channel } = await openFake(t);
  const error: ServerMessage = {
    type: 'error',
    source: 'update',
    error: {
      message: 'Expected expression but found ";" <img src=x onerror="window.__xss=1">',
      file: 'src/routes.ts',
      line: 3,
      column: 15,
      frame: '  2 | export const a = 1;\n> 3 | const broken = ;\n    |               ^',
      fix: 'Fix the syntax error and save.',
    },
  };
  channel.send(error);
  await until(page, `${OVERLAY_TEXT}.includes('src/routes.ts:3:15')`, 'the overlay with file:line:column');
  const text = String(await page.evaluate(OVERLAY_TEXT));
  assert.match(text, /const broken = ;/);
  assert.match(text, /Fix the syntax error/);
  assert.match(text, /<img src=x onerror=/, 'markup in the message shows as text');
  assert.equal(await page.evaluate(`document.querySelector('devhot-error-overlay').shadowRoot.querySelector('img')`), null);
  assert.equal(
    await page.evaluate(`document.querySelector('devhot-error-overlay').shadowRoot.querySelector('pre').textContent.includes('> 3 |')`),
    true,
  );
  assert.equal(await page.evaluate('window.__xss'), undefined);

  await page.keyboard.press('Escape');
  await until(page, NO_OVERLAY, 'Esc to close the overlay');

  channel.send(error);
  await until(page, `${OVERLAY_TEXT}.includes('src/routes.ts')`, 'the overlay again');
  // A click outside the panel (the backdrop's corner) closes it too.
  await page.mouse.click(5, 5);
  await until(page, NO_OVERLAY, 'a click outside to close the overlay');

  channel.send(error);
  await until(page, `${OVERLAY_TEXT}.includes('src/routes.ts')`, 'the overlay again');
  channel.send({ type: 'error-cleared' });
  await until(page, NO_OVERLAY, 'error-cleared to remove the overlay');
  assert.equal(await page.evaluate(MARKED), true, 'no reload for errors');

  // A standing error is shown to a page that connects late (the connected message's state).
  channel.send(error);
  await until(page, `${OVERLAY_TEXT}.includes('src/routes.ts')`, 'the overlay again');
  channel.send({
    type: 'update',
    files: ['src/routes.ts'],
    modules: ['src/routes.ts'],
    rung: 'hot-update',
    reason: undefined,
    duration: 1,
  });
  await until(page, `${RELOADED} && ${NO_OVERLAY}`, 'the good update to reload without the overlay');
});

test('client: when devhot goes away, the page polls until devhot runs again (its channel on a new port), then reloads', {
  skip,
}, async (t) => {
  const { page, channel } = await openFake(t);
  let failedPolls = 0;
  page.on('requestfailed', (request) => {
    if (request.url() === channel.pageUrl) failedPolls++;
  });
  await channel.exit();
  await until(page, 'window.__devhot.connected === false', 'the client to notice');
  // Down for a while: several polls fail, and the page stays as it is.
  await poll(() => failedPolls >= 3, 'three failed polls');
  assert.equal(await page.evaluate(MARKED), true, 'no reload while devhot is down');
  await channel.rerun();
  await until(page, RELOADED, 'a reload once devhot is back');
  // The reloaded page carries the new channel's address, and the client connects there.
  await until(page, CONNECTED, 'the client to connect to the new channel');
});

// ---------------------------------------------------------------------------------------------
// The real devhot command on an express project

const SERVER = `
import express from 'express';
import { page } from './views.js';
import { router } from './routes.js';
const app = express();
app.use(express.static('public'));
app.use(router);
app.get('/', (_req, res) => void res.send(page(String(process.env.GREETING))));
app.listen(Number(process.env.PORT), '127.0.0.1');
`;
const VIEWS = (title: string) => `
export const page = (greeting: string) => \`<!doctype html>
<html>
  <head><title>fixture</title><link rel="stylesheet" href="/style.css"></head>
  <body><h1>${title}</h1><p id="greeting">\${greeting}</p></body>
</html>\`;
`;
const ROUTES = `import { Router } from 'express';
export const router = Router();
router.get('/api', (_req, res) => void res.json({ ok: true }));
`;

test('devhot: template edit reloads; CSS edit swaps without reload; syntax error overlay and its fix; --env-file restart reloads', {
  skip,
}, async (t) => {
  const fixture = createFixture(t, {
    'server.ts': SERVER,
    'views.ts': VIEWS('v1'),
    'routes.ts': ROUTES,
    'public/style.css': 'h1 { color: rgb(255, 0, 0); }\n',
    '.env': 'GREETING=hello\n',
  });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', '--env-file', '.env'], env: { PORT: String(port) } });
  const start = devhot.find((e) => e.event === 'start')[0]!;
  assert.equal(typeof start.channel, 'string', `the start event names the channel${devhot.describe()}`);
  const html = await waitForBody(port, (b) => b.includes('<h1>v1</h1>'));
  assert.ok(html.includes(CLIENT_PATH), `the page has the client tag: ${html}`);

  const page = await openPage(t);
  await page.goto(`http://127.0.0.1:${port}/`);
  await until(page, CONNECTED, `the client to connect${devhot.describe()}`);

  // A template edit: the page reloads and shows the new text.
  await page.evaluate(MARK);
  let from = devhot.mark();
  fixture.write('views.ts', VIEWS('v2'));
  await devhot.waitEvent(isUpdate('applied'), 'the template update', { from });
  await until(page, `${RELOADED} && document.querySelector('h1')?.textContent === 'v2'`, 'the reload showing v2');

  // A CSS edit: the computed style changes, the page stays (the marker survives).
  await until(page, CONNECTED, 'the client to connect after the reload');
  const color = `getComputedStyle(document.querySelector('h1')).color`;
  assert.equal(await page.evaluate(color), 'rgb(255, 0, 0)');
  await page.evaluate(MARK);
  fixture.write('public/style.css', 'h1 { color: rgb(0, 0, 255); }\n');
  await until(page, `${color} === 'rgb(0, 0, 255)'`, `the new color${devhot.describe()}`);
  assert.equal(await page.evaluate(MARKED), true, 'no reload for a CSS edit');

  // A syntax error in a route module: the overlay names the file and line.
  from = devhot.mark();
  fixture.write('routes.ts', `${ROUTES}const broken = ;\n`);
  await devhot.waitEvent(isUpdate('error'), 'the failed update', { from });
  const line = ROUTES.split('\n').length;
  await until(page, `${OVERLAY_TEXT}.includes('routes.ts:${line}')`, `the overlay naming routes.ts:${line}`).catch(async (error: Error) => {
    throw new Error(`${error.message}; overlay text: ${JSON.stringify(await page.evaluate(OVERLAY_TEXT))}${devhot.describe()}`);
  });

  // The fix: the overlay goes. (Back to the last good code: devhot may call that 'unchanged'.)
  fixture.write('routes.ts', ROUTES);
  await until(page, NO_OVERLAY, `the overlay to go${devhot.describe()}`);
  await until(page, CONNECTED, 'the client connected after the fix');

  // A forced restart (the --env-file changed): the client reloads into the new process's page.
  await page.evaluate(MARK);
  from = devhot.mark();
  fixture.write('.env', 'GREETING=restarted\n');
  await devhot.waitEvent(isRestart('ready'), 'the restart', { from, timeout: 15_000 });
  await until(
    page,
    `${RELOADED} && document.querySelector('#greeting')?.textContent === 'restarted'`,
    'the reload after the restart',
    15_000,
  ).catch(async (error: Error) => {
    const seen = await page
      .evaluate(`JSON.stringify({ marker: window.__marker, greeting: document.querySelector('#greeting')?.textContent })`)
      .catch(String);
    throw new Error(`${error.message}; page: ${seen}; GET / now: ${(await get(port, '/')).body}${devhot.describe()}`);
  });
  await until(page, CONNECTED, 'the client to reconnect after the restart');
});
