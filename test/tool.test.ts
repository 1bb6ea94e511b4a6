/**
 * The tool client against a real channel: `connect()` found through the session file, typed
 * events, requests, the no-session errors; and the `devhot status|events|reload|restart`
 * commands spawned as processes, found through the same file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { connect, type DevhotConnection } from '../src/tool/connect.js';
import { DevhotError } from '../src/errors.js';
import type { ServerMessage } from '../src/shared/protocol.js';
import { GRAPH, startChannel, tempDir, within } from './helpers/channel.js';
import { poll, type After } from './helpers/poll.js';

const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const BIN = path.join(REPO_ROOT, 'bin', 'devhot.js');

async function connectTo(t: After, root: string, options: Parameters<typeof connect>[0] = {}): Promise<DevhotConnection> {
  const connection = await connect({ root, ...options });
  t.after(() => connection.close());
  return connection;
}

function isNoSession(error: unknown, pattern: RegExp): boolean {
  assert.ok(error instanceof DevhotError, String(error));
  assert.equal(error.code, 'DEVHOT_ERR_NO_SESSION');
  assert.match(error.message, pattern);
  assert.match(error.fix ?? '', /start devhot first: npx devhot src\/server\.ts|delete it/);
  return true;
}

describe('connect()', () => {
  test('finds the session through <root>/node_modules/.devhot/session.json and is greeted', async (t) => {
    const { channel, root } = await startChannel(t);
    const devhot = await connectTo(t, root);
    assert.equal(devhot.session.url, channel.url);
    assert.equal(devhot.connected.type, 'connected');
    assert.equal(devhot.connected.version, '9.9.9-test');
    assert.deepEqual(devhot.connected.urls, ['http://localhost:3000']);
  });

  test('requests: status, graph, reload, restart resolve with the results', async (t) => {
    const { root, calls } = await startChannel(t);
    const devhot = await connectTo(t, root);
    const state = await devhot.status();
    assert.equal(state.status, 'running');
    assert.equal(state.pid, 4242);
    assert.deepEqual(await devhot.graph(), GRAPH);
    assert.deepEqual(await devhot.reload(), { rung: 'entry-reexecuted', all: false });
    assert.deepEqual(await devhot.reload(true), { rung: 'entry-reexecuted', all: true });
    assert.deepEqual(await devhot.restart(), { restarted: true });
    assert.deepEqual(await devhot.request('reload', { all: true }), { rung: 'entry-reexecuted', all: true });
    assert.deepEqual(calls.reload, [false, true, true]);
    assert.equal(calls.restart, 1);
  });

  test('an error reply rejects with its message; a reply that never comes times out', async (t) => {
    const { root } = await startChannel(t, {
      handlers: {
        state: () => ({ status: 'running', pid: 1, urls: [], error: undefined }),
        graph: () => new Promise(() => {}),
        reload: async () => {
          throw new Error('entry failed: SyntaxError');
        },
        restart: async () => undefined,
        custom: () => {},
      },
    });
    const devhot = await connectTo(t, root, { requestTimeout: 200 });
    await assert.rejects(devhot.reload(), /entry failed: SyntaxError/);
    await assert.rejects(devhot.graph(), /did not reply to 'graph' within 200 ms/);
    assert.equal((await devhot.status()).pid, 1);
  });

  test('typed events: on(type) gets that type only, on("*") gets all, the returned function and off() remove', async (t) => {
    const { channel, root } = await startChannel(t);
    const devhot = await connectTo(t, root);
    const updates: string[] = [];
    const all: ServerMessage['type'][] = [];
    const reloads: string[] = [];
    const unsubscribe = devhot.on('update', (m) => updates.push(`${m.rung}:${m.files.join(',')}`));
    devhot.on('*', (m) => all.push(m.type));
    const onReload = (m: { reason: string }) => reloads.push(m.reason);
    devhot.on('full-reload', onReload);
    channel.broadcast({ type: 'update', files: ['src/a.ts'], modules: ['src/a.ts'], rung: 'hot-update', reason: undefined, duration: 2 });
    channel.broadcast({ type: 'full-reload', reason: 'index.html changed' });
    await poll(() => all.length === 2, 'two messages', 5000, 10);
    assert.deepEqual(updates, ['hot-update:src/a.ts']);
    assert.deepEqual(reloads, ['index.html changed']);
    unsubscribe();
    devhot.off('full-reload', onReload);
    channel.broadcast({ type: 'update', files: ['src/b.ts'], modules: [], rung: 'restart', reason: 'x', duration: 1 });
    channel.broadcast({ type: 'full-reload', reason: 'again' });
    await poll(() => all.length === 4, 'four messages', 5000, 10);
    assert.deepEqual(updates, ['hot-update:src/a.ts']);
    assert.deepEqual(reloads, ['index.html changed']);
  });

  test('a standing error reaches a listener attached right after connect() resolves', async (t) => {
    const { channel, root } = await startChannel(t);
    channel.broadcast({ type: 'error', source: 'update', error: { message: 'boom', file: 'src/a.ts', line: 1, column: 2 } });
    const devhot = await connectTo(t, root);
    const errors: string[] = [];
    devhot.on('error', (m) => errors.push(`${m.error.file}:${m.error.line}:${m.error.column} ${m.error.message}`));
    await poll(() => errors.length === 1, 'the replayed error', 5000, 10);
    assert.deepEqual(errors, ['src/a.ts:1:2 boom']);
  });

  test('send() reaches handlers.custom; subscribeLogs() brings the app output', async (t) => {
    const { channel, root, calls } = await startChannel(t);
    const devhot = await connectTo(t, root);
    devhot.send('editor:focus', { file: 'src/a.ts' });
    await poll(() => calls.custom.length === 1, 'the custom event', 5000, 10);
    assert.deepEqual(calls.custom, [{ event: 'editor:focus', data: { file: 'src/a.ts' } }]);
    const logs: string[] = [];
    devhot.on('log', (m) => logs.push(`${m.stream}:${m.text}`));
    devhot.subscribeLogs();
    await devhot.status(); // the subscription is in effect after a round trip
    channel.log('stderr', 'warning\n');
    await poll(() => logs.length === 1, 'a log message', 5000, 10);
    assert.deepEqual(logs, ['stderr:warning\n']);
  });

  test('closed resolves when devhot goes away; pending requests reject', async (t) => {
    const { channel, root } = await startChannel(t, {
      handlers: {
        state: () => ({ status: 'running', pid: 1, urls: [], error: undefined }),
        graph: () => new Promise(() => {}),
        reload: async () => undefined,
        restart: async () => undefined,
        custom: () => {},
      },
    });
    const devhot = await connectTo(t, root);
    const graph = devhot.graph();
    const stopping = channel.close();
    await assert.rejects(graph, /closed the connection/);
    await within(devhot.closed, 'closed');
    await stopping;
    assert.throws(() => devhot.send('x', 1), /closed/);
  });

  test('url + token connect without a session file', async (t) => {
    const { channel } = await startChannel(t, { sessionFile: false });
    const devhot = await connect({ url: channel.url, token: channel.token });
    t.after(() => devhot.close());
    assert.equal((await devhot.status()).status, 'running');
  });

  test('DEVHOT_ERR_NO_SESSION: no session file', async (t) => {
    const root = tempDir(t);
    await assert.rejects(connect({ root }), (e) => isNoSession(e, /no devhot session is running \(no .*session\.json\)/));
  });

  test('DEVHOT_ERR_NO_SESSION: a stale session file (the pid is dead)', async (t) => {
    const root = tempDir(t);
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid!;
    await new Promise((resolve) => child.on('exit', resolve));
    writeSession(root, { pid, url: 'ws://127.0.0.1:9/@devhot/ws', token: 'x' });
    await assert.rejects(connect({ root }), (e) => isNoSession(e, new RegExp(`stale \\(process ${pid} is gone\\)`)));
  });

  test('DEVHOT_ERR_NO_SESSION: a stale session file (nothing listens any more)', async (t) => {
    const { channel, root, sessionFile } = await startChannel(t);
    const saved = fs.readFileSync(sessionFile, 'utf8');
    await channel.close();
    fs.writeFileSync(sessionFile, saved);
    await assert.rejects(connect({ root }), (e) => isNoSession(e, /nothing listens at .* \(the session file is stale\)/));
  });

  test('DEVHOT_ERR_NO_SESSION: a token the running devhot refuses, a corrupt file', async (t) => {
    const { channel, root, sessionFile } = await startChannel(t);
    writeSession(root, { pid: process.pid, url: channel.url, token: 'not-the-token' });
    await assert.rejects(connect({ root }), (e) => isNoSession(e, /refused the token/));
    fs.writeFileSync(sessionFile, '{half');
    await assert.rejects(connect({ root }), (e) => isNoSession(e, /not valid JSON/));
  });
});

function writeSession(root: string, fields: { pid: number; url: string; token: string }): void {
  const file = path.join(root, 'node_modules', '.devhot', 'session.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ protocol: 1, version: '0', root, ...fields }), { mode: 0o600 });
}

// ---------------------------------------------------------------------------------------------

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawn the built CLI (async: the channel it talks to runs in this process). */
function devhot(t: After, args: string[], timeout = 15_000): Promise<Run> & { child: ReturnType<typeof spawn>; output(): Run } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  t.after(() => child.kill('SIGKILL'));
  const run: Run = { code: null, stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (run.stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (run.stderr += c));
  const done = within(
    new Promise<Run>((resolve) => child.on('close', (code) => resolve({ ...run, code }))),
    `devhot ${args.join(' ')} to exit`,
    timeout,
  );
  return Object.assign(done, { child, output: () => run });
}

describe('devhot status | events | reload | restart', () => {
  test('status prints a summary; --json prints JSON', async (t) => {
    const { channel, root } = await startChannel(t);
    const text = await devhot(t, ['status', '--root', root]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /devhot 9\.9\.9-test/);
    assert.match(text.stdout, /app: +running \(pid 4242\)/);
    assert.match(text.stdout, /urls: +http:\/\/localhost:3000/);
    assert.ok(text.stdout.includes(channel.url));

    const json = await devhot(t, ['status', '--root', root, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { version: string; url: string; state: { status: string; urls: string[] } };
    assert.equal(parsed.version, '9.9.9-test');
    assert.equal(parsed.url, channel.url);
    assert.deepEqual(parsed.state.urls, ['http://localhost:3000']);
  });

  test('status shows the standing error with its location', async (t) => {
    const { root, state } = await startChannel(t);
    state.status = 'error';
    state.error = { message: 'Unexpected token', file: 'src/a.ts', line: 3, column: 7, frame: '> 3 | const = 1;' };
    const run = await devhot(t, ['status', '--root', root]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /app: +error/);
    assert.match(run.stdout, /error: +Unexpected token at src\/a\.ts:3:7/);
    assert.match(run.stdout, /> 3 \| const = 1;/);
  });

  test('reload and restart print the reply; reload --all asks for all', async (t) => {
    const { root, calls } = await startChannel(t);
    const reload = await devhot(t, ['reload', '--root', root, '--all']);
    assert.equal(reload.code, 0, reload.stderr);
    assert.match(reload.stdout, /^reload: done/);
    assert.match(reload.stdout, /"rung": "entry-reexecuted"/);
    const restart = await devhot(t, ['restart', '--root', root, '--json']);
    assert.equal(restart.code, 0, restart.stderr);
    assert.deepEqual(JSON.parse(restart.stdout), { ok: true, result: { restarted: true } });
    assert.deepEqual(calls.reload, [true]);
    assert.equal(calls.restart, 1);
  });

  test('a failing reload exits 1 with the error message', async (t) => {
    const { root } = await startChannel(t, {
      handlers: {
        state: () => ({ status: 'error', pid: 1, urls: [], error: undefined }),
        graph: async () => [],
        reload: async () => {
          throw new Error('src/server.ts:3:7 Unexpected token');
        },
        restart: async () => undefined,
        custom: () => {},
      },
    });
    const run = await devhot(t, ['reload', '--root', root]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /reload failed: src\/server\.ts:3:7 Unexpected token/);
  });

  test('events prints one JSON line per message until SIGINT, then exits 0', async (t) => {
    const { channel, root } = await startChannel(t);
    const run = devhot(t, ['events', '--root', root]);
    const lines = () =>
      run
        .output()
        .stdout.split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ServerMessage);
    await poll(() => lines().some((m) => m.type === 'connected'), 'the greeting line', 5000, 10);
    channel.broadcast({ type: 'full-reload', reason: 'index.html changed' });
    channel.broadcast({ type: 'custom', event: 'app:hi', data: { n: 1 } });
    await poll(() => lines().length === 3, 'three lines', 5000, 10);
    assert.deepEqual(lines().slice(1), [
      { type: 'full-reload', reason: 'index.html changed' },
      { type: 'custom', event: 'app:hi', data: { n: 1 } },
    ]);
    run.child.kill('SIGINT');
    const done = await run;
    assert.equal(done.code, 0, done.stderr);
  });

  test('events exits 1 when devhot goes away', async (t) => {
    const { channel, root } = await startChannel(t);
    const run = devhot(t, ['events', '--root', root]);
    await poll(() => run.output().stdout.includes('"connected"'), 'the greeting line', 5000, 10);
    await channel.close();
    const done = await run;
    assert.equal(done.code, 1);
    assert.match(done.stderr, /the session ended/);
  });

  for (const command of ['status', 'events', 'reload', 'restart']) {
    test(`${command} with no session exits 1 with what and how to fix it`, async (t) => {
      const root = tempDir(t);
      const run = await devhot(t, [command, '--root', root]);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /no devhot session is running/);
      assert.match(run.stderr, /fix: start devhot first: npx devhot src\/server\.ts/);
      assert.match(run.stderr, /DEVHOT_ERR_NO_SESSION/);
    });
  }
});
