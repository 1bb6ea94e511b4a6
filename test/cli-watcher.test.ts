/**
 * The watcher inside the real devhot: --poll applies saves; a symlink loop in the project costs
 * nothing (one restart for package.json, saves keep applying); a workspace package linked from
 * outside the root is watched because the app reports its modules there, also after it is removed
 * and brought back; and devhot's own
 * output redirected into the project (`--json > events.jsonl 2> dev.log`) is never a save.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  BIN,
  cliEnv,
  createFixture,
  freePort,
  get,
  isRestart,
  isUpdate,
  onCleanup,
  runDevhot,
  startDevhot,
  waitForBody,
} from './helpers/cli.js';
import { poll } from './helpers/poll.js';

const SERVER = `import http from 'node:http';
import { a } from './a.js';
http
  .createServer((req, res) => {
    res.end(req.url === '/pid' ? String(process.pid) : a);
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;

/** Directories a process watches through inotify (Linux: the `inotify wd:` lines of its fds). */
function inotifyWatches(pid: number): number {
  let watches = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:inotify') continue;
      watches += fs
        .readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // closed meanwhile
    }
  }
  return watches;
}

for (const poll_ of [false, true]) {
  test(`the supervisor watches ${poll_ ? 'nothing through inotify with --poll' : 'each directory through inotify'}`, async (t) => {
    const fixture = createFixture(t, { 'src/server.ts': SERVER, 'src/a.ts': `export const a = 'a1';\n`, 'src/lib/b.ts': '' });
    const port = await freePort();
    const devhot = await startDevhot(t, {
      cwd: fixture.root,
      args: ['src/server.ts', ...(poll_ ? ['--poll'] : [])],
      env: { PORT: String(port) },
    });
    await waitForBody(port, 'a1');
    // root, src, src/lib
    assert.equal(inotifyWatches(devhot.pid), poll_ ? 0 : 3);
  });
}

test('--poll: saves are applied without file events', async (t) => {
  const fixture = createFixture(t, { 'src/server.ts': SERVER, 'src/a.ts': `export const a = 'a1';\n` });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['src/server.ts', '--poll'], env: { PORT: String(port) } });
  await waitForBody(port, 'a1');
  const from = devhot.mark();
  fixture.write('src/a.ts', `export const a = 'a2';\n`);
  await waitForBody(port, 'a2');
  await devhot.waitEvent(isUpdate('applied'), 'the update', { from });
  // A file added in a new directory is seen too.
  fixture.write('src/lib/b.ts', `export const b = 'b';\n`);
  fixture.write('src/a.ts', `export { b as a } from './lib/b.js';\n`);
  await waitForBody(port, 'b');
});

test('a symlink loop in the project (src/up -> ..) costs nothing: one restart for package.json, saves keep applying', async (t) => {
  const fixture = createFixture(t, { 'src/server.ts': SERVER, 'src/a.ts': `export const a = 'a1';\n` });
  fs.symlinkSync('..', fixture.file('src/up'));
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['src/server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'a1');
  const pid = (await get(port, '/pid')).body;
  let from = devhot.mark();
  fixture.write('package.json', JSON.stringify({ name: 'fixture', private: true, type: 'module', description: 'edited' }));
  const starting = await devhot.waitEvent(isRestart('starting'), 'the restart', { from });
  assert.equal(starting.reason, 'package.json changed');
  await devhot.waitEvent(isRestart('ready'), 'the restart ready', { from });
  assert.notEqual((await get(port, '/pid')).body, pid);
  from = devhot.mark();
  fixture.write('src/a.ts', `export const a = 'a2';\n`);
  await waitForBody(port, 'a2');
  const applied = await devhot.waitEvent(isUpdate('applied'), 'the update', { from });
  assert.deepEqual(applied.result.files, [fixture.file('src/a.ts')]);
  assert.equal(devhot.find(isRestart('starting'), 0).length, 1, devhot.describe());
  assert.ok(!devhot.events.some((e) => JSON.stringify(e).includes('src/up/')), devhot.describe());
});

test('a workspace package linked from outside the root is watched: its modules are in the graph', async (t) => {
  const fixture = createFixture(t, {
    'app/package.json': JSON.stringify({ name: 'app', private: true, type: 'module' }),
    'app/src/server.ts': SERVER.replace("import { a } from './a.js';", "import { a } from '@ws/shared';"),
    'shared/package.json': JSON.stringify({ name: '@ws/shared', type: 'module', main: 'index.ts' }),
    'shared/index.ts': `export { a } from './lib/a.js';\n`,
    'shared/lib/a.ts': `export const a = 'shared1';\n`,
  });
  fs.mkdirSync(fixture.file('app/node_modules/@ws'), { recursive: true });
  fs.symlinkSync(fixture.file('shared'), fixture.file('app/node_modules/@ws/shared'));
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.file('app'), args: ['src/server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'shared1');
  const from = devhot.mark();
  fixture.write('shared/lib/a.ts', `export const a = 'shared2';\n`);
  await waitForBody(port, 'shared2');
  const applied = await devhot.waitEvent(isUpdate('applied'), 'the update', { from });
  assert.deepEqual(applied.result.files, [fixture.file('shared/lib/a.ts')]);
});

test('a workspace file saved while the start still runs (after the app read it, before devhot watches it) is applied', async (t) => {
  // The entry listens, then, the first time only, waits at top level for GET /go (a slow start:
  // a database, a cache): the modules outside the root are reported, and watched, only when the
  // start ends. (The update re-executes the entry, which then does not wait.)
  const server = `import http from 'node:http';
import { a } from '@ws/shared';
let go;
const started = new Promise((resolve) => { go = resolve; });
http
  .createServer((req, res) => {
    if (req.url === '/go') go();
    res.end(a);
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
if (!globalThis.startedOnce) {
  globalThis.startedOnce = true;
  await started;
}
`;
  const fixture = createFixture(t, {
    'app/package.json': JSON.stringify({ name: 'app', private: true, type: 'module' }),
    'app/src/server.ts': server,
    'shared/package.json': JSON.stringify({ name: '@ws/shared', type: 'module', main: 'index.ts' }),
    'shared/index.ts': `export const a = 'shared1';\n`,
  });
  fs.mkdirSync(fixture.file('app/node_modules/@ws'), { recursive: true });
  fs.symlinkSync(fixture.file('shared'), fixture.file('app/node_modules/@ws/shared'));
  const port = await freePort();
  const devhot = runDevhot(t, { cwd: fixture.file('app'), args: ['src/server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'shared1');
  fixture.write('shared/index.ts', `export const a = 'shared2';\n`);
  await get(port, '/go');
  await waitForBody(port, 'shared2');
  const applied = await devhot.waitEvent(isUpdate('applied'), 'the update');
  assert.deepEqual(applied.result.files, [fixture.file('shared/index.ts')]);
});

/** A workspace package `@ws/shared` in `shared/`, linked into `app/node_modules`, beside `app/`. */
function workspace(t: Parameters<typeof createFixture>[0], app: Record<string, string>, shared: Record<string, string>) {
  const tree: Record<string, string> = {
    'app/package.json': JSON.stringify({ name: 'app', private: true, type: 'module' }),
    'shared/package.json': JSON.stringify({ name: '@ws/shared', type: 'module', main: 'index.ts' }),
  };
  for (const [file, text] of Object.entries(app)) tree[`app/${file}`] = text;
  for (const [file, text] of Object.entries(shared)) tree[`shared/${file}`] = text;
  const fixture = createFixture(t, tree);
  fs.mkdirSync(fixture.file('app/node_modules/@ws'), { recursive: true });
  fs.symlinkSync(fixture.file('shared'), fixture.file('app/node_modules/@ws/shared'));
  return fixture;
}

test('a workspace file first loaded by import() in a request handler is watched from then on', async (t) => {
  const fixture = workspace(
    t,
    {
      'src/server.ts': `import http from 'node:http';
http
  .createServer(async (req, res) => {
    const { lazy } = await import('@ws/shared/lazy.ts');
    res.end(lazy);
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`,
    },
    { 'index.ts': '', 'lazy.ts': `export const lazy = 'lazy1';\n` },
  );
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.file('app'), args: ['src/server.ts'], env: { PORT: String(port) } });
  const from = devhot.mark();
  await waitForBody(port, 'lazy1');
  // No update ran since the start, which did not load it: only the load itself can report it.
  fixture.write('shared/lazy.ts', `export const lazy = 'lazy2';\n`);
  const applied = await devhot.waitEvent(isUpdate('applied'), 'the update', { from });
  assert.deepEqual(applied.result.files, [fixture.file('shared/lazy.ts')]);
  await waitForBody(port, 'lazy2');
});

test('a start that fails on a syntax error in a workspace file recovers when that file is fixed', async (t) => {
  const fixture = workspace(
    t,
    { 'src/server.ts': SERVER.replace("import { a } from './a.js';", "import { a } from '@ws/shared';") },
    { 'index.ts': `export const a = ;\n` },
  );
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.file('app'), args: ['src/server.ts'], env: { PORT: String(port) } });
  await devhot.waitEvent((e) => e.event === 'error' && e.source === 'start', 'the start error');
  // The failed start left no module in the graph; the file it read is watched all the same.
  fixture.write('shared/index.ts', `export const a = 'fixed';\n`);
  await waitForBody(port, 'fixed');
});

test('a restart that fails before reading the workspace leaves its files watched: a save there retries the restart', async (t) => {
  // MODE=bad in .env: the new process fails at an import before it reads anything in shared/.
  const fixture = workspace(
    t,
    {
      '.env': 'MODE=good\n',
      'src/server.ts': `import http from 'node:http';
const { a } = await import(process.env.MODE === 'bad' ? './missing.js' : '@ws/shared');
http.createServer((req, res) => res.end(a)).listen(Number(process.env.PORT), '127.0.0.1');
`,
    },
    { 'index.ts': `export const a = 'shared1';\n` },
  );
  const port = await freePort();
  const devhot = await startDevhot(t, {
    cwd: fixture.file('app'),
    args: ['src/server.ts', '--env-file', '.env'],
    env: { PORT: String(port) },
  });
  await waitForBody(port, 'shared1');
  let from = devhot.mark();
  fixture.write('app/.env', 'MODE=bad\n');
  await devhot.waitEvent(isRestart('failed'), 'the failed restart', { from });
  // The restart is owed: a save of a module retries it. Seen only if shared/ is still watched
  // (the failed process reported no file there).
  from = devhot.mark();
  fixture.write('shared/index.ts', `export const a = 'shared2';\n`);
  await devhot.waitEvent(isRestart('starting'), 'the restart retried by the save in shared/', { from });
  await devhot.waitEvent(isRestart('failed'), 'the retry failing (.env still says bad)', { from });
  assert.equal((await get(port)).body, 'shared1', 'the previous process keeps serving');
  fixture.write('app/.env', 'MODE=good\n');
  await waitForBody(port, 'shared2');
});

test('a workspace package removed and brought back (a branch switch) is watched again', async (t) => {
  const fixture = workspace(
    t,
    { 'src/server.ts': SERVER.replace("import { a } from './a.js';", "import { a } from '@ws/shared';") },
    { 'index.ts': `export const a = 'shared1';\n` },
  );
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.file('app'), args: ['src/server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'shared1');
  const from = devhot.mark();
  fs.rmSync(fixture.file('shared'), { recursive: true });
  await devhot.waitEvent(isUpdate('error'), 'the error for the missing package', { from });
  assert.equal((await get(port)).body, 'shared1', 'the last good code keeps serving');
  // Back, with other content, in a new directory of the same name: seen, and watched from then on.
  fixture.write('shared/package.json', JSON.stringify({ name: '@ws/shared', type: 'module', main: 'index.ts' }));
  fixture.write('shared/index.ts', `export const a = 'shared2';\n`);
  await waitForBody(port, 'shared2');
  fixture.write('shared/index.ts', `export const a = 'shared3';\n`);
  await waitForBody(port, 'shared3');
});

test("devhot's own output redirected into the project (--json > events.jsonl 2> dev.log) is never a save", async (t) => {
  const fixture = createFixture(t, { 'src/server.ts': SERVER, 'src/a.ts': `export const a = 'a1';\n` });
  const port = await freePort();
  const out = fs.openSync(fixture.file('events.jsonl'), 'w');
  const err = fs.openSync(fixture.file('dev.log'), 'w');
  const env = cliEnv({ PORT: String(port) });
  const child = spawn(process.execPath, [BIN, 'src/server.ts', '--json'], {
    cwd: fixture.root,
    env,
    stdio: ['ignore', out, err],
    detached: true,
  });
  fs.closeSync(out);
  fs.closeSync(err);
  onCleanup(t, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  });
  const events = () =>
    fixture
      .read('events.jsonl')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event: string; result?: { status: string; files: string[] } });
  await waitForBody(port, 'a1');
  // A failing save prints an error (into events.jsonl); a good one recovers.
  fixture.write('src/a.ts', `export const a = ;\n`);
  await poll(() => events().some((e) => e.event === 'update' && e.result?.status === 'error'), 'the error in events.jsonl');
  fixture.write('src/a.ts', `export const a = 'a2';\n`);
  await waitForBody(port, 'a2');
  fixture.write('src/a.ts', `export const a = 'a3';\n`);
  await waitForBody(port, 'a3');
  await poll(() => events().filter((e) => e.result?.status === 'applied').length === 2, 'both updates in events.jsonl');
  // Each save is one update, or two when its truncate and its write were seen apart (the second
  // finds nothing new): none of them is about the files devhot writes.
  const updates = events().filter((e) => e.event === 'update');
  const files = new Set(updates.flatMap((e) => e.result!.files.map((f) => path.relative(fixture.root, f))));
  assert.deepEqual([...files], ['src/a.ts'], JSON.stringify(updates));
  assert.ok(updates.length <= 6, JSON.stringify(updates));
});
