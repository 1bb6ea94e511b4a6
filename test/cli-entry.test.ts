/**
 * Every entry form that node and tsx accept (issue #10.5), black-box: the same fixture runs
 * under `tsx` and under `devhot`, and both run the same file. The entry prints its own path
 * (under tsx, which runs it once) or answers it over HTTP (under devhot, where it listens).
 * When nothing matches, devhot exits 1 with DEVHOT_ERR_ENTRY_NOT_FOUND, what it tried and a fix.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { createFixture, freePort, REPO_ROOT, runToExit, startDevhot, waitForBody, type Fixture } from './helpers/cli.js';

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

/** An entry that says which file it is: printed once without PORT, served with it. */
const WHO = `import http from 'node:http';
import path from 'node:path';
const name: string = path.relative(process.cwd(), import.meta.filename);
if (process.env.PORT) http.createServer((_req, res) => res.end(name)).listen(Number(process.env.PORT), '127.0.0.1');
else console.log(name);
`;

/** Run tsx on the fixture as a user would; its exit code and what it printed. */
function runTsx(fixture: Fixture, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.PORT;
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, args, { cwd: fixture.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tsx ${args.join(' ')} did not exit within 20 s\n${stderr}`));
    }, 20_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: stdout.trim(), stderr });
    });
  });
}

/** tsx runs `tsxArgs` as `file`, and devhot given `devhotArgs` runs the same file. */
async function sameAsTsx(t: TestContext, fixture: Fixture, devhotArgs: string[], tsxArgs: string[], file: string): Promise<void> {
  const tsx = await runTsx(fixture, tsxArgs);
  assert.equal(tsx.code, 0, `tsx ${tsxArgs.join(' ')}: ${tsx.stderr}`);
  assert.equal(tsx.stdout, file, `tsx ${tsxArgs.join(' ')} ran another file`);
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: devhotArgs, env: { PORT: String(port) } });
  assert.equal(devhot.events.find((e) => e.event === 'start')?.entry, fixture.file(file), devhot.describe());
  assert.equal(await waitForBody(port, (b) => b.length > 0), file);
}

test('a directory: `devhot src` runs src/index.ts, as `tsx src` does', async (t) => {
  const fixture = createFixture(t, { 'src/index.ts': WHO });
  await sameAsTsx(t, fixture, ['src'], ['src'], path.join('src', 'index.ts'));
});

test('an extensionless path: `devhot src/server` runs src/server.ts, as `tsx src/server` does', async (t) => {
  const fixture = createFixture(t, { 'src/server.ts': WHO });
  await sameAsTsx(t, fixture, ['src/server'], ['src/server'], path.join('src', 'server.ts'));
});

test('an extensionless path with both server.js and server.ts: the .js, as tsx picks', async (t) => {
  const fixture = createFixture(t, { 'src/server.ts': WHO, 'src/server.js': WHO.replace(': string', '') });
  await sameAsTsx(t, fixture, ['src/server'], ['src/server'], path.join('src', 'server.js'));
});

test('a .js name for a .ts file: `devhot src/server.js` runs src/server.ts, as tsx does', async (t) => {
  const fixture = createFixture(t, { 'src/server.ts': WHO });
  await sameAsTsx(t, fixture, ['src/server.js'], ['src/server.js'], path.join('src', 'server.ts'));
});

test('package.json "main" names src/server.js and only src/server.ts exists: devhot runs it, as tsx runs that path', async (t) => {
  const fixture = createFixture(t, {
    'package.json': JSON.stringify({ name: 'fixture', type: 'module', main: 'src/server.js' }),
    'src/server.ts': WHO,
  });
  // tsx has no "run package.json main" of its own: it runs the path main names. (`tsx .` goes
  // through Node's own main lookup, which knows no .ts twin, and fails on Node 20.)
  await sameAsTsx(t, fixture, [], ['src/server.js'], path.join('src', 'server.ts'));
});

test('a directory whose package.json "main" names the entry', async (t) => {
  const fixture = createFixture(t, {
    'api/package.json': JSON.stringify({ name: 'api', type: 'module', main: 'server.ts' }),
    'api/server.ts': WHO,
    'api/index.ts': 'throw new Error("index.ts is not the main");\n',
  });
  await sameAsTsx(t, fixture, ['api'], ['api'], path.join('api', 'server.ts'));
});

/** devhot exits 1 at once, naming what it tried, with a fix and the code; tsx fails too. */
async function notFound(fixture: Fixture, devhotArgs: string[], tsxArgs: string[] | undefined, tried: RegExp): Promise<void> {
  if (tsxArgs) {
    const tsx = await runTsx(fixture, tsxArgs);
    assert.notEqual(tsx.code, 0, `tsx ${tsxArgs.join(' ')} ran: ${tsx.stdout}`);
  }
  const run = await runToExit({ cwd: fixture.root, args: devhotArgs });
  assert.equal(run.code, 1, `devhot ${devhotArgs.join(' ')}: ${run.stdout}\n${run.stderr}`);
  assert.match(run.stderr, tried);
  assert.match(run.stderr, /^fix: .+/m);
  assert.match(run.stderr, /DEVHOT_ERR_ENTRY_NOT_FOUND/);
  assert.equal(run.stdout, '', 'nothing started');
}

test('nothing matches: exit 1 with DEVHOT_ERR_ENTRY_NOT_FOUND, the paths tried and a fix', async (t) => {
  const fixture = createFixture(t, { 'src/server.ts': WHO, 'lib/util.ts': 'export const x = 1;\n' });
  await notFound(fixture, ['src/serve'], ['src/serve'], /Entry src\/serve not found; tried src\/serve\{,\.js,\.ts,.*\}/);
  // A directory without an index: before, devhot started and waited with nothing listening.
  await notFound(fixture, ['lib'], ['lib'], /Entry lib not found; tried .*lib\/index\{,\.js,\.ts/);
  await notFound(fixture, ['src/nope.js'], ['src/nope.js'], /tried src\/nope\{\.js,\.ts,\.tsx\}/);
});

test('package.json "main" that matches nothing: exit 1 naming the field', async (t) => {
  const fixture = createFixture(t, {
    'package.json': JSON.stringify({ name: 'fixture', type: 'module', main: 'dist/server.js' }),
    'src/server.ts': WHO,
  });
  await notFound(fixture, [], undefined, /package\.json main \(dist\/server\.js\) not found; tried dist\/server\{\.js,\.ts,\.tsx\}/);
});
