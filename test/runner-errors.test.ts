/**
 * Failures: a failed save leaves the last good code running, the error says file:line:column
 * with a code frame, and the next good save recovers without a restart (docs/design.md, "Invariants").
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DevhotError, ErrorCodes } from '../src/errors.js';
import { setUpMetadata } from '../src/runner/decorator-metadata.js';
import { G, expectStatus, projectWithRunner, rejection, startProject } from './helpers/project.js';

test("syntax error in a plain .js file (found by the rewrite's parser): file, line, column and frame; old code keeps working", async (t) => {
  const { project, runner, ns } = await startProject(
    t,
    {
      'util.js': `export const twice = (n) => n * 2;\n`,
      'main.js': `import { twice } from './util.js';\nexport const four = () => twice(2);\n`,
    },
    { entry: 'main.js' },
  );
  const result = expectStatus(
    await runner.update([project.write('util.js', `const base = 2;\nexport const twice = (n) => n * ;\n`)]),
    'error',
  );
  assert.equal(result.phase, 'transform');
  assert.equal(result.error.code, ErrorCodes.TRANSFORM);
  assert.equal(result.error.file, project.file('util.js'));
  assert.equal(result.error.line, 2);
  assert.equal(result.error.column, 33);
  assert.match(result.error.frame ?? '', />\s*2 \|\s+export const twice = \(n\) => n \* ;/);
  assert.match(result.error.message, /util\.js/);
  assert.equal(ns('main.js').four(), 4);
  expectStatus(await runner.update([project.write('util.js', `export const twice = (n) => n * 3;\n`)]), 'applied');
  assert.equal(ns('main.js').four(), 6);
});

test('syntax error in a .ts file: transform error with file, line, column and frame; old code keeps working', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'greet.ts': `export function greet(name: string): string {\n  return 'hello ' + name;\n}\n`,
    'main.ts': `import { greet } from './greet.ts';\nexport const hello = (n: string) => greet(n);\n`,
  });
  const broken = `export function greet(name: string): string {\n  return 'hello ' + ;\n}\n`;
  const result = expectStatus(await runner.update([project.write('greet.ts', broken)]), 'error');
  assert.equal(result.phase, 'transform');
  assert.equal(result.error.code, ErrorCodes.TRANSFORM);
  assert.equal(result.error.file, project.file('greet.ts'));
  assert.equal(result.error.line, 2);
  assert.equal(result.error.column, 21);
  assert.match(result.error.frame ?? '', />\s*2 \|\s+return 'hello ' \+ ;/);
  assert.match(result.error.frame ?? '', /\^/);
  assert.match(result.error.message, /greet\.ts/);
  assert.equal(ns('main.ts').hello('old'), 'hello old');

  const fixed = expectStatus(await runner.update([project.edit('greet.ts', '+ ;', "+ name + '!';")]), 'applied');
  assert.deepEqual(fixed.reexecuted, ['greet.ts', 'main.ts']);
  assert.equal(ns('main.ts').hello('new'), 'hello new!');
});

test('syntax error in a plain .js file (parsed by the rewrite) has a location and frame too', async (t) => {
  const { project, runner } = await startProject(t, {
    'plain.js': `export const ok = 1;\n`,
    'main.ts': `import { ok } from './plain.js';\nexport const got = ok;\n`,
  });
  const result = expectStatus(await runner.update([project.write('plain.js', `export const ok = 1;\nexport const bad = {;\n`)]), 'error');
  assert.equal(result.phase, 'transform');
  assert.equal(result.error.file, project.file('plain.js'));
  assert.equal(result.error.line, 2);
  assert.ok(result.error.frame?.includes('export const bad = {;'), result.error.frame);
});

test('invalid JSON is a transform error; the previous value stays', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'data.json': `{"v": 1}`,
    'main.ts': `import data from './data.json';\nexport const read = () => data.v;\n`,
  });
  const result = expectStatus(await runner.update([project.write('data.json', `{"v": }`)]), 'error');
  assert.equal(result.phase, 'transform');
  assert.match(result.error.message, /data\.json/);
  assert.equal(ns('main.ts').read(), 1);
  expectStatus(await runner.update([project.write('data.json', `{"v": 2}`)]), 'applied');
  assert.equal(ns('main.ts').read(), 2);
});

test('a module that throws while re-executing is rolled back; the error points at the .ts line', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'config.ts': `export const port: number = 1000;\n`,
    'main.ts': `import { port } from './config.ts';\nexport const read = () => port;\n`,
  });
  const throwing = `type Port = number;\nexport const port: Port = 2000;\nif (port > 1500) {\n  throw new Error('port too high');\n}\n`;
  const result = expectStatus(await runner.update([project.write('config.ts', throwing)]), 'error');
  assert.equal(result.phase, 'evaluate');
  assert.equal(result.error.code, ErrorCodes.EVALUATION);
  assert.match(result.error.message, /port too high/);
  assert.equal(result.error.file, project.file('config.ts'));
  assert.equal(result.error.line, 4);
  assert.equal(result.error.column, 9);
  assert.match(result.error.frame ?? '', />\s*4 \|\s+throw new Error/);
  assert.ok(result.error.stack?.includes(`${project.file('config.ts')}:4:9`), result.error.stack);
  // Importers see the previous instance's exports.
  assert.equal(ns('main.ts').read(), 1000);
  assert.equal(ns('config.ts').port, 1000);

  expectStatus(await runner.update([project.write('config.ts', `export const port: number = 3000;\n`)]), 'applied');
  assert.equal(ns('main.ts').read(), 3000);
});

test('a failed evaluation keeps the last good code serving: disposed modules run their last good version again', async (t) => {
  const K = '__t_serving';
  const { project, runner, ns } = await startProject(t, {
    'routes.ts': `export const route = () => 'v1';\n`,
    // The entry owns a resource (think: the HTTP server) and releases it in dispose.
    'main.ts': [
      `import { route } from './routes.ts';`,
      `globalThis.${K} = { open: (globalThis.${K}?.open ?? 0) + 1, handler: () => route() };`,
      `import.meta.hot?.dispose(() => { globalThis.${K}.open--; });`,
    ].join('\n'),
  });
  assert.equal(G[K].open, 1);
  const result = expectStatus(
    await runner.update([project.write('routes.ts', `throw new Error('broken route');\nexport const route = () => 'v2';\n`)]),
    'error',
  );
  assert.equal(result.phase, 'evaluate');
  // The resource is open again and answers with the last good code.
  assert.equal(G[K].open, 1);
  assert.equal(G[K].handler(), 'v1');
  assert.equal(ns('routes.ts').route(), 'v1');

  expectStatus(await runner.update([project.write('routes.ts', `export const route = () => 'v3';\n`)]), 'applied');
  assert.equal(G[K].open, 1);
  assert.equal(G[K].handler(), 'v3');
});

test('a failed self-accepting update: the old instance is restored and the next save recovers', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'svc.ts': `export const svc = () => 'ok1';\nimport.meta.hot?.accept();\n`,
    'main.ts': `import { svc } from './svc.ts';\nexport const call = () => svc();\n`,
  });
  const result = expectStatus(
    await runner.update([project.write('svc.ts', `export const svc = () => 'bad';\nimport.meta.hot?.accept();\nnull!.boom;\n`)]),
    'error',
  );
  assert.equal(result.phase, 'evaluate');
  assert.match(result.error.message, /TypeError/);
  assert.equal(result.error.line, 3);
  assert.equal(ns('main.ts').call(), 'ok1');
  expectStatus(await runner.update([project.write('svc.ts', `export const svc = () => 'ok2';\nimport.meta.hot?.accept();\n`)]), 'applied');
  assert.equal(ns('main.ts').call(), 'ok2');
});

test('a dispose handler that throws is a warning, not a failure', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'main.ts': `export const v = 1;\nimport.meta.hot?.accept();\nimport.meta.hot?.dispose(() => { throw new Error('dispose broke'); });\n`,
  });
  const result = expectStatus(await runner.update([project.edit('main.ts', 'v = 1', 'v = 2')]), 'applied');
  assert.ok(
    result.warnings.some((w) => w.includes('dispose broke')),
    JSON.stringify(result.warnings),
  );
  assert.equal(ns('main.ts').v, 2);
});

test('missing entry: start() rejects with DEVHOT_ERR_ENTRY_NOT_FOUND', async (t) => {
  const { runner } = projectWithRunner(t, {}, { entry: 'src/nope.ts' });
  const error = await rejection(() => runner.start());
  assert.ok(error instanceof DevhotError);
  assert.equal(error.code, ErrorCodes.ENTRY_NOT_FOUND);
  assert.match(error.message, /nope\.ts/);
  assert.ok(error.fix);
});

test('an unresolvable import at start: DEVHOT_ERR_RESOLVE naming the specifier and the importer', async (t) => {
  const { runner } = projectWithRunner(t, {
    'main.ts': `import './lib/helper.ts';\n`,
    'lib/helper.ts': `import { x } from './not-there';\nexport const y = x;\n`,
  });
  const error = await rejection(() => runner.start());
  assert.ok(error instanceof DevhotError, String(error));
  assert.equal(error.code, ErrorCodes.RESOLVE);
  assert.match(error.message, /\.\/not-there/);
  assert.match(error.message, /helper\.ts/);
  // At the import, as written (a code frame of it follows): line 1, the specifier's quote.
  assert.deepEqual(error.loc && { line: error.loc.line, column: error.loc.column }, { line: 1, column: 19 });
  assert.ok(error.loc?.file.endsWith('helper.ts'), error.loc?.file);
  assert.match(error.frame ?? '', /> 1 \| import \{ x \} from '\.\/not-there';/);
});

test('importing an unsupported file type is an error naming the file', async (t) => {
  const { runner } = projectWithRunner(t, {
    'style.css': `body { color: red }\n`,
    'main.ts': `import './style.css';\n`,
  });
  const error = await rejection(() => runner.start());
  assert.ok(error instanceof DevhotError, String(error));
  assert.equal(error.code, ErrorCodes.UNSUPPORTED_FILE);
  assert.match(error.message, /style\.css/);
});

test('a start that fails on evaluation reports the .ts location; a fixing update() starts the app', async (t) => {
  const { project, runner } = projectWithRunner(t, {
    'dep.ts': `export const value: string = 'x';\nthrow new Error('not yet');\n`,
    'main.ts': `import { value } from './dep.ts';\nglobalThis.__t_started = value;\n`,
  });
  const error = await rejection(() => runner.start());
  assert.ok(error instanceof DevhotError, String(error));
  assert.equal(error.code, ErrorCodes.EVALUATION);
  assert.deepEqual(error.loc, { file: project.file('dep.ts'), line: 2, column: 7 });
  assert.match(error.frame ?? '', /throw new Error\('not yet'\)/);
  assert.equal(G.__t_started, undefined);

  const result = expectStatus(await runner.update([project.write('dep.ts', `export const value: string = 'started';\n`)]), 'applied');
  assert.equal(result.rung, 'entry-reexecuted');
  assert.equal(G.__t_started, 'started');
  // And later updates work as usual.
  expectStatus(await runner.update([project.write('dep.ts', `export const value: string = 'again';\n`)]), 'applied');
  assert.equal(G.__t_started, 'again');
});

test('a start that fails to resolve recovers when the missing file is created', async (t) => {
  const { project, runner } = projectWithRunner(t, { 'main.ts': `import { v } from './later.ts';\nglobalThis.__t_later = v;\n` });
  await assert.rejects(runner.start(), { code: ErrorCodes.RESOLVE });
  expectStatus(await runner.update([project.write('later.ts', `export const v = 'created';\n`)]), 'applied');
  assert.equal(G.__t_later, 'created');
});

test('deleting the entry is an error; the old code keeps running; restoring it recovers', async (t) => {
  const { project, runner, ns } = await startProject(t, { 'main.ts': `export const v = 1;\n` });
  const result = expectStatus(await runner.update([project.remove('main.ts')]), 'error');
  assert.equal(result.error.code, ErrorCodes.ENTRY_NOT_FOUND);
  assert.equal(ns('main.ts').v, 1);
  expectStatus(await runner.update([project.write('main.ts', `export const v = 2;\n`)]), 'applied');
  assert.equal(ns('main.ts').v, 2);
});

test('a failed update is retried with the next save of another module, not with a file that cannot fix it: a log, a text file', async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'a.ts': `export const a = 'a1';\n`,
    'b.ts': `export const b = 'b1';\n`,
    'main.ts': `import { a } from './a.ts';\nimport { b } from './b.ts';\nexport const got = () => a + b;\n`,
  });
  expectStatus(
    await runner.update([project.write('a.ts', `export const a = 'a2';\n`), project.write('b.ts', `export const b = ;\n`)]),
    'error',
  );
  assert.equal(ns('main.ts').got(), 'a1b1');
  // Output written into the project (a log, devhot's own --json) runs nothing: no error again.
  expectStatus(await runner.update([project.write('dev.log', 'update failed\n')]), 'unchanged');
  expectStatus(await runner.update([{ file: project.write('events.jsonl', '{}\n'), kind: 'change' }]), 'unchanged');
  expectStatus(await runner.update([{ file: project.write('data.json', '{}'), kind: 'change' }]), 'unchanged');
  assert.equal(ns('main.ts').got(), 'a1b1');
  // The failed update still stands: fixing b.ts alone applies a.ts's change with it.
  expectStatus(await runner.update([project.write('b.ts', `export const b = 'b2';\n`)]), 'applied');
  assert.equal(ns('main.ts').got(), 'a2b2');
});

test("an error thrown by a later version maps to that version's lines", async (t) => {
  const { project, runner, ns } = await startProject(t, {
    'thrower.ts': `export function boom(): never {\n  throw new Error('v1');\n}\n`,
    'main.ts': `export { boom } from './thrower.ts';\n`,
  });
  expectStatus(
    await runner.update([
      project.write('thrower.ts', `// moved down\n\ntype X = 1;\nexport function boom(): never {\n  throw new Error('v2');\n}\n`),
    ]),
    'applied',
  );
  let stack = '';
  try {
    ns('main.ts').boom();
  } catch (error) {
    stack = String((error as Error).stack);
  }
  assert.match(stack, /Error: v2/);
  assert.ok(stack.includes(`${project.file('thrower.ts')}:5:9`), stack);
  assert.equal(stack.includes('?v='), false, stack);
});

test('a failed evaluation with no dispose handler involved runs no old code again', async (t) => {
  const K = '__t_norestore_runs';
  const { project, runner, ns } = await startProject(t, {
    'dep.ts': `export const d = 1;\n`,
    'main.ts': `import { d } from './dep.ts';\nglobalThis.${K} = (globalThis.${K} ?? 0) + 1;\nexport const got = d;\n`,
  });
  expectStatus(await runner.update([project.write('dep.ts', `throw new Error('no');\n`)]), 'error');
  assert.equal(G[K], 1);
  assert.equal(ns('main.ts').got, 1);
});

test('emitDecoratorMetadata in tsconfig: a decorated file gets design:paramtypes, as tsc emits it, and stack lines of its .ts source', async (t) => {
  const tsconfig = JSON.stringify({ compilerOptions: { experimentalDecorators: true, emitDecoratorMetadata: true } });
  const { start, ns } = await startProject(
    t,
    {
      'tsconfig.json': tsconfig,
      'main.ts': `import 'reflect-metadata';
export class Dep {}
function injectable(): ClassDecorator {
  return () => {};
}
@injectable()
export class Service {
  constructor(readonly dep: Dep, readonly name: string) {}
  fail(): never {
    throw new Error('from a decorated file');
  }
}
export const paramtypes = Reflect.getMetadata('design:paramtypes', Service);
`,
    },
    { linkNodeModules: true },
  );
  assert.ok(start.status === 'applied' && !start.warnings.some((w) => w.includes('emitDecoratorMetadata')), JSON.stringify(start));
  const main = ns('main.ts');
  assert.deepEqual(main.paramtypes, [main.Dep, String]);
  const error = (() => {
    try {
      new main.Service(new main.Dep(), 'x').fail();
    } catch (e) {
      return e as Error;
    }
  })();
  assert.match(error!.stack!, /main\.ts:10:11/, 'the throw, on its line of the .ts source');
});

test('emitDecoratorMetadata without experimentalDecorators: the start says why there is no metadata', () => {
  const on = { experimentalDecorators: true, emitDecoratorMetadata: true };
  assert.match(setUpMetadata({ emitDecoratorMetadata: true }, 'tsconfig.json').warning ?? '', /experimentalDecorators/);
  assert.ok(setUpMetadata(on, 'tsconfig.json').transformer);
  assert.deepEqual(setUpMetadata({ experimentalDecorators: true }, 'tsconfig.json'), {});
});

test('without emitDecoratorMetadata there is no such warning', async (t) => {
  const { start } = await startProject(t, {
    'tsconfig.json': JSON.stringify({ compilerOptions: { experimentalDecorators: true } }),
    'main.ts': `export const x = 1;\n`,
  });
  assert.ok(start.status === 'applied' && !start.warnings.some((w) => w.includes('emitDecoratorMetadata')));
});

test('a tsconfig whose "extends" names a missing base fails the start with DEVHOT_ERR_TSCONFIG, as tsc does (TS5083)', async (t) => {
  const { runner } = projectWithRunner(t, {
    'tsconfig.json': JSON.stringify({ extends: './configs/base.json' }),
    'main.ts': `export const ok = 1;\n`,
  });
  const error = await rejection(() => runner.start());
  assert.ok(error instanceof DevhotError, String(error));
  assert.equal(error.code, ErrorCodes.TSCONFIG);
  assert.match(error.message, /configs[/\\]base\.json/);
  assert.ok(error.fix);
});
