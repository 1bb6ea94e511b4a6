/**
 * Updates: which modules re-execute after a save, which keep their state, and the
 * `import.meta.hot` API (README, "import.meta.hot"; docs/design.md, "Invariants").
 *
 * Fixtures count their evaluations in `globalThis.__t_<test>_runs[file]` through `track()`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { G, expectStatus, projectWithRunner, rejection, startProject } from './helpers/project.js';
import { sameAsNode } from './helpers/differential.js';
import { poll } from './helpers/poll.js';

/** A line a fixture module starts with to count its evaluations under `key`. */
const track = (key: string, name: string) =>
  `((globalThis.${key} ??= {})[${JSON.stringify(name)}] ??= 0, globalThis.${key}[${JSON.stringify(name)}]++);\n`;

test('editing a leaf re-executes it and its importers up to the entry; modules off the path keep their state', async (t) => {
  const K = '__t_leaf_runs';
  const { project, runner, ns } = await startProject(t, {
    'leaf.ts': `${track(K, 'leaf')}export const value = 'v1';\n`,
    'mid.ts': `${track(K, 'mid')}import { value } from './leaf.ts';\nexport const midValue = 'mid:' + value;\n`,
    'side.ts': `${track(K, 'side')}export let hits = 0;\nexport function hit() { return ++hits; }\n`,
    'main.ts': `${track(K, 'main')}import { midValue } from './mid.ts';\nimport { hit } from './side.ts';\nexport const seen = midValue;\nexport { hit };\n`,
  });
  assert.deepEqual(G[K], { leaf: 1, mid: 1, side: 1, main: 1 });
  ns('main.ts').hit();
  ns('main.ts').hit();

  const result = expectStatus(await runner.update([project.edit('leaf.ts', "'v1'", "'v2'")]), 'applied');
  assert.equal(result.rung, 'entry-reexecuted');
  assert.match(result.reason ?? '', /leaf\.ts/);
  assert.deepEqual(result.reexecuted, ['leaf.ts', 'mid.ts', 'main.ts']);
  assert.deepEqual(G[K], { leaf: 2, mid: 2, side: 1, main: 2 });
  assert.equal(ns('main.ts').seen, 'mid:v2');
  // side.ts kept its instance and its state.
  assert.equal(ns('side.ts').hits, 2);
  assert.equal(ns('main.ts').hit(), 3);
  assert.ok(result.duration >= 0);
});

test('a file saved without changes is unchanged; a file that is not loaded is unchanged', async (t) => {
  const K = '__t_same_runs';
  const { project, runner } = await startProject(t, {
    'main.ts': `${track(K, 'main')}export const x = 1;\n`,
    'unused.ts': `export const y = 1;\n`,
  });
  project.write('main.ts', project.read('main.ts'));
  expectStatus(await runner.update([project.file('main.ts')]), 'unchanged');
  expectStatus(await runner.update([project.edit('unused.ts', '1', '2')]), 'unchanged');
  assert.deepEqual(G[K], { main: 1 });
});

test('a self-accepting module stops the walk; importers see its new exports through the namespace', async (t) => {
  const K = '__t_self_runs';
  const { project, runner, ns } = await startProject(t, {
    'routes.ts': `${track(K, 'routes')}export const handler = () => 'v1';\nimport.meta.hot?.accept();\n`,
    'main.ts': `${track(K, 'main')}import * as routes from './routes.ts';\nimport { handler } from './routes.ts';\nexport const call = () => handler();\nexport const viaNs = () => routes.handler();\n`,
  });
  assert.equal(ns('main.ts').call(), 'v1');
  const result = expectStatus(await runner.update([project.edit('routes.ts', "'v1'", "'v2'")]), 'applied');
  assert.equal(result.rung, 'hot-update');
  assert.deepEqual(result.reexecuted, ['routes.ts']);
  assert.deepEqual(result.boundaries, ['routes.ts']);
  assert.equal(result.reason, undefined);
  assert.deepEqual(G[K], { routes: 2, main: 1 });
  assert.equal(ns('main.ts').call(), 'v2');
  assert.equal(ns('main.ts').viaNs(), 'v2');
});

test('an exported let read by several importers stays live in each, across an update of one of them', async (t) => {
  const reader = (name: string) =>
    `import { count } from './counter.ts';\nexport const read = () => '${name}' + count;\nimport.meta.hot?.accept();\n`;
  const { project, runner, ns } = await startProject(t, {
    'counter.ts': `export let count = 0;\nexport function increment() { count++; }\n`,
    'a.ts': reader('a'),
    'b.ts': reader('b'),
    'c.ts': reader('c'),
    'main.ts': `import './a.ts';\nimport './b.ts';\nimport './c.ts';\nexport { increment } from './counter.ts';\n`,
  });
  const reads = () => ['a.ts', 'b.ts', 'c.ts'].map((f) => ns(f).read());
  ns('main.ts').increment();
  assert.deepEqual(reads(), ['a1', 'b1', 'c1']);
  // b's old instance stops following count and its new one starts; a and c go on following it.
  expectStatus(await runner.update([project.edit('b.ts', "'b'", "'B'")]), 'applied');
  assert.deepEqual(reads(), ['a1', 'B1', 'c1']);
  ns('main.ts').increment();
  assert.deepEqual(reads(), ['a2', 'B2', 'c2']);
  expectStatus(await runner.update([project.edit('a.ts', "'a'", "'A'"), project.edit('c.ts', "'c'", "'C'")]), 'applied');
  ns('main.ts').increment();
  assert.deepEqual(reads(), ['A3', 'B3', 'C3']);
});

test('a module that joins an import cycle in an update reads its imports as under node', async (t) => {
  // x imports y; the save makes y import x. main imports y first, so in the new cycle x runs
  // before y: greet (a function, initialised) reads, late (a let) is in its TDZ. x's body was
  // compiled with its imports in one scope (it was in no cycle): it is compiled again with a
  // scope each, else greet would be in its TDZ too.
  const y = `export function greet() { return 'hello'; }\nexport let late = 'late';\n`;
  const yCyclic = `import { fromX } from './x.js';\nexport const seen = fromX();\n${y}`;
  const tree = (yText: string) => ({
    'package.json': '{ "type": "module" }\n',
    'y.js': yText,
    'x.js': [
      `import { greet, late } from './y.js';`,
      `export const greeting = greet();`,
      `let read;`,
      `try { read = late; } catch (e) { read = e.constructor.name; }`,
      `export const lateRead = read;`,
      `export function fromX() { return 'x'; }`,
    ].join('\n'),
    'main.js': `import * as y from './y.js';\nimport { greeting, lateRead } from './x.js';\nexport const result = () => JSON.stringify({ seen: y.seen, greeting, lateRead });\nconsole.log(result());\n`,
  });
  const underNode = await sameAsNode(tree(yCyclic), 'main.js');
  const { project, runner, ns } = await startProject(t, tree(y), { entry: 'main.js' });
  assert.equal(ns('main.js').result(), JSON.stringify({ greeting: 'hello', lateRead: 'late' }));
  const result = expectStatus(await runner.update([project.write('y.js', yCyclic)]), 'applied');
  assert.deepEqual(result.reexecuted.sort(), ['main.js', 'x.js', 'y.js']);
  assert.deepEqual([ns('main.js').result()], underNode.lines);
});

test('import.meta.hot is one object per instance, made when first read, with methods that work detached', async (t) => {
  const K = '__t_detached_runs';
  const { project, runner, ns } = await startProject(t, {
    // Read late (in a function called after the start) and destructured: still this instance's.
    'routes.ts': `${track(K, 'routes')}export const handler = () => 'v1';
export const hot = () => import.meta.hot;
const { accept } = import.meta.hot!;
if (hot() === import.meta.hot) accept();
`,
    'main.ts': `${track(K, 'main')}import { handler, hot } from './routes.ts';
export const call = () => handler();
export { hot };
export const mine = import.meta.hot;
`,
  });
  assert.notEqual(ns('main.ts').hot(), ns('main.ts').mine, 'each module has its own');
  const before = ns('main.ts').hot();
  const result = expectStatus(await runner.update([project.edit('routes.ts', "'v1'", "'v2'")]), 'applied');
  assert.equal(result.rung, 'hot-update', 'the detached accept() registered the self-accept');
  assert.deepEqual(G[K], { routes: 2, main: 1 });
  assert.equal(ns('main.ts').call(), 'v2');
  assert.notEqual(ns('routes.ts').hot(), before, 'a new instance has a new context');
  assert.equal(ns('routes.ts').hot().data, before.data, '… with the same data');
});

test('self-accept callback receives the new module', async (t) => {
  const { project, runner } = await startProject(t, {
    'main.ts': `export const version = 1;\nimport.meta.hot?.accept((mod) => { globalThis.__t_selfcb = mod?.version; });\n`,
  });
  expectStatus(await runner.update([project.edit('main.ts', 'version = 1', 'version = 2')]), 'applied');
  assert.equal(G.__t_selfcb, 2);
});

test("accept('./dep', cb): the importer is not re-executed and cb gets the new module", async (t) => {
  const K = '__t_acceptdep_runs';
  const { project, runner, ns } = await startProject(t, {
    'dep.ts': `${track(K, 'dep')}export const n = 1;\n`,
    'main.ts': [
      track(K, 'main'),
      `import { n } from './dep.ts';`,
      `globalThis.__t_acceptdep_got = [];`,
      `export const read = () => n;`,
      `import.meta.hot?.accept('./dep.ts', (mod) => { globalThis.__t_acceptdep_got.push(mod?.n); });`,
    ].join('\n'),
  });
  const result = expectStatus(await runner.update([project.edit('dep.ts', 'n = 1', 'n = 2')]), 'applied');
  assert.equal(result.rung, 'hot-update');
  assert.deepEqual(result.reexecuted, ['dep.ts']);
  assert.deepEqual(result.boundaries, ['main.ts']);
  assert.deepEqual(G[K], { dep: 2, main: 1 });
  assert.deepEqual(G.__t_acceptdep_got, [2]);
  // devhot relinks the importer (dynohot's choice): its static binding reads the new module.
  assert.equal(ns('main.ts').read(), 2);
});

test("accept('./dep') in a module with more imports than binding scopes: the shared scope's binding follows the new module", async (t) => {
  // 300 constants and then `n`: past MAX_SCOPES (256) the last bindings share one scope.
  const ids = Array.from({ length: 300 }, (_, i) => i);
  const { project, runner, ns } = await startProject(t, {
    'consts.ts': ids.map((i) => `export const c${i} = ${i};`).join('\n'),
    'dep.ts': `export const n = 1;\n`,
    'main.ts': [
      `import { ${ids.map((i) => `c${i}`).join(', ')} } from './consts.ts';`,
      `import { n } from './dep.ts';`,
      `export const read = () => [c0, c299, n].join();`,
      `import.meta.hot?.accept('./dep.ts', () => {});`,
    ].join('\n'),
  });
  assert.equal(ns('main.ts').read(), '0,299,1');
  const result = expectStatus(await runner.update([project.edit('dep.ts', 'n = 1', 'n = 2')]), 'applied');
  assert.deepEqual([result.rung, result.boundaries], ['hot-update', ['main.ts']]);
  assert.equal(ns('main.ts').read(), '0,299,2');
  // Re-executed (the entry itself edited): a new instance, its shared scope made again.
  expectStatus(await runner.update([project.edit('main.ts', 'join()', "join('/')")]), 'applied');
  assert.equal(ns('main.ts').read(), '0/299/2');
});

test("accept(['./a', './b'], cb) gets an array with the changed modules", async (t) => {
  const { project, runner } = await startProject(t, {
    'a.ts': `export const name = 'a1';\n`,
    'b.ts': `export const name = 'b1';\n`,
    'main.ts': [
      `import './a.ts';`,
      `import './b.ts';`,
      `globalThis.__t_arr = [];`,
      `import.meta.hot?.accept(['./a.ts', './b'], (mods) => { globalThis.__t_arr.push(mods.map((m) => m?.name)); });`,
    ].join('\n'),
  });
  expectStatus(await runner.update([project.edit('b.ts', 'b1', 'b2')]), 'applied');
  assert.deepEqual(G.__t_arr, [[undefined, 'b2']]);
  expectStatus(await runner.update([project.edit('a.ts', 'a1', 'a2'), project.edit('b.ts', 'b2', 'b3')]), 'applied');
  assert.deepEqual(G.__t_arr[1], ['a2', 'b3']);
});

test('a new file imported after an edit is loaded', async (t) => {
  const { project, runner, ns } = await startProject(t, { 'main.ts': `export const got = 'none';\n` });
  project.write('fresh.ts', `export const fresh = 'fresh';\n`);
  const result = expectStatus(
    await runner.update([project.write('main.ts', `import { fresh } from './fresh.ts';\nexport const got = fresh;\n`)]),
    'applied',
  );
  assert.deepEqual(result.reexecuted, ['fresh.ts', 'main.ts']);
  assert.equal(ns('main.ts').got, 'fresh');
  assert.ok(runner.modules.has(project.file('fresh.ts')));
});

test('a deleted file that is still imported is a link error naming it; restoring it recovers', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'dep.ts': `export const v = 'dep1';\n`,
    'main.ts': `import { v } from './dep.ts';\nexport const got = v;\nexport const alive = () => 'old code ' + v;\n`,
  });
  const content = project.read('dep.ts');
  const result = expectStatus(await runner.update([project.remove('dep.ts')]), 'error');
  assert.equal(result.phase, 'link');
  assert.match(result.error.message, /dep\.ts/);
  assert.equal(result.error.code, 'DEVHOT_ERR_RESOLVE');
  // The old code keeps running.
  assert.equal(ns('main.ts').alive(), 'old code dep1');
  project.write('dep.ts', content.replace('dep1', 'dep2'));
  const fixed = expectStatus(await runner.update([project.file('dep.ts')]), 'applied');
  assert.ok(fixed.reexecuted.includes('main.ts'));
  assert.equal(ns('main.ts').got, 'dep2');
});

test('an import removed: the orphan is pruned (prune and dispose run) and leaves runner.modules', async (t) => {
  const { project, runner } = await startProject(t, {
    'orphan.ts': [
      `import './orphan-dep.ts';`,
      `globalThis.__t_prune_log = [];`,
      `import.meta.hot?.dispose(() => { globalThis.__t_prune_log.push('dispose'); });`,
      `import.meta.hot?.prune(() => { globalThis.__t_prune_log.push('prune'); });`,
    ].join('\n'),
    'orphan-dep.ts': `export {};\n`,
    'main.ts': `import './orphan.ts';\nexport const x = 1;\n`,
  });
  const result = expectStatus(await runner.update([project.write('main.ts', `export const x = 2;\n`)]), 'applied');
  assert.deepEqual(result.pruned.sort(), ['orphan-dep.ts', 'orphan.ts']);
  assert.deepEqual(G.__t_prune_log, ['dispose', 'prune']);
  assert.equal(runner.modules.has(project.file('orphan.ts')), false);
  assert.equal(runner.modules.has(project.file('orphan-dep.ts')), false);
});

test('a renamed file: the importer follows the rename, the old module is pruned', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'old-name.ts': `export const v = 'renamed';\n`,
    'main.ts': `import { v } from './old-name.ts';\nexport const got = v;\n`,
  });
  const [from, to] = project.rename('old-name.ts', 'new-name.ts');
  // A watcher reports the unlink and the add; the importer is saved with the new path.
  const broken = expectStatus(await runner.update([from, to]), 'error');
  assert.equal(broken.phase, 'link');
  const result = expectStatus(await runner.update([project.edit('main.ts', 'old-name', 'new-name')]), 'applied');
  assert.deepEqual(result.pruned, ['old-name.ts']);
  assert.equal(ns('main.ts').got, 'renamed');
  assert.ok(runner.modules.has(to));
  assert.equal(runner.modules.has(from), false);
});

test('a changed import list: new deps load, dropped ones are pruned, kept ones are not re-executed', async (t) => {
  const K = '__t_list_runs';
  const { project, runner, ns } = await startProject(t, {
    'a.ts': `${track(K, 'a')}export const a = 'a';\n`,
    'b.ts': `${track(K, 'b')}export const b = 'b';\n`,
    'c.ts': `${track(K, 'c')}export const c = 'c';\n`,
    'main.ts': `import { a } from './a.ts';\nimport { b } from './b.ts';\nexport const got = a + b;\n`,
  });
  const result = expectStatus(
    await runner.update([
      project.write('main.ts', `import { a } from './a.ts';\nimport { c } from './c.ts';\nexport const got = a + c;\n`),
    ]),
    'applied',
  );
  assert.equal(ns('main.ts').got, 'ac');
  assert.deepEqual(result.pruned, ['b.ts']);
  assert.deepEqual(G[K], { a: 1, b: 1, c: 1 });
});

test('a cycle re-executed by an update keeps Node evaluation order', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'a.ts': `import { fromB } from './b.ts';\nexport function hello() { return 'hello v1'; }\nexport const seenByA = fromB;\n`,
    'b.ts': `import { hello } from './a.ts';\nexport const fromB = hello();\n`,
    'main.ts': `import { seenByA } from './a.ts';\nexport const result = seenByA;\n`,
  });
  assert.equal(ns('main.ts').result, 'hello v1');
  expectStatus(await runner.update([project.edit('a.ts', 'hello v1', 'hello v2')]), 'applied');
  assert.equal(ns('main.ts').result, 'hello v2');
  expectStatus(await runner.update([project.edit('b.ts', 'hello()', "hello() + '!'")]), 'applied');
  assert.equal(ns('main.ts').result, 'hello v2!');
});

// ------------------------------------------------------------------------------ import.meta.hot

test('import.meta.hot guards work and the context has the Vite API', async (t) => {
  const { ns } = await startProject(t, {
    'main.ts': [
      `const hot = import.meta.hot;`,
      `export const api = hot ? ['accept', 'dispose', 'prune', 'invalidate', 'decline', 'on', 'off', 'send'].filter((k) => typeof (hot as any)[k] === 'function') : [];`,
      `export const hasData = typeof hot?.data === 'object';`,
      `if (import.meta.hot) { globalThis.__t_guard = 'in devhot'; }`,
    ].join('\n'),
  });
  assert.equal(ns('main.ts').api.length, 8);
  assert.equal(ns('main.ts').hasData, true);
  assert.equal(G.__t_guard, 'in devhot');
});

test('dispose: every handler runs, newest first, awaited; modules between change and boundary are disposed too', async (t) => {
  const { project, runner } = await startProject(t, {
    'leaf.ts': [`export const v = 1;`, `import.meta.hot?.dispose(() => { globalThis.__t_disp.push('leaf'); });`].join('\n'),
    'mid.ts': [
      `import { v } from './leaf.ts';`,
      `export const m = v;`,
      `import.meta.hot?.dispose(async () => { await new Promise((r) => setTimeout(r, 15)); globalThis.__t_disp.push('mid:first'); });`,
      `import.meta.hot?.dispose(async () => { await new Promise((r) => setTimeout(r, 15)); globalThis.__t_disp.push('mid:second'); });`,
    ].join('\n'),
    'boundary.ts': [
      `import { m } from './mid.ts';`,
      `export const b = m;`,
      `import.meta.hot?.accept();`,
      `import.meta.hot?.dispose(() => { globalThis.__t_disp.push('boundary'); });`,
    ].join('\n'),
    'main.ts': `globalThis.__t_disp = [];\nimport './boundary.ts';\nimport.meta.hot?.dispose(() => { globalThis.__t_disp.push('main (must not run)'); });\n`,
  });
  const result = expectStatus(await runner.update([project.edit('leaf.ts', 'v = 1', 'v = 2')]), 'applied');
  assert.equal(result.rung, 'hot-update');
  assert.deepEqual(result.reexecuted, ['leaf.ts', 'mid.ts', 'boundary.ts']);
  // Importers first (they may hold what their deps created), each handler awaited in turn.
  assert.deepEqual(G.__t_disp, ['boundary', 'mid:second', 'mid:first', 'leaf']);
});

test('data is carried from the old instance to the new one', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'main.ts': [
      `const hot = import.meta.hot!;`,
      `export const previous = hot.data.generation;`,
      `const generation = ((hot.data.generation as number | undefined) ?? 0) + 1;`,
      `hot.dispose((data) => { data.generation = generation; });`,
      `hot.accept();`,
      `export const mark = 1;`,
    ].join('\n'),
  });
  assert.equal(ns('main.ts').previous, undefined);
  expectStatus(await runner.update([project.edit('main.ts', 'mark = 1', 'mark = 2')]), 'applied');
  assert.equal(ns('main.ts').previous, 1);
  expectStatus(await runner.update([project.edit('main.ts', 'mark = 2', 'mark = 3')]), 'applied');
  assert.equal(ns('main.ts').previous, 2);
});

test('invalidate(message) in a self-accepting module propagates to its importers', async (t) => {
  const K = '__t_inval_runs';
  const { project, runner, ns } = await startProject(t, {
    'dep.ts': [
      track(K, 'dep'),
      `export const shape = 'one';`,
      `import.meta.hot?.accept();`,
      `if (import.meta.hot?.data.shape && import.meta.hot.data.shape !== shape) import.meta.hot.invalidate('shape changed');`,
      `import.meta.hot?.dispose((d) => { d.shape = shape; });`,
    ].join('\n'),
    'main.ts': `${track(K, 'main')}import { shape } from './dep.ts';\nexport const got = shape;\n`,
  });
  const result = expectStatus(await runner.update([project.edit('dep.ts', "'one'", "'two'")]), 'applied');
  assert.equal(result.rung, 'entry-reexecuted');
  assert.ok(result.reexecuted.includes('main.ts'), JSON.stringify(result));
  assert.ok(
    result.warnings.some((w) => w.includes('shape changed')),
    JSON.stringify(result.warnings),
  );
  assert.equal(G[K].main, 2);
  assert.equal(ns('main.ts').got, 'two');
});

test('two modules invalidating each other terminate', async (t) => {
  const { project, runner } = await startProject(t, {
    'a.ts': `import './b.ts';\nexport const a = 1;\nimport.meta.hot?.accept();\nif (import.meta.hot?.data.seen) import.meta.hot.invalidate('a');\nimport.meta.hot?.dispose((d) => { d.seen = true; });\n`,
    'b.ts': `import './a.ts';\nexport const b = 1;\nimport.meta.hot?.accept();\nif (import.meta.hot?.data.seen) import.meta.hot.invalidate('b');\nimport.meta.hot?.dispose((d) => { d.seen = true; });\n`,
    'main.ts': `import './a.ts';\n`,
  });
  const result = await runner.update([project.edit('a.ts', 'a = 1', 'a = 2')]);
  assert.equal(result.status, 'applied', JSON.stringify(result));
  // And the runner still takes updates afterwards.
  expectStatus(await runner.update([project.edit('b.ts', 'b = 1', 'b = 2')]), 'applied');
});

test('invalidate() outside an update runs an update of its own', async (t) => {
  const results: unknown[] = [];
  const { runner, ns } = await startProject(
    t,
    {
      'dep.ts': `export const stamp = Math.random();\nimport.meta.hot?.accept();\nexport function later() { import.meta.hot?.invalidate('later'); }\n`,
      'main.ts': `export { later, stamp } from './dep.ts';\n`,
    },
    { onUpdate: (r) => results.push(r) },
  );
  void runner;
  const before = ns('main.ts').stamp;
  ns('main.ts').later();
  await poll(() => results.length > 0, 'the invalidation update', 5000, 10);
  const result = expectStatus(results[0] as any, 'applied');
  assert.ok(result.reexecuted.includes('main.ts'));
  assert.notEqual(ns('main.ts').stamp, before);
});

test('decline(): needs-restart with a reason, nothing applied', async (t) => {
  const K = '__t_decl_runs';
  const { project, runner, ns } = await startProject(t, {
    'db.ts': `${track(K, 'db')}export const conn = 'v1';\nimport.meta.hot?.decline();\nimport.meta.hot?.dispose(() => { globalThis.__t_decl_disposed = true; });\n`,
    'main.ts': `${track(K, 'main')}import { conn } from './db.ts';\nexport const got = conn;\n`,
  });
  const result = expectStatus(await runner.update([project.edit('db.ts', 'v1', 'v2')]), 'needs-restart');
  assert.equal(result.rung, 'restart');
  assert.match(result.reason, /db\.ts.*decline/);
  assert.deepEqual(G[K], { db: 1, main: 1 });
  assert.equal(G.__t_decl_disposed, undefined);
  assert.equal(ns('main.ts').got, 'v1');
});

test('on/off listeners receive runner.dispatch events; send reaches onHotSend', async (t) => {
  const sent: unknown[] = [];
  const { project, runner } = await startProject(
    t,
    {
      'main.ts': [
        `globalThis.__t_evt = [];`,
        `const listener = (d: unknown) => globalThis.__t_evt.push(['kept', d]);`,
        `const removed = (d: unknown) => globalThis.__t_evt.push(['removed', d]);`,
        `import.meta.hot?.on('custom:ping', listener);`,
        `import.meta.hot?.on('custom:ping', removed);`,
        `import.meta.hot?.off('custom:ping', removed);`,
        `import.meta.hot?.send('custom:hello', { from: 'main' });`,
      ].join('\n'),
    },
    { onHotSend: (event, data, file) => sent.push([event, data, file]) },
  );
  runner.dispatch('custom:ping', 1);
  assert.deepEqual(G.__t_evt, [['kept', 1]]);
  assert.deepEqual(sent, [['custom:hello', { from: 'main' }, project.file('main.ts')]]);
  // After an update the old instance's listeners are gone; the new instance registers its own.
  expectStatus(await runner.update([project.edit('main.ts', "'main'", "'main2'")]), 'applied');
  runner.dispatch('custom:ping', 2);
  assert.deepEqual(G.__t_evt, [['kept', 2]]);
  assert.equal(sent.length, 2);
});

test('an accept handler that throws does not accept: the update goes further, with a warning', async (t) => {
  const K = '__t_throwacc_runs';
  const { project, runner, ns } = await startProject(t, {
    'dep.ts': `${track(K, 'dep')}export const v = 1;\n`,
    'mid.ts': `${track(K, 'mid')}import { v } from './dep.ts';\nexport const m = () => v;\nimport.meta.hot?.accept('./dep.ts', () => { throw new Error('handler broke'); });\n`,
    'main.ts': `${track(K, 'main')}import { m } from './mid.ts';\nexport const got = m();\n`,
  });
  const result = expectStatus(await runner.update([project.edit('dep.ts', 'v = 1', 'v = 2')]), 'applied');
  assert.ok(
    result.warnings.some((w) => w.includes('handler broke')),
    JSON.stringify(result.warnings),
  );
  assert.equal(result.rung, 'entry-reexecuted');
  assert.equal(G[K].main, 2);
  assert.equal(ns('main.ts').got, 2);
});

test('devhot:beforeUpdate and devhot:afterUpdate events', async (t) => {
  const { project, runner } = await startProject(t, {
    'main.ts': `globalThis.__t_upd ??= [];\nimport.meta.hot?.on('devhot:beforeUpdate', (p) => globalThis.__t_upd.push(['before', p.files]));\nimport.meta.hot?.on('devhot:afterUpdate', (p) => globalThis.__t_upd.push(['after', p.rung]));\nimport.meta.hot?.accept();\nexport const x = 1;\n`,
  });
  expectStatus(await runner.update([project.edit('main.ts', 'x = 1', 'x = 2')]), 'applied');
  // The old instance hears beforeUpdate; the new instance hears afterUpdate.
  assert.deepEqual(G.__t_upd, [
    ['before', ['main.ts']],
    ['after', 'hot-update'],
  ]);
});

test('reload() re-executes the entry without a change', async (t) => {
  const K = '__t_reload_runs';
  const { runner } = await startProject(t, {
    'dep.ts': `${track(K, 'dep')}export {};\n`,
    'main.ts': `${track(K, 'main')}import './dep.ts';\n`,
  });
  const result = expectStatus(await runner.reload(), 'applied');
  assert.equal(result.rung, 'entry-reexecuted');
  assert.deepEqual(G[K], { dep: 1, main: 2 });
  expectStatus(await runner.reload({ all: true }), 'applied');
  assert.deepEqual(G[K], { dep: 2, main: 3 });
});

test('close() runs every dispose handler and rejects later calls', async (t) => {
  const { runner } = await startProject(t, {
    'main.ts': `import './dep.ts';\nimport.meta.hot?.dispose(() => { (globalThis.__t_close ??= []).push('main'); });\n`,
    'dep.ts': `import.meta.hot?.dispose(() => { (globalThis.__t_close ??= []).push('dep'); });\n`,
  });
  await runner.close();
  assert.deepEqual(G.__t_close, ['main', 'dep']);
  await assert.rejects(runner.update([]), { code: 'DEVHOT_ERR_CLOSED' });
  await runner.close(); // idempotent
  assert.deepEqual(G.__t_close, ['main', 'dep']);
});

test('updates are serialised: concurrent update() calls apply in order, the last save wins', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'main.ts': `await new Promise((r) => setTimeout(r, 5));\nexport const v = 0;\n`,
  });
  const file = project.file('main.ts');
  const results = await Promise.all(
    [1, 2, 3].map((n) => {
      project.write('main.ts', `await new Promise((r) => setTimeout(r, 5));\nexport const v = ${n};\n`);
      return runner.update([file]);
    }),
  );
  // All three read the file after the last write: the first applies it, the others see no change.
  assert.deepEqual(
    results.map((r) => r.status),
    ['applied', 'unchanged', 'unchanged'],
  );
  assert.equal(ns('main.ts').v, 3);
});

test('a self-accepting module re-exported with export * adds a name: the barrel shows it', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    's.ts': `export const one = 1;\nimport.meta.hot?.accept();\n`,
    'barrel.ts': `export * from './s.ts';\n`,
    'main.ts': `import * as barrel from './barrel.ts';\nexport const keys = () => Object.keys(barrel).sort();\nexport const two = () => (barrel as any).two;\n`,
  });
  assert.deepEqual(ns('main.ts').keys(), ['one']);
  const result = expectStatus(
    await runner.update([project.write('s.ts', `export const one = 1;\nexport const two = 2;\nimport.meta.hot?.accept();\n`)]),
    'applied',
  );
  assert.equal(result.rung, 'hot-update');
  assert.deepEqual(ns('main.ts').keys(), ['one', 'two']);
  assert.equal(ns('main.ts').two(), 2);
});

test('a module loaded with import() at run time: editing it reaches the importer', async (t) => {
  const K = '__t_dyn_runs';
  const { project, runner, ns } = await startProject(t, {
    'lazy.ts': `export const lz = 'lazy1';\n`,
    'main.ts': `${track(K, 'main')}export const load = async () => (await import('./lazy.ts')).lz;\n`,
  });
  assert.equal(runner.modules.has(project.file('lazy.ts')), false);
  assert.equal(await ns('main.ts').load(), 'lazy1');
  assert.ok(runner.modules.has(project.file('lazy.ts')));
  const result = expectStatus(await runner.update([project.edit('lazy.ts', 'lazy1', 'lazy2')]), 'applied');
  assert.deepEqual(result.reexecuted, ['lazy.ts', 'main.ts']);
  assert.equal(G[K].main, 2);
  assert.equal(await ns('main.ts').load(), 'lazy2');
});

test('editing a CommonJS module re-executes its importers with the new module.exports', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'conf.cjs': `module.exports = { level: 1 };\n`,
    'main.ts': `import conf from './conf.cjs';\nexport const level = conf.level;\n`,
  });
  assert.equal(ns('main.ts').level, 1);
  expectStatus(await runner.update([project.edit('conf.cjs', 'level: 1', 'level: 2')]), 'applied');
  assert.equal(ns('main.ts').level, 2);
});

test('a re-executed module with top-level await: its importer waits for it during the update', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'slow.ts': `await new Promise((r) => setTimeout(r, 10));\nexport const ready = 'r1';\n`,
    'main.ts': `import { ready } from './slow.ts';\nexport const seen = ready;\n`,
  });
  expectStatus(await runner.update([project.edit('slow.ts', 'r1', 'r2')]), 'applied');
  assert.equal(ns('main.ts').seen, 'r2');
});

test('hot.data lives until the module is pruned; a module imported again starts with fresh data', async (t) => {
  const { project, runner } = await startProject(t, {
    'mod.ts': `globalThis.__t_data_seen = import.meta.hot?.data.mark;\nimport.meta.hot?.dispose((d) => { d.mark = 'kept'; });\nexport {};\n`,
    'main.ts': `import './mod.ts';\nexport const x = 1;\n`,
  });
  expectStatus(await runner.update([project.write('mod.ts', `${project.read('mod.ts')}// edit\n`)]), 'applied');
  assert.equal(G.__t_data_seen, 'kept');
  expectStatus(await runner.update([project.write('main.ts', `export const x = 2;\n`)]), 'applied');
  assert.equal(runner.modules.has(project.file('mod.ts')), false);
  expectStatus(await runner.update([project.write('main.ts', `import './mod.ts';\nexport const x = 3;\n`)]), 'applied');
  assert.equal(G.__t_data_seen, undefined);
});

test('while an update awaits at the top level, code of the old version still reads the old bindings (no TDZ error), then the new ones', async (t) => {
  const g = globalThis as { __t_gate?: Promise<void>; __t_started?: boolean };
  let release!: () => void;
  g.__t_gate = new Promise<void>((resolve) => (release = resolve));
  t.after(() => {
    delete g.__t_gate;
    delete g.__t_started;
  });
  const { project, runner, ns } = await startProject(t, {
    'main.ts': `import { value } from './slow.js';\nexport const read = () => value;\n`,
    'slow.ts': `export const value = 'v1';\nimport.meta.hot?.accept();\n`,
  });
  const read = ns('main.ts').read as () => string;
  assert.equal(read(), 'v1');
  project.write(
    'slow.ts',
    `(globalThis as any).__t_started = true;\nawait (globalThis as any).__t_gate;\nexport const value = 'v2';\nimport.meta.hot?.accept();\n`,
  );
  const update = runner.update([project.file('slow.ts')]);
  await poll(() => g.__t_started === true, 'the new version to start evaluating', 5000, 10);
  // The new instance is mid-evaluation (value in its TDZ): a request handler of the old code
  // calling read() now must get the value that still stands.
  assert.equal(read(), 'v1');
  release();
  const result = await update;
  assert.equal(result.status, 'applied');
  assert.equal(read(), 'v2');
});

test('a module read empty mid-save (truncated, not yet written) waits for its content; one left empty is applied empty', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'main.ts': `import { value } from './mod.js';\nexport const read = () => value;\n`,
    'mod.ts': `export const value = 'v1';\nimport.meta.hot?.accept();\n`,
  });
  const read = ns('main.ts').read as () => unknown;
  // An editor's truncate: the update starts while the file is empty; the write lands 20 ms later.
  project.write('mod.ts', '');
  const update = runner.update([project.file('mod.ts')]);
  setTimeout(() => project.write('mod.ts', `export const value = 'v2';\nimport.meta.hot?.accept();\n`), 20);
  const result = await update;
  assert.equal(result.status, 'applied');
  assert.equal(result.status === 'applied' && result.rung, 'hot-update', JSON.stringify(result));
  assert.equal(read(), 'v2');

  // Emptied on purpose: after the short wait, the empty module is what devhot tries to apply.
  // main.ts still imports `value`, which the empty module does not export: as under node, that
  // is a SyntaxError at link, naming main.ts, and the previous version keeps serving.
  project.write('mod.ts', '');
  const started = Date.now();
  const emptied = expectStatus(await runner.update([project.file('mod.ts')]), 'error');
  assert.ok(Date.now() - started >= 90, 'waited for content that never came');
  assert.equal(emptied.phase, 'link');
  assert.match(emptied.error.message, /SyntaxError: The requested module '\.\/mod\.js' does not provide an export named 'value'/);
  assert.equal(emptied.error.file, project.file('main.ts'));
  assert.equal(read(), 'v2');
  assert.deepEqual(Object.keys(ns('mod.ts')), ['value']);
});

test('an entry whose start failed, read empty mid-save, waits for its content too (it had code, though no version ran)', async (t) => {
  const { project, runner } = projectWithRunner(t, { 'main.ts': `throw new Error('boom at start');\nexport const v = 1;\n` });
  assert.match(String((await rejection(() => runner.start())).message), /boom at start/);
  project.write('main.ts', '');
  const update = runner.update([project.file('main.ts')]);
  setTimeout(() => project.write('main.ts', `throw new Error('boom again');\nexport const v = 2;\n`), 20);
  const result = expectStatus(await update, 'error');
  assert.match(result.error.message, /boom again/, 'the written content ran, not an empty module');
});
