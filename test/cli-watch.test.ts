/**
 * What a save is: --delay gathers saves into one update, --exclude keeps files out, and the
 * files that cannot be applied in-process (package.json, tsconfig.json) restart the app.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFixture, freePort, get, isRestart, isUpdate, startDevhot, waitForBody } from './helpers/cli.js';

const SERVER = `import http from 'node:http';
import { a } from './a.js';
import { b } from './b.js';
http
  .createServer((req, res) => {
    res.end(req.url === '/pid' ? String(process.pid) : a + b);
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;
const tree = () => ({ 'server.ts': SERVER, 'a.ts': `export const a = 'a1';\n`, 'b.ts': `export const b = 'b1';\n` });

test('--delay: saves within the delay are applied as one update', async (t) => {
  const fixture = createFixture(t, tree());
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', '--delay', '400'], env: { PORT: String(port) } });
  await waitForBody(port, 'a1b1');
  const from = devhot.mark();
  fixture.write('a.ts', `export const a = 'a2';\n`);
  await new Promise((r) => setTimeout(r, 100)); // a second save, well inside the delay
  fixture.write('b.ts', `export const b = 'b2';\n`);
  await waitForBody(port, 'a2b2');
  // The response can change (live bindings) a moment before the update's event is printed.
  await devhot.waitEvent(isUpdate('applied'), 'the update', { from });
  const applied = devhot.find(isUpdate('applied'), from);
  assert.equal(applied.length, 1, devhot.describe());
  assert.deepEqual([...applied[0]!.result.files].sort(), [fixture.file('a.ts'), fixture.file('b.ts')]);
});

test('--exclude: files under an excluded glob are not watched', async (t) => {
  const fixture = createFixture(t, tree());
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', '--exclude', 'generated/**'], env: { PORT: String(port) } });
  await waitForBody(port, 'a1b1');
  const from = devhot.mark();
  fixture.write('generated/out.ts', `export const x = 1;\n`);
  fixture.write('generated/deep/more.json', `{}`);
  await new Promise((r) => setTimeout(r, 100));
  fixture.write('a.ts', `export const a = 'a2';\n`);
  await waitForBody(port, 'a2b1');
  await devhot.waitEvent(isUpdate('applied'), 'the update of a.ts', { from });
  const mentioned = devhot.find((e) => e.event === 'update', from).flatMap((e) => e.result.files as string[]);
  assert.deepEqual(
    mentioned.filter((f) => f.includes('generated')),
    [],
    devhot.describe(),
  );
});

for (const file of ['package.json', 'tsconfig.json']) {
  test(`a ${file} change restarts the app`, async (t) => {
    const fixture = createFixture(t, { ...tree(), 'tsconfig.json': '{}\n' });
    const port = await freePort();
    const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
    await waitForBody(port, 'a1b1');
    const pid = (await get(port, '/pid')).body;
    const from = devhot.mark();
    const json = JSON.parse(fixture.read(file)) as Record<string, unknown>;
    fixture.write(file, JSON.stringify({ ...json, description: 'edited' }, null, 2));
    const starting = await devhot.waitEvent(isRestart('starting'), 'restart starting', { from });
    assert.equal(starting.reason, `${file} changed`);
    await devhot.waitEvent(isRestart('ready'), 'restart ready', { from });
    assert.notEqual((await get(port, '/pid')).body, pid);
    assert.equal((await get(port)).body, 'a1b1');
  });
}

test('restart triggers are the config files the runner read: an extended base restarts, an unrelated tsconfig does not', async (t) => {
  const fixture = createFixture(t, {
    ...tree(),
    'tsconfig.json': JSON.stringify({ extends: './configs/base.json' }),
    'configs/base.json': JSON.stringify({ compilerOptions: { target: 'es2022' } }),
    'tsconfig.build.json': JSON.stringify({ compilerOptions: { outDir: 'dist' } }),
  });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'a1b1');
  const pid = (await get(port, '/pid')).body;

  // Not read by the runner: a save of it is nothing to apply, and the same process keeps serving.
  let from = devhot.mark();
  fixture.write('tsconfig.build.json', JSON.stringify({ compilerOptions: { outDir: 'out' } }));
  fixture.write('a.ts', `export const a = 'a2';\n`);
  await waitForBody(port, 'a2b1');
  await devhot.waitEvent(isUpdate('applied'), 'the update of a.ts', { from });
  assert.equal(devhot.find(isRestart('starting'), from).length, 0, devhot.describe());
  assert.equal((await get(port, '/pid')).body, pid);

  // The base that tsconfig.json extends is part of the chain the runner read.
  from = devhot.mark();
  fixture.write('configs/base.json', JSON.stringify({ compilerOptions: { target: 'es2023' } }));
  const starting = await devhot.waitEvent(isRestart('starting'), 'restart starting', { from });
  assert.equal(starting.reason, 'configs/base.json changed');
  await devhot.waitEvent(isRestart('ready'), 'restart ready', { from });
  assert.notEqual((await get(port, '/pid')).body, pid);
});
