/**
 * Oxc in a thread of its own at a start (oxc-thread.ts): it answers what this thread would
 * compile, hands back what it has not answered when it ends, and a start of many modules uses it
 * and ends it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { OxcThread } from '../src/runner/oxc-thread.js';
import { oxcOptionsFor, transformWithOxc } from '../src/runner/oxc-transform.js';
import { poll } from './helpers/poll.js';
import { REPO_ROOT, createProject, expectStatus, namespaceOf, projectWithRunner } from './helpers/project.js';

const OPTIONS = oxcOptionsFor({ compilerOptions: { experimentalDecorators: true } })!;

const FILES: Array<[string, string]> = [
  ['/p/enum.ts', `export enum E { A = 1, B }\nexport const x: number = E.B;\n`],
  ['/p/class.ts', `export class C { constructor(private readonly v: string) {}\n  get(): string { return this.v; } }\n`],
  // Oxc's output would import a helper: esbuild compiles it.
  ['/p/decorated.ts', `const d = (t: unknown) => t;\n@d export class D {}\n`],
  // An error: esbuild compiles it and reports it.
  ['/p/broken.ts', `export const = 1;\n`],
  ['/p/empty.ts', `import {} from './x.ts';\nexport {};\n`],
];

test('the thread answers what this thread would compile, helpers and errors included', async (t) => {
  const thread = new OxcThread(OPTIONS);
  t.after(() => thread.close());
  // Until the thread is up, files compile here: ask until it has answered some.
  await poll(
    async () => {
      for (const [file, source] of FILES) assert.deepEqual(await thread.transform(file, source), transformWithOxc(file, source, OPTIONS));
      return thread.compiled >= FILES.length;
    },
    'the thread to compile the files',
    10_000,
    10,
  );
  assert.equal(transformWithOxc(...FILES[2]!, OPTIONS), undefined);
  assert.equal(transformWithOxc(...FILES[3]!, OPTIONS), undefined);
});

test('files the thread has not answered when it ends compile on this thread', async () => {
  const thread = new OxcThread(OPTIONS);
  await poll(
    async () => {
      await thread.transform(...FILES[0]!);
      return thread.compiled > 0;
    },
    'the thread to be up',
    10_000,
    10,
  );
  const pending = Array.from({ length: 50 }, (_, i) => thread.transform(`/p/m${i}.ts`, `export const v${i}: number = ${i};\n`));
  thread.close();
  const outs = await Promise.all(pending);
  for (const [i, out] of outs.entries())
    assert.deepEqual(out, transformWithOxc(`/p/m${i}.ts`, `export const v${i}: number = ${i};\n`, OPTIONS));
  // Ended: everything compiles here from now on.
  const before = thread.compiled;
  assert.deepEqual(await thread.transform(...FILES[1]!), transformWithOxc(...FILES[1]!, OPTIONS));
  assert.equal(thread.compiled, before);
});

test('a start of many modules compiles some in the thread; saves compile here', async (t) => {
  // 40 × 40 leaves under 40 modules: 1,641 files, a start long enough for the thread to come up
  // (a start of 421 such files ended before it did).
  const tree: Record<string, string> = {};
  const ids = Array.from({ length: 40 }, (_, i) => i);
  for (const i of ids) {
    for (const j of ids) tree[`m${i}/l${j}.ts`] = `export const v: number = ${i * 40 + j};\n`;
    tree[`m${i}/index.ts`] =
      `${ids.map((j) => `import { v as v${j} } from './l${j}.ts';`).join('\n')}\nexport const sum: number = ${ids.map((j) => `v${j}`).join(' + ')};\n`;
  }
  tree['main.ts'] =
    `${ids.map((i) => `import { sum as s${i} } from './m${i}/index.ts';`).join('\n')}\nexport const sum = ${ids.map((i) => `s${i}`).join(' + ')};\n`;
  const total = (1600 * 1599) / 2;
  const { project, runner } = projectWithRunner(t, tree);
  expectStatus(await runner.start(), 'applied');
  assert.equal(namespaceOf(runner, project.file('main.ts')).sum, total);
  const { offThread, misses } = runner.compilerStats;
  assert.ok(offThread > 0 && offThread <= misses, `${offThread} of ${misses} files compiled in the thread`);
  expectStatus(await runner.update([project.edit('m0/l1.ts', '= 1', '= 1001')]), 'applied');
  assert.equal(namespaceOf(runner, project.file('main.ts')).sum, total + 1000);
  assert.equal(runner.compilerStats.offThread, offThread, 'the save compiled on the main thread');
});

test("where no thread may be made (Node's permission model without --allow-worker), the start compiles here", (t) => {
  const ids = Array.from({ length: 60 }, (_, i) => i);
  const tree: Record<string, string> = {
    'main.ts': `${ids.map((i) => `import { v${i} } from './m${i}.ts';`).join('\n')}\nconsole.log('sum', ${ids.map((i) => `v${i}`).join(' + ')});\n`,
  };
  for (const i of ids) tree[`m${i}.ts`] = `export const v${i}: number = ${i};\n`;
  const project = createProject(tree);
  t.after(() => project.cleanup());
  const driver = `const { createRunner } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'src', 'index.js'))});
const runner = createRunner({ root: ${JSON.stringify(project.root)}, entry: 'main.ts', cacheDir: false });
const result = await runner.start();
console.log(JSON.stringify({ status: result.status, offThread: runner.compilerStats.offThread }));`;
  const permission = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';
  const out = execFileSync(process.execPath, [permission, '--allow-fs-read=*', '--allow-addons', '--input-type=module', '-e', driver], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [sum, report] = out.trim().split('\n');
  assert.equal(sum, `sum ${(60 * 59) / 2}`);
  assert.deepEqual(JSON.parse(report!), { status: 'applied', offThread: 0 });
});
