/**
 * Packages that load the project's own files (issue #10.3): a plugin or route loader in
 * node_modules calls Node's import() or require() with a user `.ts` file, and so does import()
 * inside eval. Compared with tsx, which loads TypeScript through Node's loaders too; and the
 * module must be devhot's own instance (evaluated once), and follow saves.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBoth, sameAsTsx } from './helpers/differential.js';
import { expectStatus, startProject } from './helpers/project.js';

/** A loader package that imports or requires every file of a directory, as @fastify/autoload does. */
const LOADER = {
  'node_modules/loader/package.json': JSON.stringify({
    name: 'loader',
    type: 'module',
    exports: { '.': './index.js', './cjs': './cjs.cjs' },
  }),
  'node_modules/loader/index.js': [
    `import { readdirSync } from 'node:fs';`,
    `import { join } from 'node:path';`,
    `import { pathToFileURL } from 'node:url';`,
    `export async function loadAll(dir) {`,
    `  const out = {};`,
    `  for (const f of readdirSync(dir).sort()) out[f] = await import(pathToFileURL(join(dir, f)).href);`,
    `  return out;`,
    `}`,
  ].join('\n'),
  'node_modules/loader/cjs.cjs': `module.exports = (file) => require(file);\n`,
};

describe("Node's import() and require() of user files, from a package", () => {
  const tree = {
    ...LOADER,
    'shared.ts': `console.log('shared evaluated');\nexport const state = { n: 0 };\n`,
    'routes/a.ts': `import { state } from '../shared.ts';\nstate.n++;\nexport default (x: number): number => x + 1;\nexport const name: string = 'a';\n`,
    'routes/b.ts': `import { state } from '../shared.ts';\nstate.n++;\nexport const name = 'b';\n`,
  };

  it('import(): loads .ts files as tsx does, the same instance user code imports, evaluated once', async () => {
    const out = await sameAsTsx({
      ...tree,
      'main.ts': [
        `import { loadAll } from 'loader';`,
        `import { state } from './shared.ts';`,
        `import * as a from './routes/a.ts';`,
        `const routes = await loadAll(new URL('./routes', import.meta.url).pathname);`,
        `console.log(Object.keys(routes), routes['a.ts'].default(1), routes['b.ts'].name, state.n);`,
        `console.log('same values', routes['a.ts'].default === a.default);`,
        `const viaEval = await eval("import('./routes/a.ts')");`,
        `console.log('eval', viaEval.name, viaEval.default === a.default, state.n);`,
      ].join('\n'),
    });
    assert.deepEqual(out.lines, ['shared evaluated', "[ 'a.ts', 'b.ts' ] 2 b 2", 'same values true', 'eval a true 2']);
  });

  it('require(): the same instance too (tsx would evaluate shared.ts a second time, as CommonJS)', async () => {
    const { devhot } = await runBoth(
      {
        ...tree,
        'main.ts': [
          `import requireIt from 'loader/cjs';`,
          `import { state } from './shared.ts';`,
          `import * as b from './routes/b.ts';`,
          `const viaRequire = requireIt(new URL('./routes/b.ts', import.meta.url).pathname);`,
          `console.log('require', viaRequire.name, viaRequire.name === b.name, state.n);`,
        ].join('\n'),
      },
      'main.ts',
      'tsx',
    );
    assert.deepEqual(devhot.lines, ['shared evaluated', 'require b true 1']);
    assert.equal(devhot.entry, 'ok');
  });
});

describe('a save of a file a package loaded', () => {
  it('re-runs the entry, and the loader gets the new version', async (t) => {
    const { project, runner, ns } = await startProject(
      t,
      {
        ...LOADER,
        'routes/hello.ts': `export default () => 'hello v1';\n`,
        'main.ts': `import { loadAll } from 'loader';\nconst routes = await loadAll(new URL('./routes', import.meta.url).pathname);\nexport const answer = () => routes['hello.ts'].default();\n`,
      },
      { nativeLoads: true },
    );
    assert.equal(ns('main.ts').answer(), 'hello v1');
    const result = expectStatus(await runner.update([project.edit('routes/hello.ts', 'v1', 'v2')]), 'applied');
    assert.equal(result.rung, 'entry-reexecuted');
    assert.deepEqual(result.reexecuted.sort(), ['main.ts', 'routes/hello.ts']);
    assert.equal(ns('main.ts').answer(), 'hello v2');
  });
});

describe('forked children and workers run TypeScript', () => {
  const tree = {
    'tsconfig.json': JSON.stringify({ compilerOptions: { paths: { '#lib/*': ['./lib/*'] } } }),
    'lib/greet.ts': `export const greet = (who: string): string => 'hello ' + who;\n`,
    'job.ts': `import { greet } from '#lib/greet.ts';\nprocess.send!(greet('child') + ' ' + typeof __dirname);\n`,
    'worker.ts': `import { parentPort } from 'node:worker_threads';\nimport { greet } from './lib/greet.js';\nparentPort!.postMessage(greet('worker'));\n`,
  };

  it('child_process.fork of a .ts file, as under tsx', async () => {
    await sameAsTsx({
      ...tree,
      'main.ts': `import { fork } from 'node:child_process';\nconst child = fork(new URL('./job.ts', import.meta.url).pathname);\nchild.on('message', (m) => { console.log('child says', m); child.kill(); });\n`,
    });
  });

  it('new Worker of a .ts file (path and URL), where tsx fails', async () => {
    const { devhot } = await runBoth(
      {
        ...tree,
        'main.ts': [
          `import { Worker } from 'node:worker_threads';`,
          `for (const where of [new URL('./worker.ts', import.meta.url), './worker.ts']) {`,
          `  const worker = new Worker(where);`,
          `  console.log('worker says', await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); }));`,
          `  await worker.terminate();`,
          `}`,
        ].join('\n'),
      },
      'main.ts',
      'tsx',
    );
    assert.deepEqual(devhot.lines, ['worker says hello worker', 'worker says hello worker']);
    assert.equal(devhot.entry, 'ok');
  });
});
