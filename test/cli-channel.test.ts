/**
 * The channel end to end: the real `devhot` command on a real app, a tool that finds it through
 * the session file with connect(). Custom events both ways between the tool and
 * import.meta.hot, app output to a subscribed tool, update/error/error-cleared messages (and the
 * error replayed to a tool that connects late), status, graph, reload and restart.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { connect, type DevhotConnection } from '../src/tool/connect.js';
import type { ServerMessage } from '../src/shared/protocol.js';
import { canListen, createFixture, freePort, onCleanup, startDevhot, waitForBody } from './helpers/cli.js';
import { poll } from './helpers/poll.js';

const routeModule = (v: string) => `export const route = (): string => '${v}';\n`;

test('a tool on the channel: custom events both ways, logs, update/error messages, status, graph, reload, restart', async (t) => {
  const fixture = createFixture(t, {
    'server.ts': `
import http from 'node:http';
import { route } from './route.js';
import './echo.js';
http
  .createServer((req, res) => {
    if (req.url === '/log') console.log('app says hi');
    res.end(route());
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`,
    'echo.ts': `
// A tool's 'ping' comes back as 'pong' through import.meta.hot.send.
import.meta.hot?.on('ping', (data) => import.meta.hot?.send('pong', data));
export {};
`,
    'route.ts': routeModule('v1'),
  });
  const port = await freePort();
  await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'v1');

  const tool = await connect({ root: fixture.root });
  onCleanup(t, () => tool.close());
  const messages: ServerMessage[] = [];
  tool.on('*', (m) => messages.push(m));
  const next = <T extends ServerMessage['type']>(
    type: T,
    from: number,
    match: (m: Extract<ServerMessage, { type: T }>) => boolean = () => true,
  ) =>
    poll(
      () =>
        messages
          .slice(from)
          .find((m): m is Extract<ServerMessage, { type: T }> => m.type === type && match(m as Extract<ServerMessage, { type: T }>)),
      `a ${type} message (got ${messages
        .slice(from)
        .map((m) => m.type)
        .join(', ')})`,
    );

  assert.equal(tool.connected.protocol, 1);
  assert.ok(
    tool.connected.urls.some((u) => u.includes(`:${port}`)),
    tool.connected.urls.join(),
  );

  // Status and graph come from the supervisor and the app.
  const status = await tool.status();
  assert.equal(status.status, 'running');
  const graph = await tool.graph();
  const server = graph.find((m) => m.file === 'server.ts');
  assert.ok(server, JSON.stringify(graph));
  assert.deepEqual([...server.imports].sort(), ['echo.ts', 'route.ts']);
  assert.deepEqual(graph.find((m) => m.file === 'route.ts')?.importers, ['server.ts']);

  // Custom events: tool → import.meta.hot.on → import.meta.hot.send → tool.
  let mark = messages.length;
  tool.send('ping', { n: 7 });
  const pong = await next('custom', mark, (m) => m.event === 'pong');
  assert.deepEqual(pong.data, { n: 7 });

  // App output reaches a tool that subscribed.
  tool.subscribeLogs();
  mark = messages.length;
  await poll(async () => {
    await waitForBody(port, 'v1', '/log');
    return messages.slice(mark).some((m) => m.type === 'log' && m.text.includes('app says hi'));
  }, 'the app output as a log message');

  // An applied update, then an error that a late tool sees replayed, then error-cleared.
  mark = messages.length;
  fixture.write('route.ts', routeModule('v2'));
  const update = await next('update', mark);
  assert.deepEqual(update.files, ['route.ts']);
  assert.equal(update.rung, 'entry-reexecuted');
  assert.ok(update.modules.includes('route.ts'));

  mark = messages.length;
  fixture.write('route.ts', `export const route = (): string => 'v3' +;\n`);
  const error = await next('error', mark);
  assert.equal(error.error.file, 'route.ts');
  assert.equal(error.error.line, 1);
  assert.match(error.error.frame ?? '', /> 1 \| export const route = \(\): string => 'v3' \+;/);
  await waitForBody(port, 'v2');

  const late: DevhotConnection = await connect({ root: fixture.root });
  onCleanup(t, () => late.close());
  const lateMessages: ServerMessage[] = [];
  late.on('*', (m) => lateMessages.push(m));
  assert.equal(late.connected.state.status, 'error');
  await poll(
    () => lateMessages.some((m) => m.type === 'error' && m.error.file === 'route.ts'),
    'the standing error replayed to a late tool',
  );

  mark = messages.length;
  fixture.write('route.ts', routeModule('v4'));
  await next('error-cleared', mark);
  await waitForBody(port, 'v4');
  assert.equal((await tool.status()).status, 'running');

  // reload: the entry re-executes in the same process.
  const pid = (await tool.status()).pid;
  mark = messages.length;
  await tool.reload();
  const reloaded = await next('update', mark);
  assert.deepEqual(reloaded.modules, ['server.ts']);
  assert.equal((await tool.status()).pid, pid);

  // restart: a new process, announced in phases, serving the same port.
  mark = messages.length;
  await tool.restart();
  await next('restart', mark, (m) => m.phase === 'ready');
  const after = await tool.status();
  assert.notEqual(after.pid, pid);
  assert.equal(after.status, 'running');
  await waitForBody(port, 'v4');
});

test('a tool sees failures as failures: a restart whose process cannot start, a reload that throws; status stays on the serving process', async (t) => {
  const flag = path.join(os.tmpdir(), `devhot-reload-fails-${process.pid}-${Date.now()}`);
  t.after(() => fs.rmSync(flag, { force: true }));
  const fixture = createFixture(t, {
    '.env': 'MODE=good\n',
    'server.ts': `
import fs from 'node:fs';
import http from 'node:http';
if (process.env.MODE === 'bad') process.exit(3);
// A file outside the project (not watched) makes the next run of this entry throw.
if (fs.existsSync(${JSON.stringify(flag)})) throw new Error('entry refuses to run');
http.createServer((_req, res) => res.end(String(process.pid))).listen(Number(process.env.PORT), '127.0.0.1');
`,
  });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', '--env-file', '.env'], env: { PORT: String(port) } });
  const pid = await waitForBody(port, (b) => /^\d+$/.test(b));
  const tool = await connect({ root: fixture.root });
  onCleanup(t, () => tool.close());

  // The new process exits while starting: the restart fails, the old one keeps serving.
  fixture.write('.env', 'MODE=bad\n');
  await devhot.waitEvent((e) => e.event === 'restart' && e.phase === 'failed', 'the failed restart');
  await assert.rejects(tool.restart(), /restart.*failed/);
  const status = await tool.status();
  assert.equal(String(status.pid), pid, JSON.stringify(status));
  assert.notEqual(status.status, 'stopped');
  assert.equal(await waitForBody(port, pid), pid);
  assert.equal(devhot.find((e) => e.event === 'exit').length, 0, 'a failed restart is not reported as the app exiting');

  // A reload whose entry throws is an error reply, and the old code keeps serving.
  fs.writeFileSync(flag, '');
  await assert.rejects(tool.reload(), /reload failed.*entry refuses to run/);
  assert.equal(await waitForBody(port, pid), pid);
});

test('an update that never finishes does not hold devhot: SIGTERM still ends it and frees the port', async (t) => {
  const fixture = createFixture(t, {
    'server.ts': `
import http from 'node:http';
import { value } from './slow.js';
http.createServer((_req, res) => res.end(value)).listen(Number(process.env.PORT), '127.0.0.1');
`,
    'slow.ts': `export const value = 'ready';\n`,
  });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', '--kill-timeout', '1000'], env: { PORT: String(port) } });
  await waitForBody(port, 'ready');
  const marker = path.join(os.tmpdir(), `devhot-stuck-${process.pid}-${Date.now()}`);
  t.after(() => fs.rmSync(marker, { force: true }));
  fixture.write(
    'slow.ts',
    `import fs from 'node:fs';\nfs.writeFileSync(${JSON.stringify(marker)}, '');\nawait new Promise(() => {});\nexport const value = 'never';\n`,
  );
  // The update has begun and will never end; the old code still answers meanwhile.
  await poll(() => fs.existsSync(marker), 'the stuck update to begin');
  await waitForBody(port, 'ready');
  devhot.child.kill('SIGTERM');
  const exit = await Promise.race([devhot.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 8000))]);
  assert.notEqual(exit, 'timeout', 'devhot did not exit on SIGTERM');
  assert.equal((exit as { code: number | null }).code, 143);
  await poll(() => canListen(port), `port ${port} free`);
});
