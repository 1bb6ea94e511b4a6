/**
 * Module semantics the runner must keep so code runs the same with and without devhot
 * (docs/design.md, "The runner's stages"): each test loads a small project through a real runner and checks
 * what the user code observed.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { G, expectStatus, startProject } from './helpers/project.js';

test('live bindings: an exported let changed by its module is seen by importers', async (t) => {
  const { ns } = await startProject(t, {
    'counter.ts': `export let count = 0;\nexport function increment() { count++; }\n`,
    'main.ts': `import { count, increment } from './counter.ts';\nexport const before = count;\nincrement(); increment();\nexport const after = count;\nexport function read() { return count; }\n`,
  });
  const main = ns('main.ts');
  assert.equal(main.before, 0);
  assert.equal(main.after, 2);
  ns('counter.ts').increment();
  assert.equal(main.read(), 3);
  assert.equal(ns('counter.ts').count, 3);
});

test('circular imports: hoisted functions are callable across the cycle', async (t) => {
  const { ns } = await startProject(t, {
    // main → a → b → a: b runs first and calls a's hoisted function before a has evaluated.
    'a.ts': `import { fromB } from './b.ts';\nexport function hello() { return 'hello from a'; }\nexport const seenByA = fromB;\n`,
    'b.ts': `import { hello } from './a.ts';\nexport const fromB = hello();\n`,
    'main.ts': `import { seenByA } from './a.ts';\nexport const result = seenByA;\n`,
  });
  assert.equal(ns('main.ts').result, 'hello from a');
});

test('circular imports: reading a let before initialisation throws ReferenceError, like Node', async (t) => {
  const { ns } = await startProject(t, {
    'a.ts': `import { early } from './b.ts';\nexport let value = 1;\nexport const fromB = early;\n`,
    'b.ts': `import { value } from './a.ts';\nlet error: unknown;\ntry { void value; } catch (e) { error = e; }\nexport const early = error instanceof ReferenceError ? 'ReferenceError' : 'no error: ' + String(error);\nexport function later() { return value; }\n`,
    'main.ts': `import { fromB } from './a.ts';\nimport { later } from './b.ts';\nexport const result = fromB;\nexport const afterwards = later();\n`,
  });
  assert.equal(ns('main.ts').result, 'ReferenceError');
  assert.equal(ns('main.ts').afterwards, 1);
});

test('circular imports: a TDZ read that is not caught fails the start with a ReferenceError', async (t) => {
  const { project } = await startProject(t, { 'main.ts': `export {};\n` });
  const { createRunner } = await import('../src/runner/runner.js');
  project.write('a.ts', `import { b } from './b.ts';\nexport const a = 'a' + b;\n`);
  project.write('b.ts', `import { a } from './a.ts';\nexport const b = a.length;\n`);
  project.write('entry2.ts', `import './a.ts';\n`);
  const runner = createRunner({ root: project.root, entry: 'entry2.ts', cacheDir: false });
  t.after(() => runner.close());
  await assert.rejects(runner.start(), (error: any) => {
    assert.match(String(error.message), /ReferenceError|before initialization/);
    return true;
  });
});

test('top-level await in the entry and in a dependency: the importer waits', async (t) => {
  const { ns, start } = await startProject(t, {
    'slow.ts': `globalThis.__t_tla_order = ['slow:start'];\nawait new Promise((r) => setTimeout(r, 20));\nglobalThis.__t_tla_order.push('slow:end');\nexport const ready = true;\n`,
    'main.ts': `import { ready } from './slow.ts';\nglobalThis.__t_tla_order.push('main:' + ready);\nconst v = await Promise.resolve(42);\nexport const value = v;\n`,
  });
  expectStatus(start, 'applied');
  assert.deepEqual(G.__t_tla_order, ['slow:start', 'slow:end', 'main:true']);
  assert.equal(ns('main.ts').value, 42);
});

test('function declarations are hoisted within a module', async (t) => {
  const { ns } = await startProject(t, {
    'main.ts': `export const early = twice(21);\nfunction twice(n: number) { return n * 2; }\nexport default function () { return 'anon'; }\n`,
  });
  assert.equal(ns('main.ts').early, 42);
  assert.equal(ns('main.ts').default(), 'anon');
  assert.equal(ns('main.ts').default.name, 'default');
});

test('import.meta.url, dirname, filename and main', async (t) => {
  const { project, ns } = await startProject(t, {
    'lib/where.ts': `export const meta = { url: import.meta.url, dirname: import.meta.dirname, filename: import.meta.filename, main: import.meta.main };\n`,
    'main.ts': `export { meta } from './lib/where.ts';\nexport const mainIsMain = import.meta.main;\n`,
  });
  const file = project.file('lib/where.ts');
  // `main` as this Node has it (22.18 and 24.2 on; undefined on 20).
  const nodeHasMain = 'main' in import.meta;
  assert.deepEqual(
    { ...ns('main.ts').meta },
    { url: pathToFileURL(file).href, dirname: path.dirname(file), filename: file, main: nodeHasMain ? false : undefined },
  );
  assert.equal(ns('main.ts').mainIsMain, nodeHasMain ? true : undefined);
});

test('dynamic import() of a user file, a built-in and a package in node_modules', async (t) => {
  const { ns } = await startProject(t, {
    'node_modules/fake-esm/package.json': JSON.stringify({ name: 'fake-esm', type: 'module', exports: './index.js' }),
    'node_modules/fake-esm/index.js': `export const id = 'fake-esm';\n`,
    'later.ts': `export const lazy = 'lazy value';\n`,
    'main.ts': [
      `const user = await import('./later.ts');`,
      `const p = await import('node:path');`,
      `const pkg = await import('fake-esm');`,
      `const name = './later' + '.ts';`,
      `const computed = await import(name);`,
      `export const results = [user.lazy, p.join('a', 'b'), pkg.id, computed.lazy];`,
      `export const load = () => import('./later.ts');`,
    ].join('\n'),
  });
  assert.deepEqual(ns('main.ts').results, ['lazy value', path.join('a', 'b'), 'fake-esm', 'lazy value']);
  const again = await ns('main.ts').load();
  assert.equal(again.lazy, 'lazy value');
});

test('CommonJS user files: .cjs and .cts with require, module.exports and __dirname', async (t) => {
  const { project, ns } = await startProject(t, {
    'legacy.cjs': `const path = require('node:path');\nconst helper = require('./helper.cts');\nmodule.exports = { dir: __dirname, file: __filename, joined: path.join('x', 'y'), helped: helper.help(2) };\n`,
    'helper.cts': `import type {} from 'node:fs';\nexport function help(n: number): number { return n * 10; }\n`,
    'main.ts': `import legacy from './legacy.cjs';\nimport { help } from './helper.cts';\nexport { legacy };\nexport const direct = help(3);\n`,
  });
  const legacy = ns('main.ts').legacy;
  assert.equal(legacy.dir, project.root);
  assert.equal(legacy.file, project.file('legacy.cjs'));
  assert.equal(legacy.joined, path.join('x', 'y'));
  assert.equal(legacy.helped, 20);
  assert.equal(ns('main.ts').direct, 30);
});

test('CommonJS user file requiring an ES module user file gets its namespace', async (t) => {
  const { ns } = await startProject(t, {
    'esm-dep.ts': `export const flavour = 'esm';\nexport default 'the default';\n`,
    'bridge.cjs': `const dep = require('./esm-dep.ts');\nexports.flavour = dep.flavour;\nexports.def = dep.default;\n`,
    'main.ts': `import { flavour, def } from './bridge.cjs';\nexport const got = [flavour, def];\n`,
  });
  assert.deepEqual(ns('main.ts').got, ['esm', 'the default']);
});

test('default and named imports from a CommonJS package in node_modules', async (t) => {
  const { ns } = await startProject(t, {
    'node_modules/fake-cjs/package.json': JSON.stringify({ name: 'fake-cjs', main: 'index.js' }),
    'node_modules/fake-cjs/index.js': `exports.named = 'named export';\nexports.add = (a, b) => a + b;\n`,
    'main.ts': `import pkg, { named, add } from 'fake-cjs';\nexport const got = [pkg.named, named, add(2, 3)];\n`,
  });
  assert.deepEqual(ns('main.ts').got, ['named export', 'named export', 5]);
});

test('JSON imports', async (t) => {
  const { ns } = await startProject(t, {
    'data.json': JSON.stringify({ name: 'devhot', list: [1, 2] }),
    'main.ts': `import data from './data.json' with { type: 'json' };\nexport const got = data.name + ':' + data.list.length;\n`,
  });
  assert.equal(ns('main.ts').got, 'devhot:2');
});

test('process.argv follows the args option', async (t) => {
  const saved = process.argv;
  t.after(() => {
    process.argv = saved;
  });
  const { project } = await startProject(t, { 'main.ts': `globalThis.__t_argv = process.argv.slice(1);\n` }, { args: ['--port', '3000'] });
  assert.deepEqual(G.__t_argv, [project.file('main.ts'), '--port', '3000']);
});

test('extensionless and .js → .ts specifiers, directory index', async (t) => {
  const { ns } = await startProject(t, {
    'a.ts': `export const a = 'a';\n`,
    'b.ts': `export const b = 'b';\n`,
    'dir/index.ts': `export const c = 'c';\n`,
    'main.ts': `import { a } from './a';\nimport { b } from './b.js';\nexport { c } from './dir/index.js';\nexport const got = a + b;\n`,
  });
  assert.equal(ns('main.ts').got, 'ab');
  assert.equal(ns('main.ts').c, 'c');
});

test('tsconfig paths and package.json imports (#alias)', async (t) => {
  const { ns } = await startProject(t, {
    'package.json': JSON.stringify({
      name: 'fixture',
      type: 'module',
      imports: { '#config': './src/config.ts', '#util/*': './src/util/*.ts' },
    }),
    'tsconfig.json': `{\n  // comments are allowed\n  "compilerOptions": { "baseUrl": ".", "paths": { "@lib/*": ["src/lib/*"] } }\n}\n`,
    'src/lib/math.ts': `export const pi = 3;\n`,
    'src/config.ts': `export const config = 'cfg';\n`,
    'src/util/str.ts': `export const up = (s: string) => s.toUpperCase();\n`,
    'main.ts': `import { pi } from '@lib/math';\nimport { config } from '#config';\nimport { up } from '#util/str';\nexport const got = [pi, config, up('x')];\n`,
  });
  assert.deepEqual(ns('main.ts').got, [3, 'cfg', 'X']);
});

test('export * from, export * as ns, default exports, string export names', async (t) => {
  const { ns } = await startProject(t, {
    'parts.ts': `export const one = 1;\nexport const two = 2;\nexport default 'not re-exported by star';\n`,
    'anon-fn.ts': `export default function () { return 'fn'; }\n`,
    'anon-class.ts': `export default class { name = 'cls'; }\n`,
    'expr.ts': `export default 6 * 7;\n`,
    'strings.ts': `const x = 'stringy';\nexport { x as "string name" };\n`,
    'barrel.ts': `export * from './parts.ts';\nexport * as all from './parts.ts';\nexport const own = 'own';\n`,
    'main.ts': [
      `import * as barrel from './barrel.ts';`,
      `import fn from './anon-fn.ts';`,
      `import Cls from './anon-class.ts';`,
      `import answer from './expr.ts';`,
      `import { "string name" as renamed } from './strings.ts';`,
      `export const got = {`,
      `  keys: Object.keys(barrel).sort(),`,
      `  one: barrel.one, allTwo: barrel.all.two, allDefault: barrel.all.default,`,
      `  fn: fn(), cls: new Cls().name, answer, renamed,`,
      `};`,
    ].join('\n'),
  });
  assert.deepEqual(ns('main.ts').got, {
    keys: ['all', 'one', 'own', 'two'],
    one: 1,
    allTwo: 2,
    allDefault: 'not re-exported by star',
    fn: 'fn',
    cls: 'cls',
    answer: 42,
    renamed: 'stringy',
  });
  assert.equal(ns('strings.ts')['string name'], 'stringy');
});

test('shorthand properties of imported names stay live', async (t) => {
  const { ns } = await startProject(t, {
    'state.ts': `export let level = 1;\nexport function bump() { level++; }\n`,
    'main.ts': `import { level, bump } from './state.ts';\nexport function snapshot() { return { level }; }\nbump();\n`,
  });
  assert.deepEqual(ns('main.ts').snapshot(), { level: 2 });
  ns('state.ts').bump();
  assert.deepEqual(ns('main.ts').snapshot(), { level: 3 });
});

test('a local variable or parameter named like an import is not rewritten', async (t) => {
  const { ns } = await startProject(t, {
    'dep.ts': `export const name = 'imported';\nexport const other = 'other-imported';\n`,
    'main.ts': [
      `import { name, other } from './dep.ts';`,
      `function param(name: string) { return name; }`,
      `function local() { const name = 'local'; return name; }`,
      `function block() { { let other = 'block'; return other; } }`,
      `const arrow = (other: string) => ({ other });`,
      `function destructured({ name }: { name: string }) { return name; }`,
      `function caught() { try { throw 'thrown'; } catch (name) { return name; } }`,
      `class K { name = 'field'; get() { return this.name + '/' + name; } }`,
      `export const got = [param('p'), local(), block(), arrow('a').other, destructured({ name: 'd' }), caught(), new K().get(), name, { name }.name];`,
    ].join('\n'),
  });
  assert.deepEqual(ns('main.ts').got, ['p', 'local', 'block', 'a', 'd', 'thrown', 'field/imported', 'imported', 'imported']);
});

test('stack traces point at the original .ts file, line and column', async (t) => {
  const { project, ns } = await startProject(t, {
    'thrower.ts': [
      `interface Options {`,
      `  message: string;`,
      `}`,
      `type Unused = { a: number };`,
      `export function fail(options: Options): never {`,
      `  const prefix: string = 'boom: ';`,
      `  throw new Error(prefix + options.message);`,
      `}`,
    ].join('\n'),
    'main.ts': `export { fail } from './thrower.ts';\n`,
  });
  let error: any;
  try {
    ns('main.ts').fail({ message: 'here' });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof Error);
  assert.equal(error.message, 'boom: here');
  const file = project.file('thrower.ts');
  assert.ok(String(error.stack).includes(`${file}:7:9`), `stack should point at ${file}:7:9:\n${error.stack}`);
});

test('export * in a cycle: both namespaces have every name, as in Node', async (t) => {
  const { ns } = await startProject(t, {
    'a.ts': `export * from './b.ts';\nexport const a = 'a';\n`,
    'b.ts': `export * from './a.ts';\nexport const b = 'b';\n`,
    'main.ts': `import * as A from './a.ts';\nimport * as B from './b.ts';\nexport const keys = () => [Object.keys(A).sort(), Object.keys(B).sort()];\nexport const fromB = () => B.a;\n`,
  });
  assert.deepEqual(ns('main.ts').keys(), [
    ['a', 'b'],
    ['a', 'b'],
  ]);
  assert.equal(ns('main.ts').fromB(), 'a');
});

test('export * from a built-in module', async (t) => {
  const { ns } = await startProject(t, {
    'paths.ts': `export * from 'node:path';\nexport const mine = 1;\n`,
    'main.ts': `import * as p from './paths.ts';\nexport const got = [typeof p.join, p.mine, 'default' in p];\n`,
  });
  assert.deepEqual(ns('main.ts').got, ['function', 1, false]);
});
