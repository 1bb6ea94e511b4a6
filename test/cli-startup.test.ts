/**
 * Start-up messages agree with what happens (issue #10.9): when the entry throws at start,
 * devhot says "the app failed to start", prints the error once with its code frame, waits for a
 * save, and prints no ready banner; nothing claims that a previous version keeps running. In the
 * terminal (human mode) and in --json.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliEnv, createFixture, freePort, isUpdate, onCleanup, runDevhot, startDevhot, waitForBody } from './helpers/cli.js';
import { poll } from './helpers/poll.js';
import { appPoolFlag } from '../src/shared/app-flags.js';

const THROWS = `import http from 'node:http';
const port: number = Number(process.env.PORT);
throw new Error('boom at start');
http.createServer((_req, res) => res.end('up')).listen(port, '127.0.0.1');
`;

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`))?.length ?? 0;
}

test('terminal: the entry throws at start → "the app failed to start", the error once with its frame, waiting for a save, no ready banner', async (t) => {
  const fixture = createFixture(t, { 'server.ts': THROWS });
  const port = await freePort();
  const devhot = runDevhot(t, { cwd: fixture.root, args: ['server.ts'], json: false, env: { PORT: String(port) } });
  const text = () => devhot.stray.join('\n');
  await poll(() => /waiting for a save to start the app/.test(text()), `the waiting line${devhot.describe()}`);
  const start = text();
  assert.equal(count(start, /the app failed to start/), 1, start);
  assert.equal(count(start, /^error server\.ts:3:\d+ Error: boom at start$/m), 1, start);
  assert.equal(count(start, /^> 3 \| throw new Error/m), 1, `the code frame once:\n${start}`);
  assert.match(start, /^fix: .*the app starts with the next save\.$/m);
  assert.doesNotMatch(start, /ready in|keeps running|previous version/, start);
  // The last word is what devhot does now.
  assert.ok(start.indexOf('waiting for a save') > start.indexOf('> 3 |'), start);

  // A save that still throws: a start that failed again, not an update the old code survived.
  fixture.edit('server.ts', 'boom at start', 'boom again');
  await poll(() => /Error: boom again/.test(text()), `the second error${devhot.describe()}`);
  const again = text().slice(start.length);
  assert.match(again, /the app failed to start — waiting for a save/, again);
  assert.doesNotMatch(again, /keeps running|previous version|update failed/, again);

  fixture.edit('server.ts', "throw new Error('boom again');", '');
  await waitForBody(port, 'up');
  assert.doesNotMatch(text(), /ready in/, text());
});

test('--json: the start event says app "failed", one error event (source "start") with the frame and a fix that fits', async (t) => {
  const fixture = createFixture(t, { 'server.ts': THROWS });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  const start = devhot.events.find((e) => e.event === 'start')!;
  assert.equal(start.app, 'failed', devhot.describe());
  const errors = devhot.find((e) => e.event === 'error');
  assert.equal(errors.length, 1, devhot.describe());
  assert.equal(errors[0]!.source, 'start');
  assert.match(errors[0]!.error.frame, /> 3 \| throw new Error\('boom at start'\)/);
  assert.match(errors[0]!.error.fix, /the app starts with the next save/);
  assert.doesNotMatch(JSON.stringify(devhot.events), /keeps running/, devhot.describe());
  assert.deepEqual(devhot.stray, []);

  const from = devhot.mark();
  fixture.edit('server.ts', "throw new Error('boom at start');", '');
  await devhot.waitEvent(isUpdate('applied'), 'the start on save', { from });
  await waitForBody(port, 'up');
});

test('--json: an entry that starts says app "ready"', async (t) => {
  const fixture = createFixture(t, { 'server.ts': THROWS.replace("throw new Error('boom at start');", '') });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  assert.equal(devhot.events.find((e) => e.event === 'start')!.app, 'ready');
  assert.equal(devhot.find((e) => e.event === 'error').length, 0, devhot.describe());
});

test("Node's compile cache is on in the app process where Node has it (>= 22.1), for devhot's modules and the app's packages", async (t) => {
  const fixture = createFixture(t, {
    'server.ts': `import http from 'node:http';
import module from 'node:module';
const dir = (module as { getCompileCacheDir?: () => string | undefined }).getCompileCacheDir?.();
http.createServer((_req, res) => res.end(String(dir))).listen(Number(process.env.PORT), '127.0.0.1');
`,
  });
  const port = await freePort();
  await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  const hasIt = major > 22 || (major === 22 && minor >= 1);
  const body = await waitForBody(port, (b) => b.length > 0);
  if (hasIt) assert.match(body, /node-compile-cache/, 'the app reports its compile cache directory');
  else assert.equal(body, 'undefined', 'Node 20 has no compile cache: nothing is enabled');
});

test("the app's compile cache is written when devhot stops it, so the next start reads devhot's modules and the app's packages from it", async (t) => {
  const fixture = createFixture(t, {
    'server.ts': `import http from 'node:http';
import { greet } from 'greeter';
http.createServer((_req, res) => res.end(greet())).listen(Number(process.env.PORT), '127.0.0.1');
`,
    'node_modules/greeter/package.json': JSON.stringify({ name: 'greeter', main: 'index.js' }),
    'node_modules/greeter/index.js': 'exports.greet = () => "hello";\n',
    // Only the app's environment (the supervisor keeps its own cache where it was): what lands
    // in this directory is the app's.
    '.env': 'NODE_COMPILE_CACHE=app-compile-cache\n',
  });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', '--env-file', '.env'], env: { PORT: String(port) } });
  await waitForBody(port, 'hello');
  devhot.child.kill('SIGINT');
  await devhot.exited;
  const cache = join(fixture.root, 'app-compile-cache');
  const files = existsSync(cache) ? readdirSync(cache, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()) : [];
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  // Node writes the cache at a process's own exit, or on module.flushCompileCache() (22.10, 23.0).
  if (major > 22 || (major === 22 && minor >= 10)) assert.ok(files.length > 0, `the app wrote its compile cache${devhot.describe()}`);
  else assert.equal(files.length, 0, 'no flushCompileCache() on this Node: nothing is written');
});

/** Fills the young generation with objects that survive a scavenge or two, then reports its size. */
const HEAP = `import http from 'node:http';
import v8 from 'node:v8';
const kept = [];
for (let i = 0; i < 3_000_000; i++) {
  kept.push({ i, s: [i] });
  if (kept.length > 200_000) kept.length = 0;
}
const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
const body = JSON.stringify({ execArgv: process.execArgv, newSpaceMb: newSpace.space_size / 1048576 });
http.createServer((_req, res) => res.end(body)).listen(Number(process.env.PORT), '127.0.0.1');
`;

test("the app's young generation is bounded at 4 MB semi-spaces unless NODE_OPTIONS sets one, and process.execArgv does not show it", async (t) => {
  const fixture = createFixture(t, { 'server.mjs': HEAP });
  const report = async (port: number) =>
    JSON.parse(await waitForBody(port, (b) => b.startsWith('{'))) as { execArgv: string[]; newSpaceMb: number };

  // V8's own bound depends on the machine's memory: 16 MB semi-spaces show what the fixture fills.
  const nodePort = await freePort();
  const node = spawn(process.execPath, ['server.mjs'], {
    cwd: fixture.root,
    env: { ...process.env, PORT: String(nodePort), NODE_OPTIONS: '--max-semi-space-size=16' },
    stdio: 'ignore',
  });
  onCleanup(t, () => node.kill('SIGKILL'));
  const underNode = await report(nodePort);
  assert.ok(underNode.newSpaceMb > 8, `with room, the fixture's new space grows past 8 MB: ${underNode.newSpaceMb} MB`);

  const port = await freePort();
  await startDevhot(t, { cwd: fixture.root, args: ['server.mjs'], env: { PORT: String(port) } });
  const underDevhot = await report(port);
  // (devhot's loader is there for forked children: README, workers and forked children.)
  const heapFlags = (argv: string[]) => argv.filter((a) => a.startsWith('--max-semi-space-size'));
  assert.deepEqual(heapFlags(underDevhot.execArgv), heapFlags(underNode.execArgv), 'no heap flag in process.execArgv');
  assert.ok(underDevhot.newSpaceMb <= 8, `two 4 MB semi-spaces at most: ${underDevhot.newSpaceMb} MB`);

  const ownPort = await freePort();
  await startDevhot(t, {
    cwd: fixture.root,
    args: ['server.mjs'],
    // V8's other spelling of the flag's name.
    env: { PORT: String(ownPort), NODE_OPTIONS: '--max_semi_space_size=16' },
  });
  const own = await report(ownPort);
  assert.ok(own.newSpaceMb > 8, `the user's --max_semi_space_size=16 wins: ${own.newSpaceMb} MB`);
  assert.deepEqual(heapFlags(own.execArgv), []);
});

/** Reports the process's execArgv and the flags it was started with (Linux: /proc). */
const FLAGS = `import http from 'node:http';
import { readFileSync } from 'node:fs';
const body = JSON.stringify({ execArgv: process.execArgv, cmdline: readFileSync('/proc/self/cmdline', 'utf8').split('\\0') });
http.createServer((_req, res) => res.end(body)).listen(Number(process.env.PORT), '127.0.0.1');
`;

test("the app's V8 thread pool is sized to the machine unless NODE_OPTIONS sets one, and process.execArgv does not show it", async (t) => {
  // None on Node 24, or with 5 cores or more: the app gets Node's own pool.
  const pool = appPoolFlag();
  const fixture = createFixture(t, { 'server.mjs': FLAGS });
  const report = async (port: number) =>
    JSON.parse(await waitForBody(port, (b) => b.startsWith('{'))) as { execArgv: string[]; cmdline: string[] };
  const pools = (argv: string[]) => argv.filter((a) => a.startsWith('--v8-pool-size'));

  const nodePort = await freePort();
  const node = spawn(process.execPath, ['server.mjs'], { cwd: fixture.root, env: cliEnv({ PORT: String(nodePort) }), stdio: 'ignore' });
  onCleanup(t, () => node.kill('SIGKILL'));
  const underNode = await report(nodePort);

  const port = await freePort();
  await startDevhot(t, { cwd: fixture.root, args: ['server.mjs'], env: { PORT: String(port) } });
  const underDevhot = await report(port);
  assert.deepEqual(
    pools(underDevhot.cmdline),
    pool ? [pool] : [],
    `the app process started with ${pool ?? 'no pool flag'} (${availableParallelism()} cores)`,
  );
  assert.deepEqual(pools(underDevhot.execArgv), pools(underNode.execArgv), 'no pool flag in process.execArgv');

  const ownPort = await freePort();
  await startDevhot(t, { cwd: fixture.root, args: ['server.mjs'], env: { PORT: String(ownPort), NODE_OPTIONS: '--v8-pool-size=2' } });
  assert.deepEqual(pools((await report(ownPort)).cmdline), [], "the user's --v8-pool-size=2 (NODE_OPTIONS) wins");
});

/**
 * Which of the modules behind node:http's lazy exports (Node 22+: `http.WebSocket` is undici's)
 * the process has loaded, for a program that requires node:http as CommonJS code does.
 */
const LAZY_BUILTINS = `import { createRequire } from 'node:module';
const http = createRequire(import.meta.url)('node:http');
const names = ['internal/deps/undici/undici', 'http2', 'tls', 'zlib', 'assert'];
const loaded = () => names.filter((m) => process.moduleLoadList.includes('NativeModule ' + m));
http.createServer((_req, res) => res.end(JSON.stringify(loaded()))).listen(Number(process.env.PORT), '127.0.0.1');
`;

test("devhot's own code in the app loads none of Node's modules that the program under node does not (undici, http2, tls, zlib behind node:http's lazy exports)", async (t) => {
  const fixture = createFixture(t, { 'server.mjs': LAZY_BUILTINS });
  const nodePort = await freePort();
  // The environment devhot gets (cliEnv), so the two runs differ in nothing but devhot.
  const node = spawn(process.execPath, ['server.mjs'], { cwd: fixture.root, env: cliEnv({ PORT: String(nodePort) }), stdio: 'ignore' });
  onCleanup(t, () => node.kill('SIGKILL'));
  const underNode = await waitForBody(nodePort, (b) => b.startsWith('['));

  const port = await freePort();
  await startDevhot(t, { cwd: fixture.root, args: ['server.mjs'], env: { PORT: String(port) } });
  assert.equal(await waitForBody(port, (b) => b.startsWith('[')), underNode);
});

test('a save while the first start is still running (the app serves already) updates that app once it has started, without a restart', async (t) => {
  // The entry listens, then its start goes on until the test creates `go` (a DB connection, a
  // cache warm-up): the supervisor has not taken the process as started yet.
  const fixture = createFixture(t, {
    'server.ts': `import http from 'node:http';
import { existsSync } from 'node:fs';
import { a } from './a.js';
http.createServer((_req, res) => res.end(a)).listen(Number(process.env.PORT), '127.0.0.1');
await new Promise<void>((resolve) => {
  const check = setInterval(() => existsSync(new URL('./go', import.meta.url)) && (clearInterval(check), resolve()), 10);
});
`,
    'a.ts': `export const a: string = 'a1';\n`,
  });
  const port = await freePort();
  const devhot = runDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'a1');
  fixture.write('a.ts', `export const a: string = 'a2';\n`);
  fixture.write('go', '');
  await devhot.waitEvent((e) => e.event === 'start', 'the start');
  await waitForBody(port, 'a2');
  await devhot.waitEvent(isUpdate('applied'), 'the update of a.ts');
  assert.deepEqual(
    devhot.find((e) => e.event === 'restart'),
    [],
    devhot.describe(),
  );
});
