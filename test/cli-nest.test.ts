/**
 * NestJS 11 under the devhot command (issue #13): the starter-shaped app of helpers/nest-app.ts,
 * with injection by constructor type, which needs the decorator metadata devhot now emits.
 *
 * - express: 20 saves of the controller under load (a keep-alive and a fresh-connection client)
 *   apply in the same process with no failed request, and each replaced app is closed
 *   (onModuleDestroy and onApplicationShutdown counted);
 * - fastify: the same app on @nestjs/platform-fastify;
 * - under devhot as under node: the app compiled by tsc (emitDecoratorMetadata, CommonJS) and
 *   run by plain node answers the same requests with the same statuses and bodies, the
 *   class-validator DTO's errors included.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { cliEnv, createFixture, freePort, get, isUpdate, onCleanup, startDevhot, waitForBody } from './helpers/cli.js';
import { freshConnectionClient, keepAliveClient } from './helpers/load.js';
import { controllerSource, nestApp, type NestPlatform } from './helpers/nest-app.js';
import { poll } from './helpers/poll.js';

const SAVES = 20;

async function startNest(t: Parameters<typeof createFixture>[0], platform: NestPlatform) {
  const fixture = createFixture(t, nestApp(platform));
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['src/main.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'Hello World! c0');
  return { fixture, port, devhot };
}

/** POST a JSON body; the status and the body as text. */
async function post(port: number, pathName: string, body: unknown): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${pathName}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return `${res.status} ${await res.text()}`;
}

test('express: injection by type works, 20 controller saves under load apply in-process with no failed request, and each old app is closed', {
  timeout: 120_000,
}, async (t) => {
  const { fixture, port, devhot } = await startNest(t, 'express');
  assert.equal(devhot.find((e) => JSON.stringify(e).includes('emitDecoratorMetadata')).length, 0, 'no warning about metadata');
  const pid = (await get(port, '/pid')).body;

  let running = true;
  const clients = [keepAliveClient(port, () => running), freshConnectionClient(port, () => running)];
  onCleanup(t, async () => {
    running = false;
    await Promise.all(clients.map((c) => c.loop));
  });
  const from = devhot.mark();
  for (let i = 1; i <= SAVES; i++) {
    fixture.write('src/app.controller.ts', controllerSource(`c${i}`));
    await poll(() => clients.every((c) => c.latest === `Hello World! c${i}`), `both clients to see c${i}`, 15_000, 5);
  }
  running = false;
  await Promise.all(clients.map((c) => c.loop));

  for (const c of clients) {
    assert.deepEqual(c.failures, [], `${c.name}: ${c.failures.length} of ${c.ok + c.failures.length} requests failed`);
    assert.ok(c.ok > SAVES, `${c.name} sent only ${c.ok} requests`);
  }
  await poll(() => devhot.find(isUpdate('applied'), from).length >= SAVES, `${SAVES} applied updates`, 15_000);
  for (const e of devhot.find(isUpdate('applied'), from)) assert.equal(e.result.rung, 'entry-reexecuted');
  // Every replaced app ran its shutdown hooks; the one serving did not.
  await waitForBody(port, `${SAVES} ${SAVES}`, '/destroyed');
  assert.equal((await get(port, '/pid')).body, pid, 'the same process throughout');
  assert.equal(devhot.find((e) => e.event === 'restart').length, 0, devhot.describe());
  t.diagnostic(`requests: ${clients.map((c) => `${c.name} ${c.ok}`).join(', ')}`);
});

test('fastify: the same app on @nestjs/platform-fastify updates in-process and closes the replaced apps', {
  timeout: 60_000,
}, async (t) => {
  const { fixture, port } = await startNest(t, 'fastify');
  const pid = (await get(port, '/pid')).body;
  for (let i = 1; i <= 3; i++) {
    fixture.write('src/app.controller.ts', controllerSource(`c${i}`));
    await waitForBody(port, `Hello World! c${i}`);
  }
  await waitForBody(port, '3 3', '/destroyed');
  assert.equal((await get(port, '/pid')).body, pid);
  assert.equal(await post(port, '/items', { title: 'ok', count: 2 }), '201 {"title":"ok","count":2}');
});

/** Compile the fixture as `nest build` does (tsc, the fixture's tsconfig) into `outDir`. */
function compileWithTsc(root: string, outDir: string): void {
  const config = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, {
    outDir,
    rootDir: root,
    incremental: false,
    declaration: false,
  });
  const program = ts.createProgram(parsed.fileNames, parsed.options);
  const result = program.emit();
  const errors = ts
    .getPreEmitDiagnostics(program)
    .concat(result.diagnostics)
    .filter((d) => d.category === ts.DiagnosticCategory.Error);
  assert.deepEqual(
    errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    [],
  );
}

test('under devhot as under node: the tsc build run by node answers the same, DTO validation included', { timeout: 60_000 }, async (t) => {
  const source = createFixture(t, nestApp('express'));
  const built = createFixture(t, { 'package.json': JSON.stringify({ name: 'nest-built', private: true }) });
  compileWithTsc(source.root, built.root);
  const nodePort = await freePort();
  const child = spawn(process.execPath, [path.join(built.root, 'src', 'main.js')], {
    cwd: built.root,
    env: cliEnv({ PORT: String(nodePort) }),
    stdio: 'ignore',
  });
  onCleanup(t, () => void child.kill('SIGKILL'));
  const devhotPort = await freePort();
  await startDevhot(t, { cwd: source.root, args: ['src/main.ts'], env: { PORT: String(devhotPort) } });
  await Promise.all([waitForBody(nodePort, 'Hello World! c0'), waitForBody(devhotPort, 'Hello World! c0')]);

  const requests: Array<[string, (port: number) => Promise<string>]> = [
    ['GET /', async (port) => JSON.stringify(await get(port, '/').then((r) => [r.status, r.body]))],
    ['a valid item', (port) => post(port, '/items', { title: 'pen', count: '3' })],
    ['an invalid item', (port) => post(port, '/items', { title: 'far too long a title', count: 0 })],
    ['an extra property', (port) => post(port, '/items', { title: 'pen', count: 1, admin: true })],
    ['no body', (port) => post(port, '/items', {})],
  ];
  for (const [what, request] of requests) {
    const [underNode, underDevhot] = [await request(nodePort), await request(devhotPort)];
    assert.equal(underDevhot, underNode, `${what}: devhot answered otherwise than node`);
  }
  // And the answers are the ones the metadata makes: validation ran, the DTO was transformed.
  assert.equal(await post(devhotPort, '/items', { title: 'pen', count: '3' }), '201 {"title":"pen","count":3}');
  assert.match(
    await post(devhotPort, '/items', { title: 'far too long a title', count: 0 }),
    /^400 .*title must be shorter than or equal to 10 characters/,
  );
});
