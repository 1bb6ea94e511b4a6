/**
 * The channel on real sockets (127.0.0.1, port 0): the greeting, requests and replies, custom
 * events both ways, the standing error, and every refusal the gate makes — while the good
 * clients keep being served.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { createChannel } from '../src/supervisor/channel.js';
import { hostAllowed } from '../src/shared/host-rules.js';
import { originAllowed, tokenMatches } from '../src/supervisor/channel-guard.js';
import { DevhotError } from '../src/errors.js';
import { CHANNEL_PATH, CLIENT_PATH, PROTOCOL_VERSION, type ServerMessage, type SessionFile } from '../src/shared/protocol.js';
import { GRAPH, httpRequest, openClient, startChannel, upgradeStatus, within } from './helpers/channel.js';
import { poll } from './helpers/poll.js';

describe('channel: messages', () => {
  test('a client is greeted with protocol, version, URLs and state; the session file holds url and token (mode 0600)', async (t) => {
    const { channel, sessionFile, root } = await startChannel(t);
    assert.match(channel.url, new RegExp(`^ws://127\\.0\\.0\\.1:${channel.port}${CHANNEL_PATH}$`));
    assert.equal(Buffer.from(channel.token, 'base64url').length, 24);
    const client = await openClient(t, channel);
    const hello = await client.next('connected');
    assert.deepEqual(hello, {
      type: 'connected',
      protocol: PROTOCOL_VERSION,
      version: '9.9.9-test',
      urls: ['http://localhost:3000'],
      state: { status: 'running', pid: 4242, urls: ['http://localhost:3000'] },
    });
    assert.equal(fs.statSync(sessionFile).mode & 0o777, 0o600);
    const session = JSON.parse(fs.readFileSync(sessionFile, 'utf8')) as SessionFile;
    assert.deepEqual(session, {
      protocol: PROTOCOL_VERSION,
      version: '9.9.9-test',
      pid: process.pid,
      url: channel.url,
      token: channel.token,
      root,
    });
    // The tag carries the browser token, never the control token.
    assert.notEqual(channel.browserToken, channel.token);
    assert.equal(
      channel.scriptTag(),
      `<script type="module" src="http://127.0.0.1:${channel.port}${CLIENT_PATH}?token=${channel.browserToken}"></script>`,
    );
  });

  test('requests get replies with the same id, for every method', async (t) => {
    const { channel, calls } = await startChannel(t);
    const client = await openClient(t, channel, { bearer: true });
    const status = await client.request('status');
    assert.deepEqual(status, {
      type: 'reply',
      id: status.id,
      ok: true,
      result: { status: 'running', pid: 4242, urls: ['http://localhost:3000'] },
    });
    const graph = await client.request('graph');
    assert.equal(graph.ok, true);
    assert.deepEqual(graph.ok && graph.result, GRAPH);
    const reload = await client.request('reload');
    assert.deepEqual(reload.ok && reload.result, { rung: 'entry-reexecuted', all: false });
    const reloadAll = await client.request('reload', { all: true });
    assert.deepEqual(reloadAll.ok && reloadAll.result, { rung: 'entry-reexecuted', all: true });
    const restart = await client.request('restart');
    assert.deepEqual(restart.ok && restart.result, { restarted: true });
    assert.deepEqual(calls.reload, [false, true]);
    assert.equal(calls.restart, 1);
  });

  test('an unknown method gets an error reply; a throwing handler becomes an error reply', async (t) => {
    const { channel } = await startChannel(t, {
      handlers: {
        state: () => ({ status: 'running', pid: 1, urls: [], error: undefined }),
        graph: async () => {
          throw new Error('graph is not ready');
        },
        reload: async () => undefined,
        restart: () => Promise.reject(new Error('restart refused')),
        custom: () => {
          throw new Error('custom handler broke');
        },
      },
    });
    const client = await openClient(t, channel);
    const unknown = await client.request('explode');
    assert.equal(unknown.ok, false);
    assert.match(!unknown.ok ? unknown.error : '', /unknown method/);
    const graph = await client.request('graph');
    assert.deepEqual(graph, { type: 'reply', id: graph.id, ok: false, error: 'graph is not ready' });
    const restart = await client.request('restart');
    assert.deepEqual(restart, { type: 'reply', id: restart.id, ok: false, error: 'restart refused' });
    // A throwing custom handler is contained: the socket keeps working.
    client.sendJson({ type: 'custom', event: 'x', data: 1 });
    const status = await client.request('status');
    assert.equal(status.ok, true);
  });

  test('custom events go both ways: a client event reaches handlers.custom, a broadcast reaches every client', async (t) => {
    const { channel, calls } = await startChannel(t);
    const a = await openClient(t, channel);
    const b = await openClient(t, channel);
    a.sendJson({ type: 'custom', event: 'editor:saved', data: { file: 'src/a.ts' } });
    await poll(() => calls.custom.length === 1, 'handlers.custom', 5000, 10);
    assert.deepEqual(calls.custom, [{ event: 'editor:saved', data: { file: 'src/a.ts' } }]);
    channel.broadcast({ type: 'custom', event: 'app:ping', data: [1, 2] });
    for (const client of [a, b]) assert.deepEqual(await client.next('custom'), { type: 'custom', event: 'app:ping', data: [1, 2] });
  });

  test('the standing error is replayed to a late client, and cleared by error-cleared or an update', async (t) => {
    const { channel } = await startChannel(t);
    const early = await openClient(t, channel);
    const error: ServerMessage = {
      type: 'error',
      source: 'update',
      error: { message: 'Unexpected token', file: 'src/a.ts', line: 3, column: 7 },
    };
    channel.broadcast(error);
    assert.deepEqual(await early.next('error'), error);

    const late = await openClient(t, channel);
    await late.next('error');
    assert.deepEqual(
      late.messages.map((m) => m.type),
      ['connected', 'error'],
    );

    channel.broadcast({ type: 'error-cleared' });
    await late.next('error-cleared');
    const later = await openClient(t, channel);
    await later.next('connected');
    // Nothing more arrives: a round trip proves the replay would have come before the reply.
    await later.request('status');
    assert.deepEqual(
      later.messages.map((m) => m.type),
      ['connected', 'reply'],
    );

    channel.broadcast(error);
    channel.broadcast({ type: 'update', files: ['src/a.ts'], modules: ['src/a.ts'], rung: 'hot-update', reason: undefined, duration: 3 });
    const afterUpdate = await openClient(t, channel);
    await afterUpdate.request('status');
    assert.deepEqual(
      afterUpdate.messages.map((m) => m.type),
      ['connected', 'reply'],
    );
  });

  test('logs go only to clients that subscribed', async (t) => {
    const { channel } = await startChannel(t);
    const plain = await openClient(t, channel);
    const subscriber = await openClient(t, channel);
    subscriber.sendJson({ type: 'subscribe', logs: true });
    await subscriber.request('status'); // the subscription is in effect once this round trip is done
    channel.log('stdout', 'listening on 3000\n');
    assert.deepEqual(await subscriber.next('log'), { type: 'log', stream: 'stdout', text: 'listening on 3000\n' });
    channel.broadcast({ type: 'full-reload', reason: 'marker' });
    await plain.next('full-reload');
    assert.equal(
      plain.messages.some((m) => m.type === 'log'),
      false,
    );
  });

  test('garbage JSON and binary frames are ignored; the socket keeps working', async (t) => {
    const { channel, calls } = await startChannel(t);
    const client = await openClient(t, channel);
    for (const junk of [
      '{not json',
      'null',
      '42',
      '"str"',
      '[]',
      '{"type":"nope"}',
      '{"type":"request","method":"status"}',
      '{"type":"custom"}',
    ])
      client.sendJson(junk);
    client.ws.send(Buffer.from([0, 1, 2, 3]), { binary: true });
    const reply = await client.request('status');
    assert.equal(reply.ok, true);
    assert.equal(calls.custom.length, 0);
    assert.equal(client.ws.readyState, WebSocket.OPEN);
  });

  test('a message over maxPayload closes that socket with 1009; the others keep working', async (t) => {
    const { channel } = await startChannel(t, { maxPayload: 1024 });
    const good = await openClient(t, channel);
    const big = await openClient(t, channel);
    big.sendJson({ type: 'custom', event: 'big', data: 'x'.repeat(4096) });
    assert.equal((await within(big.closed, 'the oversized socket to close')).code, 1009);
    const reply = await good.request('status');
    assert.equal(reply.ok, true);
    channel.broadcast({ type: 'full-reload', reason: 'still here' });
    await good.next('full-reload');
  });

  test('a peer that stops answering pings is terminated; one that answers stays', async (t) => {
    const { channel } = await startChannel(t, { heartbeatMs: 50 });
    const deaf = await openClient(t, channel, { autoPong: false });
    const alive = await openClient(t, channel);
    await within(deaf.closed, 'the deaf peer to be terminated');
    assert.equal(alive.ws.readyState, WebSocket.OPEN);
    assert.equal((await alive.request('status')).ok, true);
  });

  test('close() terminates clients, removes the session file, frees the port, and is idempotent', async (t) => {
    const { channel, sessionFile } = await startChannel(t);
    const client = await openClient(t, channel);
    assert.ok(fs.existsSync(sessionFile));
    await Promise.all([channel.close(), channel.close()]);
    await within(client.closed, 'the client to be closed');
    assert.equal(fs.existsSync(sessionFile), false);
    await assert.rejects(upgradeStatus(channel.port, { headers: { Authorization: `Bearer ${channel.token}` } }), /ECONNREFUSED/);
    await channel.close();
  });

  test('close() leaves a session file that another devhot has since written', async (t) => {
    const { channel, sessionFile } = await startChannel(t);
    const other = { ...JSON.parse(fs.readFileSync(sessionFile, 'utf8')), token: 'someone-else' };
    fs.writeFileSync(sessionFile, JSON.stringify(other));
    await channel.close();
    assert.equal(fs.existsSync(sessionFile), true);
  });

  test('a port in use is a DevhotError naming the port', async (t) => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    t.after(() => blocker.close());
    const port = (blocker.address() as net.AddressInfo).port;
    await assert.rejects(startChannel(t, { port }), (error: unknown) => {
      assert.ok(error instanceof DevhotError);
      assert.equal(error.code, 'DEVHOT_ERR_PORT_IN_USE');
      assert.match(error.message, new RegExp(String(port)));
      assert.ok(error.fix);
      return true;
    });
  });
});

describe('channel: refusals before the upgrade', () => {
  test('no token, a wrong token (same and different length) → 401; the right one → 101', async (t) => {
    const { channel } = await startChannel(t);
    const wrongSameLength = channel.token.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    assert.equal(wrongSameLength.length, channel.token.length);
    const cases: Array<[string, Record<string, string>, string, number]> = [
      ['no token', {}, CHANNEL_PATH, 401],
      ['wrong token, same length', {}, `${CHANNEL_PATH}?token=${wrongSameLength}`, 401],
      ['wrong token, other length', {}, `${CHANNEL_PATH}?token=short`, 401],
      ['wrong bearer', { Authorization: `Bearer ${wrongSameLength}` }, CHANNEL_PATH, 401],
      ['empty token', {}, `${CHANNEL_PATH}?token=`, 401],
      ['right token (query)', {}, `${CHANNEL_PATH}?token=${channel.token}`, 101],
      ['right token (bearer)', { Authorization: `Bearer ${channel.token}` }, CHANNEL_PATH, 101],
    ];
    for (const [what, headers, path, status] of cases) {
      const res = await upgradeStatus(channel.port, { path, headers });
      assert.equal(res.status, status, what);
      if (status === 401) assert.match(res.body, /token/, what);
    }
    await assert.rejects(openClient(t, channel, { token: null }), /401/);
  });

  test('a foreign Origin → 403; the app origin (any loopback spelling) and devhot’s own → 101', async (t) => {
    const { channel } = await startChannel(t);
    const auth = { Authorization: `Bearer ${channel.token}` };
    for (const origin of [
      'http://evil.example',
      'http://localhost:3001',
      'https://localhost:3000',
      'null',
      'http://localhost.evil.example:3000',
    ]) {
      const res = await upgradeStatus(channel.port, { headers: { ...auth, Origin: origin } });
      assert.equal(res.status, 403, origin);
      assert.match(res.body, /Origin/);
    }
    for (const origin of [
      'http://localhost:3000',
      'http://127.0.0.1:3000',
      'http://[::1]:3000',
      `http://127.0.0.1:${channel.port}`,
      `http://localhost:${channel.port}`,
    ]) {
      assert.equal((await upgradeStatus(channel.port, { headers: { ...auth, Origin: origin } })).status, 101, origin);
    }
  });

  test('a DNS-rebinding Host → 403 even with a valid token; local names and --host names pass', async (t) => {
    const { channel } = await startChannel(t, { allowedHosts: ['dev.example.test'] });
    const auth = { Authorization: `Bearer ${channel.token}` };
    const port = channel.port;
    for (const host of [
      `evil.example:${port}`,
      'evil.example',
      `localhost.evil.example:${port}`,
      `192.168.1.5:${port}`,
      `sub.dev.example.test:${port}`,
    ]) {
      const res = await upgradeStatus(port, { headers: { ...auth, Host: host } });
      assert.equal(res.status, 403, host);
      assert.match(res.body, /Host/);
    }
    for (const host of [
      `localhost:${port}`,
      `app.localhost:${port}`,
      `127.0.0.1:${port}`,
      `127.1.2.3:${port}`,
      `[::1]:${port}`,
      `dev.example.test:${port}`,
      `LOCALHOST:${port}`,
    ]) {
      assert.equal((await upgradeStatus(port, { headers: { ...auth, Host: host } })).status, 101, host);
    }
  });

  test('only the channel path upgrades', async (t) => {
    const { channel } = await startChannel(t);
    for (const path of ['/', '/ws', `${CHANNEL_PATH}/x`, CLIENT_PATH, '/@devhot/status']) {
      const res = await upgradeStatus(channel.port, { path: `${path}?token=${channel.token}` });
      assert.equal(res.status, 404, path);
    }
  });

  test('a flood of 200 connections with maxClients 20: the excess is refused with 503, a good client still gets replies', async (t) => {
    const { channel } = await startChannel(t, { maxClients: 20 });
    const outcomes = await Promise.all(
      Array.from(
        { length: 200 },
        (_, i) =>
          new Promise<number | 'open'>((resolve) => {
            // Every tenth attempt has no token: refused with 401 without taking a slot.
            const ws = new WebSocket(i % 10 === 0 ? channel.url : `${channel.url}?token=${channel.token}`);
            t.after(() => ws.terminate());
            ws.on('error', () => {});
            ws.once('open', () => resolve('open'));
            ws.once('unexpected-response', (_req, res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            });
          }),
      ),
    );
    const count = (o: number | 'open') => outcomes.filter((x) => x === o).length;
    assert.equal(count('open'), 20);
    assert.equal(count(401), 20);
    assert.equal(count(503), 160);
    // The server keeps serving: once a slot frees, a good client connects and is answered.
    assert.equal((await upgradeStatus(channel.port, { headers: { Authorization: `Bearer ${channel.token}` } })).status, 503);
    const res = await httpRequest(channel.port, 'GET', '/@devhot/status', { Authorization: `Bearer ${channel.token}` });
    assert.equal(res.status, 200);
  });

  test('after a flood is gone, a good client connects and gets replies', async (t) => {
    const { channel } = await startChannel(t, { maxClients: 20 });
    const flood = await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<WebSocket | undefined>((resolve) => {
            const ws = new WebSocket(`${channel.url}?token=${channel.token}`);
            ws.on('error', () => {});
            ws.once('open', () => resolve(ws));
            ws.once('unexpected-response', (_req, res) => {
              res.resume();
              resolve(undefined);
            });
          }),
      ),
    );
    const open = flood.filter((ws): ws is WebSocket => ws !== undefined);
    assert.equal(open.length, 20);
    for (const ws of open) ws.terminate();
    const client = await poll(() => openClient(t, channel).catch(() => undefined), 'a free slot', 5000, 10);
    assert.equal((await client.request('status')).ok, true);
  });
});

describe('channel: HTTP', () => {
  test('control endpoints need the token, answer JSON, and allow only their method', async (t) => {
    const { channel, calls } = await startChannel(t);
    const bearer = { Authorization: `Bearer ${channel.token}` };
    assert.equal((await httpRequest(channel.port, 'GET', '/@devhot/status')).status, 401);
    assert.equal((await httpRequest(channel.port, 'GET', '/@devhot/status?token=wrong')).status, 401);
    assert.equal((await httpRequest(channel.port, 'POST', '/@devhot/reload')).status, 401);
    assert.equal((await httpRequest(channel.port, 'POST', '/@devhot/restart', { Authorization: 'Bearer nope' })).status, 401);
    assert.equal(calls.reload.length + calls.restart, 0);

    const status = await httpRequest(channel.port, 'GET', '/@devhot/status', bearer);
    assert.equal(status.status, 200);
    assert.match(String(status.headers['content-type']), /application\/json/);
    assert.deepEqual(JSON.parse(status.body), { ok: true, result: { status: 'running', pid: 4242, urls: ['http://localhost:3000'] } });
    assert.equal((await httpRequest(channel.port, 'GET', `/@devhot/status?token=${channel.token}`)).status, 200);

    const reload = await httpRequest(channel.port, 'POST', '/@devhot/reload?all=1', bearer);
    assert.deepEqual(JSON.parse(reload.body), { ok: true, result: { rung: 'entry-reexecuted', all: true } });
    const restart = await httpRequest(channel.port, 'POST', '/@devhot/restart', bearer);
    assert.deepEqual(JSON.parse(restart.body), { ok: true, result: { restarted: true } });
    assert.deepEqual(calls.reload, [true]);
    assert.equal(calls.restart, 1);

    const wrongMethod = await httpRequest(channel.port, 'GET', '/@devhot/reload', bearer);
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.allow, 'POST');
    assert.equal((await httpRequest(channel.port, 'GET', '/elsewhere', bearer)).status, 404);
    // A foreign page cannot drive devhot even if it somehow held the token.
    assert.equal((await httpRequest(channel.port, 'POST', '/@devhot/restart', { ...bearer, Origin: 'http://evil.example' })).status, 403);
    assert.equal((await httpRequest(channel.port, 'GET', '/@devhot/status', { ...bearer, Host: 'evil.example' })).status, 403);
    assert.equal(calls.restart, 1);
  });

  test('a failing handler is a 500 with the message', async (t) => {
    const { channel } = await startChannel(t, {
      handlers: {
        state: () => ({ status: 'stopped', pid: undefined, urls: [], error: undefined }),
        graph: async () => [],
        reload: async () => {
          throw new Error('entry failed to evaluate');
        },
        restart: async () => undefined,
        custom: () => {},
      },
    });
    const res = await httpRequest(channel.port, 'POST', '/@devhot/reload', { Authorization: `Bearer ${channel.token}` });
    assert.equal(res.status, 500);
    assert.deepEqual(JSON.parse(res.body), { ok: false, error: 'entry failed to evaluate' });
  });

  test('the browser client is served without a token; a missing build is a clear 404', async (t) => {
    const { channel, clientFile } = await startChannel(t);
    const res = await httpRequest(channel.port, 'GET', CLIENT_PATH);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/javascript/);
    assert.equal(res.body, 'export const devhotClient = true;\n');
    // The app's page loads it as a module script (CORS mode): its origin is echoed, never '*'.
    const fromApp = await httpRequest(channel.port, 'GET', CLIENT_PATH, { Origin: 'http://localhost:3000' });
    assert.equal(fromApp.headers['access-control-allow-origin'], 'http://localhost:3000');
    assert.equal((await httpRequest(channel.port, 'GET', CLIENT_PATH, { Origin: 'http://evil.example' })).status, 403);
    fs.rmSync(clientFile);
    const missing = await httpRequest(channel.port, 'GET', CLIENT_PATH);
    assert.equal(missing.status, 404);
    assert.match(missing.body, /client is not built/);
  });

  test('no response anywhere carries Access-Control-Allow-Origin: *, and the control endpoints carry no CORS headers', async (t) => {
    const { channel } = await startChannel(t);
    const bearer = { Authorization: `Bearer ${channel.token}` };
    const origins: Array<Record<string, string>> = [{}, { Origin: 'http://evil.example' }, { Origin: 'http://localhost:3000' }];
    const responses = [];
    for (const origin of origins) {
      responses.push(
        await httpRequest(channel.port, 'GET', '/@devhot/status', { ...bearer, ...origin }),
        await httpRequest(channel.port, 'GET', '/@devhot/status', origin),
        await httpRequest(channel.port, 'POST', '/@devhot/reload', { ...bearer, ...origin }),
        await httpRequest(channel.port, 'OPTIONS', '/@devhot/restart', { ...origin, 'Access-Control-Request-Method': 'POST' }),
        await httpRequest(channel.port, 'GET', '/nothing', origin),
        await upgradeStatus(channel.port, { headers: origin }),
      );
      const client = await httpRequest(channel.port, 'GET', CLIENT_PATH, origin);
      assert.notEqual(client.headers['access-control-allow-origin'], '*');
    }
    for (const res of responses) {
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      assert.equal(res.headers['access-control-allow-methods'], undefined);
      assert.equal(res.headers['access-control-allow-headers'], undefined);
    }
  });
});

describe('channel: the gate, as pure functions', () => {
  test('tokenMatches', () => {
    assert.equal(tokenMatches('abc', 'abc'), true);
    assert.equal(tokenMatches('abd', 'abc'), false);
    assert.equal(tokenMatches('ab', 'abc'), false);
    assert.equal(tokenMatches(undefined, 'abc'), false);
    assert.equal(tokenMatches('', 'abc'), false);
  });

  test('hostAllowed: IP literals only when exposed; "." entries allow subdomains', () => {
    const local = { extra: [], exposed: false };
    assert.equal(hostAllowed('192.168.1.5', local), false);
    assert.equal(hostAllowed('192.168.1.5', { extra: [], exposed: true }), true);
    assert.equal(hostAllowed('evil.example', { extra: [], exposed: true }), false);
    assert.equal(hostAllowed('a.dev.test', { extra: ['.dev.test'], exposed: false }), true);
    assert.equal(hostAllowed('dev.test', { extra: ['.dev.test'], exposed: false }), true);
    assert.equal(hostAllowed('xdev.test', { extra: ['.dev.test'], exposed: false }), false);
    assert.equal(hostAllowed(undefined, local), false);
  });

  test('originAllowed', () => {
    assert.equal(originAllowed('http://localhost:3000', ['http://localhost:3000']), true);
    assert.equal(originAllowed('http://127.0.0.1:3000', ['http://localhost:3000/']), true);
    assert.equal(originAllowed('http://localhost', ['http://localhost:80']), true);
    assert.equal(originAllowed('http://app.example:3000', ['http://localhost:3000']), false);
    assert.equal(originAllowed('file://', ['http://localhost:3000']), false);
    assert.equal(originAllowed('garbage', ['http://localhost:3000']), false);
  });

  test('a channel bound to 0.0.0.0 advertises localhost', async (t) => {
    const channel = await createChannel({
      root: '/nowhere',
      version: '0',
      host: '0.0.0.0',
      port: 0,
      allowedHosts: [],
      appOrigins: () => [],
      sessionFile: false,
      clientFile: '/nowhere/client.js',
      handlers: {
        state: () => ({ status: 'stopped', pid: undefined, urls: [], error: undefined }),
        graph: async () => [],
        reload: async () => undefined,
        restart: async () => undefined,
        custom: () => {},
      },
    });
    t.after(() => channel.close());
    assert.equal(channel.url, `ws://localhost:${channel.port}${CHANNEL_PATH}`);
    assert.match(channel.scriptTag(), new RegExp(`src="http://localhost:${channel.port}${CLIENT_PATH}\\?token=`));
  });
});
