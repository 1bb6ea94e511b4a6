/**
 * The channel end to end: the real `devhot` command on a real app, a tool that finds it through
 * the session file with connect(). Custom events both ways between the tool and
 * import.meta.hot, app output to a subscribed tool, update/error/error-cleared messages (and the
 * error replayed to a tool that connects late), status, graph, reload and restart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, type DevhotConnection } from '../src/tool/connect.js';
import type { ServerMessage } from '../src/shared/protocol.js';
import { createFixture, freePort, onCleanup, poll, startDevhot, waitForBody } from './helpers/cli.js';

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
  const next = <T extends ServerMessage['type']>(type: T, from: number, match: (m: Extract<ServerMessage, { type: T }>) => boolean = () => true) =>
    poll(
      () => messages.slice(from).find((m): m is Extract<ServerMessage, { type: T }> => m.type === type && match(m as Extract<ServerMessage, { type: T }>)),
      `a ${type} message (got ${messages.slice(from).map((m) => m.type).join(', ')})`,
    );

  assert.equal(tool.connected.protocol, 1);
  assert.ok(tool.connected.urls.some((u) => u.includes(`:${port}`)), tool.connected.urls.join());

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
  await poll(() => lateMessages.some((m) => m.type === 'error' && m.error.file === 'route.ts'), 'the standing error replayed to a late tool');

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
