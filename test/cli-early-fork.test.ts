/**
 * The first app process is forked before devhot has read its configuration (supervisor/app-fork.ts)
 * and gets its environment later: user code must see what `node --env-file` would give it, an env
 * file that changes what Node reads at boot must reach Node's boot, and an early process devhot
 * does not take must not outlive it.
 */
import assert from 'node:assert/strict';
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { cliEnv, createFixture, freePort, onCleanup, processesIn, runToExit, startDevhot, waitForBody } from './helpers/cli.js';
import { poll } from './helpers/poll.js';

/** Reports the environment user code sees, the process title (a NODE_OPTIONS flag sets it), and when its process started. */
const REPORT = `import http from 'node:http';
const env = Object.fromEntries(['FROM_FILE', 'NODE_ENV', 'FROM_SHELL', 'FROM_BOTH', 'DEVHOT_APP'].map((k) => [k, process.env[k] ?? null]));
const report = { env, title: process.title, startedAt: Date.now() - process.uptime() * 1000 };
http.createServer((_req, res) => res.end(JSON.stringify(report))).listen(Number(process.env.PORT), '127.0.0.1');
`;

/**
 * A configuration file (run by devhot's command, before it forks an app the usual way) that notes
 * when it ran, and whether a child of the command already waits for its configuration then.
 */
const CONFIG = `import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
const waiting = readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).some((p) => {
  try {
    const ppid = readFileSync('/proc/' + p + '/stat', 'utf8').split(') ')[1].split(' ')[1];
    return ppid === String(process.pid) && readFileSync('/proc/' + p + '/environ', 'utf8').split('\\0').includes('DEVHOT_APP=wait-for-config');
  } catch {
    return false;
  }
});
writeFileSync('config-ran', JSON.stringify({ at: Date.now(), waiting }));
export default {};
`;

const configRan = (root: string): { at: number; waiting: boolean } => JSON.parse(fs.readFileSync(path.join(root, 'config-ran'), 'utf8'));

type Report = { env: Record<string, string | null>; title: string; startedAt: number };

async function underNode(t: TestContext, root: string, env: Record<string, string>): Promise<Report> {
  const port = await freePort();
  const node = spawn(process.execPath, ['--env-file=.env', 'server.mjs'], {
    cwd: root,
    env: cliEnv({ ...env, PORT: String(port) }),
    stdio: 'ignore',
  });
  onCleanup(t, () => node.kill('SIGKILL'));
  return JSON.parse(await waitForBody(port, (b) => b.startsWith('{'))) as Report;
}

test('the first app, forked before the configuration is read, sees the environment node --env-file gives', async (t) => {
  const fixture = createFixture(t, {
    'server.mjs': REPORT,
    '.env': 'FROM_FILE=file value\nNODE_ENV=production\nFROM_BOTH=file value\n',
    'devhot.config.mjs': CONFIG,
  });
  const shell = { FROM_SHELL: 'shell value', FROM_BOTH: 'shell value' };
  const node = await underNode(t, fixture.root, shell);

  const port = await freePort();
  await startDevhot(t, { cwd: fixture.root, args: ['server.mjs', '--env-file', '.env'], env: { ...shell, PORT: String(port) } });
  const devhot = JSON.parse(await waitForBody(port, (b) => b.startsWith('{'))) as Report;
  assert.deepEqual(devhot.env, node.env);
  // The environment wins over the file, as node --env-file has it.
  assert.deepEqual(devhot.env, {
    FROM_FILE: 'file value',
    NODE_ENV: 'production',
    FROM_SHELL: 'shell value',
    FROM_BOTH: 'shell value',
    DEVHOT_APP: null,
  });
  // Forked early: it waited for its configuration while devhot ran the configuration file.
  const { at, waiting } = configRan(fixture.root);
  assert.equal(waiting, true, 'an app process waits while the configuration file runs');
  // And that process is the one serving: started before the configuration ran, so taken, not
  // replaced by a fork made after (which a second copy of app-fork.js in the supervisor's bundle,
  // holding no early process, would make: scripts/bundle.mjs).
  assert.ok(devhot.startedAt < at, `app started at ${devhot.startedAt}, the configuration ran at ${at}`);
});

test('an env file that sets NODE_OPTIONS: the app is forked with it, as node --env-file boots with it', async (t) => {
  const fixture = createFixture(t, {
    'server.mjs': REPORT,
    '.env': 'NODE_OPTIONS=--title=early-fork-test\nFROM_FILE=x\n',
    'devhot.config.mjs': CONFIG,
  });
  const node = await underNode(t, fixture.root, {});
  assert.equal(node.title, 'early-fork-test', "node applies the file's NODE_OPTIONS");

  const port = await freePort();
  await startDevhot(t, { cwd: fixture.root, args: ['server.mjs', '--env-file', '.env'], env: { PORT: String(port) } });
  const devhot = JSON.parse(await waitForBody(port, (b) => b.startsWith('{'))) as Report;
  assert.equal(devhot.title, node.title);
  // Not the early process (it was there, and was stopped): this one was forked after the configuration ran.
  const { at, waiting } = configRan(fixture.root);
  assert.equal(waiting, true);
  assert.ok(devhot.startedAt > at, `app started at ${devhot.startedAt}, the configuration ran at ${at}`);
});

test('devhot stops on a bad configuration: the early app process does not outlive it', async (t) => {
  const fixture = createFixture(t, {
    'server.mjs': REPORT,
    'devhot.config.mjs': `export default { delay: 'soon' };\n`,
  });
  const run = await runToExit({ cwd: fixture.root, args: ['server.mjs'] });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr + run.stdout, /delay/);
  await poll(() => processesIn(fixture.root).length === 0, 'no process left in the fixture');
});

test('an app process that dies before it reads its configuration: devhot says how it ended, as node would, and keeps running', async (t) => {
  // A preload (NODE_OPTIONS reaches the app) that ends every forked process at once: the early
  // process dies while devhot hands it its configuration. Writing it took devhot down with an
  // unhandled EPIPE.
  const fixture = createFixture(t, {
    'server.mjs': REPORT,
    'pre.cjs': `if (typeof process.send === 'function') process.exit(7);\n`,
  });
  const pre = path.join(fixture.root, 'pre.cjs');
  // Node, with the same preload in a forked process: how that process ends.
  const node = await new Promise<number | null>((resolve) => {
    const child = fork('server.mjs', [], { cwd: fixture.root, env: cliEnv(), execArgv: ['--require', pre], stdio: 'ignore' });
    child.once('exit', (code) => resolve(code));
  });
  assert.equal(node, 7);

  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.mjs'], env: { NODE_OPTIONS: `--require ${pre}` } });
  const exit = await devhot.waitEvent((e) => e.event === 'exit', 'the app exit event');
  assert.equal(exit.code, node, devhot.describe());
  assert.equal(devhot.find((e) => e.event === 'start')[0]?.app, 'exited');
  // Still watching, not crashed: a save starts the app again, which ends the same way.
  const from = devhot.mark();
  fs.appendFileSync(path.join(fixture.root, 'server.mjs'), '// saved\n');
  const failed = await devhot.waitEvent((e) => e.event === 'restart' && e.phase === 'failed', 'the next start, after a save, to fail too', {
    from,
  });
  assert.match(failed.reason, new RegExp(`exited \\(code ${node}\\) while starting`), devhot.describe());
  assert.equal(devhot.exitCode(), undefined, devhot.describe());
  assert.doesNotMatch(devhot.stderr(), /Unhandled|EPIPE/);
});

test('a command line that runs no app forks none', async (t) => {
  // A preload (NODE_OPTIONS reaches devhot's command and what it forks) that notes every fork():
  // an app process forked and stopped at once leaves nothing else to see.
  const fixture = createFixture(t, {
    'server.mjs': REPORT,
    'note.cjs': `const cp = require('node:child_process');
const fork = cp.fork;
cp.fork = function (...args) {
  require('node:fs').appendFileSync(${JSON.stringify('forked')}, String(args[0]) + '\\n');
  return fork.apply(this, args);
};
`,
  });
  const env = { NODE_OPTIONS: `--require ${path.join(fixture.root, 'note.cjs')}` };
  const forked = path.join(fixture.root, 'forked');
  for (const args of [['status'], ['events'], ['reload'], ['restart'], ['--help'], ['--version'], ['-h']]) {
    const run = await runToExit({ cwd: fixture.root, args, env, json: false });
    assert.notEqual(run.code, null, `devhot ${args.join(' ')} exited`);
    assert.equal(
      fs.existsSync(forked),
      false,
      `devhot ${args.join(' ')} forked ${fs.existsSync(forked) ? fs.readFileSync(forked, 'utf8') : ''}`,
    );
  }
  // A flag the command does not know: the process forked for it is stopped with the command.
  const bad = await runToExit({ cwd: fixture.root, args: ['server.mjs', '--no-such-flag'], env });
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /Unknown option `--no-such-flag`/);
  assert.match(fs.readFileSync(forked, 'utf8'), /boot\.js/, 'the preload notes the app process forked for it');
  await poll(() => processesIn(fixture.root).length === 0, 'no process left in the fixture');
});
