/**
 * The channel's websocket server made on the first upgrade (src/supervisor/lazy-ws.ts), on a
 * real HTTP server and ws clients: an upgrade completes once ws has loaded, and one still waiting
 * for it when the server closes is refused, not opened on a closed channel.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { LazyWebSocketServer } from '../src/supervisor/lazy-ws.js';

async function serve(t: TestContext, onUpgrade: (lazy: LazyWebSocketServer, upgrade: () => void) => void): Promise<string> {
  const lazy = new LazyWebSocketServer({ clientTracking: false, perMessageDeflate: false });
  const server = createServer();
  server.on('upgrade', (req, socket, head) => {
    onUpgrade(lazy, () =>
      lazy.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data) => ws.send(`echo ${String(data)}`));
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await Promise.all([lazy.close(), new Promise((resolve) => server.close(resolve))]);
  });
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/** What the client saw: the echo of its message, or how it ended without opening. */
function attempt(url: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('open', () => ws.send('hi'));
    ws.on('message', (data) => {
      resolve(String(data));
      ws.close();
    });
    ws.on('error', (error) => resolve(`error: ${error.message}`));
    ws.on('close', () => resolve('closed'));
  });
}

test('an upgrade completes once ws is loaded: the socket speaks websocket', async (t) => {
  const url = await serve(t, (_lazy, upgrade) => upgrade());
  assert.equal(await attempt(url), 'echo hi');
  // The second one uses the server the first made.
  assert.equal(await attempt(url), 'echo hi');
});

test('an upgrade still waiting for ws when the server closes is refused; close() resolves', async (t) => {
  let closed: Promise<void> | undefined;
  const url = await serve(t, (lazy, upgrade) => {
    upgrade();
    closed = lazy.close();
  });
  const seen = await attempt(url);
  assert.match(seen, /^error: |^closed$/, `the client must not open: ${seen}`);
  assert.ok(closed, 'the upgrade reached the server');
  await closed;
});
