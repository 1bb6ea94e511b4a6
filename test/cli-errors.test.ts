/**
 * Bad input and errors in the app: what the user sees, and that devhot survives what it should.
 * Start-up mistakes exit 1 with a message naming the file/flag, a fix line and a code; the entry
 * comes from package.json when omitted; a busy port and an error thrown in a timer are reported
 * as events while devhot (and the app) keep running.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import {
  REPO_ROOT,
  cliEnv,
  createFixture,
  freePort,
  get,
  isUpdate,
  occupy,
  processesIn,
  runToExit,
  startDevhot,
  waitForBody,
} from './helpers/cli.js';
import { poll } from './helpers/poll.js';

const SERVER = `import http from 'node:http';
http
  .createServer((_req, res) => {
    res.end('up ' + process.pid);
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;

test('a missing entry: exit 1, the message names the file, with a fix line and the error code', async (t) => {
  const fixture = createFixture(t, { 'server.ts': SERVER });
  const run = await runToExit({ cwd: fixture.root, args: ['src/nope.ts'] });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /src\/nope\.ts/);
  assert.match(run.stderr, /^fix: .+/m);
  assert.match(run.stderr, /DEVHOT_ERR_ENTRY_NOT_FOUND/);
  assert.equal(run.stdout, '');
});

test('no entry given and none in package.json: exit 1 with a fix naming package.json', async (t) => {
  const fixture = createFixture(t, { 'server.ts': SERVER });
  const run = await runToExit({ cwd: fixture.root, args: [] });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /^fix: .*package\.json/m);
  assert.match(run.stderr, /DEVHOT_ERR_ENTRY_NOT_FOUND/);
});

test('an unknown flag: exit 1, the message names the flag as typed', async (t) => {
  const fixture = createFixture(t, { 'server.ts': SERVER });
  const run = await runToExit({ cwd: fixture.root, args: ['server.ts', '--env-fle', '.env'] });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /--env-fle\b/);
  assert.match(run.stderr, /DEVHOT_ERR_BAD_OPTION/);
});

test('bad flag values: exit 1 naming the flag', async (t) => {
  const fixture = createFixture(t, { 'server.ts': SERVER });
  for (const [args, flag] of [
    [['--delay', 'soon'], '--delay'],
    [['--kill-timeout=-5'], '--kill-timeout'],
    [['--signal', 'SIGNOPE'], '--signal'],
    // Not `--env-file missing.env`: Node itself scans every argument for --env-file and exits 9
    // on a missing file before devhot runs (nodejs/node#54232); devhot cannot report that one.
  ] as const) {
    const run = await runToExit({ cwd: fixture.root, args: ['server.ts', ...args] });
    assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
    assert.ok(run.stderr.includes(flag), `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /DEVHOT_ERR_BAD_OPTION/);
  }
});

test('a busy channel port: exit 1, the message names the port, with a fix line and the error code, and no stack', async (t) => {
  const fixture = createFixture(t, { 'server.ts': SERVER });
  const port = await freePort();
  await occupy(t, port);
  const run = await runToExit({
    cwd: fixture.root,
    args: ['server.ts', '--channel-port', String(port)],
    env: { PORT: String(await freePort()) },
  });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, new RegExp(`channel cannot listen on 127\\.0\\.0\\.1:${port}`));
  assert.match(run.stderr, /^fix: .+/m);
  assert.match(run.stderr, /DEVHOT_ERR_PORT_IN_USE/);
  // The command's own report (src/cli.ts knows the supervisor's error class), not a stack trace.
  assert.doesNotMatch(run.stderr, /^\s+at /m);
  // And the app process forked early for it does not outlive the command.
  await poll(() => processesIn(fixture.root).length === 0, 'no process left in the fixture');
});

test('an env file (from the config file) that does not exist: exit 1 naming it', async (t) => {
  const fixture = createFixture(t, {
    'server.ts': SERVER,
    'devhot.config.ts': `export default { envFiles: ['missing.env'] };\n`,
  });
  const run = await runToExit({ cwd: fixture.root, args: ['server.ts'] });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /--env-file missing\.env not found/);
  assert.match(run.stderr, /DEVHOT_ERR_BAD_OPTION/);
});

test('a config file with a syntax error: exit 1 naming the file and the line', async (t) => {
  const fixture = createFixture(t, {
    'server.ts': SERVER,
    'devhot.config.ts': `export default {\n  delay: 10,,\n};\n`,
  });
  const run = await runToExit({ cwd: fixture.root, args: ['server.ts'] });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /devhot\.config\.ts:2:/);
  assert.match(run.stderr, /DEVHOT_ERR_CONFIG/);
});

test('devhot.config.ts as the README writes it (defineConfig from the devhot package) sets entry, args and env files', async (t) => {
  const fixture = createFixture(t, {
    'app.ts': `import http from 'node:http';
http.createServer((_req, res) => res.end([process.argv.slice(2).join(','), process.env.FROM_ENV_FILE].join(' ')))
  .listen(Number(process.env.PORT), '127.0.0.1');
`,
    'config.env': 'FROM_ENV_FILE=yes\n',
    'devhot.config.ts': `import { defineConfig } from 'devhot';
export default defineConfig({ entry: 'app.ts', args: ['--from-config'], envFiles: ['config.env'] });
`,
  });
  // devhot installed in the project, as users have it.
  fs.mkdirSync(path.join(fixture.root, 'node_modules'), { recursive: true });
  fs.symlinkSync(REPO_ROOT, path.join(fixture.root, 'node_modules', 'devhot'), 'junction');
  const port = await freePort();
  await startDevhot(t, { cwd: fixture.root, args: [], env: { PORT: String(port) } });
  assert.equal(await waitForBody(port, (b) => b.length > 0), '--from-config yes');
});

test('--config naming a file that does not exist: exit 1 naming it', async (t) => {
  const fixture = createFixture(t, { 'server.ts': SERVER });
  const run = await runToExit({ cwd: fixture.root, args: ['server.ts', '-c', 'nope.config.ts'] });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /nope\.config\.ts/);
  assert.match(run.stderr, /DEVHOT_ERR_CONFIG/);
});

test('the entry comes from package.json "main" when omitted', async (t) => {
  const fixture = createFixture(t, {
    'package.json': JSON.stringify({ name: 'fixture', type: 'module', main: 'src/app.ts' }),
    'src/app.ts': SERVER,
  });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: [], env: { PORT: String(port) } });
  assert.equal(devhot.events.find((e) => e.event === 'start')?.entry, fixture.file('src/app.ts'));
  await waitForBody(port, (b) => b.startsWith('up '));
});

test('package.json "devhot.entry" wins over "main"', async (t) => {
  const fixture = createFixture(t, {
    'package.json': JSON.stringify({ name: 'fixture', type: 'module', main: 'dist/index.js', devhot: { entry: 'src/server.ts' } }),
    'src/server.ts': SERVER,
  });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: [], env: { PORT: String(port) } });
  assert.equal(devhot.events.find((e) => e.event === 'start')?.entry, fixture.file('src/server.ts'));
  await waitForBody(port, (b) => b.startsWith('up '));
});

test('a busy port: an error event names the port (DEVHOT_ERR_PORT_IN_USE); devhot keeps running and binds after the next save', async (t) => {
  const fixture = createFixture(t, { 'server.ts': SERVER });
  const port = await freePort();
  const blocker = await occupy(t, port);
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  const error = await devhot.waitEvent((e) => e.event === 'error' && e.source === 'listen', 'the listen error');
  assert.equal(error.error.code, 'DEVHOT_ERR_PORT_IN_USE');
  assert.match(error.error.message, new RegExp(`\\b${port}\\b`));
  assert.match(error.error.fix, new RegExp(`\\b${port}\\b`));
  assert.deepEqual(devhot.events.find((e) => e.event === 'start')?.urls, []);

  // The port comes free; the next save listens again, and devhot never went down.
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  const from = devhot.mark();
  fixture.write('server.ts', SERVER.replace("'up '", "'up again '"));
  await devhot.waitEvent(isUpdate('applied'), 'the update', { from });
  await waitForBody(port, (b) => b.startsWith('up again '));
  assert.equal(devhot.exitCode(), undefined);
  assert.equal(devhot.find((e) => e.event === 'exit').length, 0, devhot.describe());
});

test('an error thrown in a timer is reported (source "uncaught") with its location, and the server keeps serving', async (t) => {
  const source = `import http from 'node:http';
http
  .createServer((req, res) => {
    if (req.url === '/boom') {
      setTimeout(() => {
        throw new Error('kaboom from a timer');
      }, 1);
    }
    if (req.url === '/reject') void Promise.reject(new Error('a rejection nobody handled'));
    res.end('up ' + process.pid);
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;
  const fixture = createFixture(t, { 'server.ts': source });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  const before = await waitForBody(port, (b) => b.startsWith('up '));

  let from = devhot.mark();
  await get(port, '/boom');
  const event = await devhot.waitEvent((e) => e.event === 'error' && e.source === 'uncaught', 'the uncaught error', { from });
  assert.match(event.error.message, /kaboom from a timer/);
  assert.equal(event.error.file, fixture.file('server.ts'));
  assert.equal(event.error.line, 6, 'the line of the throw in the TypeScript source');
  assert.match(event.error.frame, /> 6 \| +throw new Error/);
  for (let i = 0; i < 3; i++) assert.equal((await get(port)).body, before, 'the same process keeps serving');

  from = devhot.mark();
  await get(port, '/reject');
  const rejection = await devhot.waitEvent((e) => e.event === 'error' && e.source === 'uncaught', 'the unhandled rejection', { from });
  assert.match(rejection.error.message, /a rejection nobody handled/);
  assert.equal((await get(port)).body, before);
  assert.equal(devhot.find((e) => e.event === 'exit' || e.event === 'restart').length, 0, devhot.describe());
});

test('a missing import: the error names what node names and points at the import with a code frame, not at devhot; at the start and in a save', async (t) => {
  const server = (imports: string) =>
    `import http from 'node:http';\n${imports}http.createServer((_q, s) => s.end(value)).listen(Number(process.env.PORT), '127.0.0.1');\n`;
  const fixture = createFixture(t, {
    'package.json': '{ "type": "module" }\n',
    'server.ts': server(`import { value } from './gone.js';\n`),
    // The same program as JavaScript, for node.
    'server.mjs': server(`import { value } from './gone.js';\n`),
  });
  const node = spawnSync(process.execPath, ['server.mjs'], { cwd: fixture.root, encoding: 'utf8', env: cliEnv() });
  assert.match(node.stderr, /ERR_MODULE_NOT_FOUND/);
  assert.match(node.stderr, /Cannot find module '.*gone\.js' imported from .*server\.mjs/);

  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  const atStart = await devhot.waitEvent((e) => e.event === 'error' && e.source === 'start', 'the start error');
  const own = path.join(REPO_ROOT, 'dist');
  const pointsAtImport = (error: Record<string, string | number>, line: number, text: string): void => {
    assert.equal(error.code, 'DEVHOT_ERR_RESOLVE');
    // What node's message names: the specifier and the importer.
    assert.ok(
      String(error.message).startsWith(`Cannot find module '${text.split("'")[1]}' imported from server.ts`),
      String(error.message),
    );
    assert.equal(error.file, fixture.file('server.ts'));
    assert.equal(error.line, line);
    assert.ok(String(error.frame).includes(`> ${line} | ${text}`), String(error.frame));
    assert.ok(!String(error.stack ?? '').includes(own), `devhot's own frames: ${error.stack}`);
    assert.doesNotMatch(String(error.stack ?? ''), /node:internal/);
  };
  pointsAtImport(atStart.error, 2, `import { value } from './gone.js';`);

  // The file comes: the next save starts the app.
  let from = devhot.mark();
  fixture.write('gone.ts', `export const value = 'here';\n`);
  fixture.write('server.ts', server(`import { value } from './gone.ts';\n`));
  await devhot.waitEvent(isUpdate('applied'), 'the start after the save', { from });
  await waitForBody(port, (b) => b === 'here');

  // A save that imports a file that is not there: the previous version keeps serving.
  from = devhot.mark();
  fixture.write('server.ts', server(`import { value } from './gone.ts';\nimport { other } from './absent.js';\nconsole.log(other);\n`));
  const inSave = await devhot.waitEvent(isUpdate('error'), 'the failed update', { from });
  pointsAtImport(inSave.result.error, 3, `import { other } from './absent.js';`);
  assert.equal((await get(port)).body, 'here');
});
