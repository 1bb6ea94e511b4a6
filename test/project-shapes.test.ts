/**
 * TypeScript project shapes as tsx runs them (issue #10): each fixture runs under tsx and under
 * devhot's runner, and both must print the same lines and end the same way
 * (helpers/differential.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBoth, sameAsNode, sameAsTsx } from './helpers/differential.js';

/** A package without "type": "module", as the express, koa, socket.io and NestJS starters have. */
const CJS_PACKAGE = JSON.stringify({ name: 'fixture', private: true });

describe('CommonJS TypeScript', () => {
  it('.ts files of a CommonJS package are CommonJS: __dirname, require, module, exports, import = require, export =', async () => {
    const out = await sameAsTsx({
      'package.json': CJS_PACKAGE,
      'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'commonjs', esModuleInterop: true } }),
      'greeter.ts': `class Greeter { greet(n: string) { return 'hello ' + n; } }\nexport = Greeter;\n`,
      'config.ts': `export const port: number = 3000;\nexport default { name: 'app' };\n`,
      'main.ts': [
        `import path = require('node:path');`,
        `import Greeter = require('./greeter');`,
        `import config, { port } from './config';`,
        `console.log(path.basename(__filename), path.basename(__dirname) === path.basename(process.cwd()));`,
        `console.log(typeof require, typeof module, typeof exports, module.exports === exports);`,
        `console.log(new Greeter().greet('ts'), port, config.name);`,
        `console.log(require('./config').port, require.main === module, require.main?.filename === __filename);`,
      ].join('\n'),
    });
    assert.deepEqual(out.lines, ['main.ts true', 'function object object true', 'hello ts 3000 app', '3000 true true']);
  });

  it('an ES module required from CommonJS TypeScript has __esModule and its default, as Node gives it', async () => {
    await sameAsTsx({
      'package.json': CJS_PACKAGE,
      'util.mts': `export default function greet() { return 'hi'; }\nexport const x = 1;\n`,
      'main.ts': `import greet, { x } from './util.mjs';\nconst raw = require('./util.mjs');\nconsole.log(greet(), x, raw.__esModule, typeof raw.default);\n`,
    });
  });

  it('top-level await in a CommonJS .ts file is an error (as under tsx) naming the file and the fix', async () => {
    const tree = { 'package.json': CJS_PACKAGE, 'main.ts': `console.log('ran');\nawait Promise.resolve();\n` };
    const { reference, devhot } = await runBoth(tree, 'main.ts', 'tsx');
    assert.notEqual(reference.entry, 'ok', 'tsx refuses it too');
    assert.deepEqual(devhot.lines, reference.lines);
    assert.ok(devhot.entry !== 'ok');
    assert.match(devhot.entry.message, /Top-level await in .*main\.ts, which is a CommonJS module/);
  });
});

describe('CommonJS TypeScript compiled ahead (prefetch.ts)', () => {
  /** A require() chain, and requires no run takes: a broken file, a missing one, one that prints, a JSON file. */
  const tree = {
    'package.json': CJS_PACKAGE,
    'main.ts': [
      `import { a } from './a';`,
      `console.log('main', a);`,
      `if (process.env.DEVHOT_NEVER_SET) require('./broken');`,
      `if (process.env.DEVHOT_NEVER_SET) require('./missing');`,
      `if (process.env.DEVHOT_NEVER_SET) require('./loud');`,
      `if (process.env.DEVHOT_NEVER_SET) require('./data.json');`,
    ].join('\n'),
    'a.ts': `import { b } from './b';\nexport const a: number = b + 1;\n`,
    'b.ts': `export const b: number = 1;\n`,
    'broken.ts': `export const = ;\n`,
    'loud.ts': `console.log('loud ran');\n`,
    'data.json': `{ "big": true }\n`,
  };

  it('a require no run reaches neither runs nor fails the start, as under tsx, though it was compiled ahead', async () => {
    const out = await sameAsTsx(tree);
    assert.deepEqual(out.lines, ['main 2']);
  });

  it('the files a CommonJS module requires are compiled before it runs, and join the graph only when required', async (t) => {
    const { startProject } = await import('./helpers/project.js');
    const { project, runner } = await startProject(t, tree, { esm: false });
    // main compiled by the start; a, b and loud ahead, then found in memory by their require()
    // (the broken one failed, the missing one never resolved, JSON is not compiled ahead).
    assert.deepEqual({ ...runner.compilerStats }, { memoryHits: 2, diskHits: 0, misses: 4, packHits: 0, packLinks: 0 });
    assert.deepEqual([...runner.modules.keys()].sort(), ['a.ts', 'b.ts', 'main.ts'].map((f) => project.file(f)).sort());
  });
});

describe('CommonJS TypeScript under hot updates', () => {
  it('a save re-runs the importers with the new exports; a throwing save rolls back; stack lines are the .ts lines', async (t) => {
    const { startProject, expectStatus } = await import('./helpers/project.js');
    const { project, runner, ns } = await startProject(
      t,
      {
        'package.json': CJS_PACKAGE,
        'config.ts': `export const level: number = 1;\n`,
        'main.ts': `import { level } from './config';\nexport const read = () => level;\nexport const here = () => __filename;\n`,
      },
      { esm: false },
    );
    assert.equal(ns('main.ts').read(), 1);
    assert.equal(ns('main.ts').here(), project.file('main.ts'));
    expectStatus(await runner.update([project.edit('config.ts', 'level: number = 1', 'level: number = 2')]), 'applied');
    assert.equal(ns('main.ts').read(), 2);
    const failed = expectStatus(
      await runner.update([project.write('config.ts', `type N = number;\n\nthrow new Error('boom');\nexport const level: N = 3;\n`)]),
      'error',
    );
    assert.equal(failed.error.file, project.file('config.ts'));
    assert.equal(failed.error.line, 3);
    assert.equal(ns('main.ts').read(), 2, 'the previous version keeps serving');
  });
});

describe('timers and process listeners, which devhot wraps to stop what replaced code left running', () => {
  it('behave as under node: setTimeout chains and arguments, setInterval, clear*, promisified and node:timers forms, process.once', async () => {
    await sameAsNode(
      {
        'main.js': [
          `import timers from 'node:timers';`,
          `import { setTimeout as sleep } from 'node:timers/promises';`,
          `import { promisify } from 'node:util';`,
          `const log = [];`,
          `const t = setTimeout((a, b) => log.push('timeout ' + a + b), 5, 'x', 'y');`,
          `log.push('ref ' + t.hasRef() + ' ' + typeof t[Symbol.toPrimitive]);`,
          `const cancelled = setTimeout(() => log.push('never'), 1);`,
          `clearTimeout(cancelled);`,
          `let n = 0;`,
          `const i = setInterval(() => { if (++n === 3) { clearInterval(i); log.push('interval 3'); } }, 1);`,
          `const chain = (k) => k === 0 ? log.push('chain done') : setTimeout(() => chain(k - 1), 1);`,
          `chain(3);`,
          `timers.setTimeout(() => log.push('node:timers'), 2);`,
          `await promisify(setTimeout)(20);`,
          `log.push('promisified: ' + (await promisify(setTimeout)(1, 'value')));`,
          `log.push('timers/promises: ' + (await sleep(1, 'v2')));`,
          `const before = process.listenerCount('beforeExit');`,
          `process.once('beforeExit', () => console.log(log.sort().join('\\n'), '|', process.listenerCount('beforeExit') - before));`,
        ].join('\n'),
      },
      'main.js',
    );
  });
});
