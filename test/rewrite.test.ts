/**
 * The ESM → generator-body rewrite, in memory: what it emits, what it leaves alone, and that it
 * keeps every line where it was (stack traces rely on it before any source map is read).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DevhotError, ErrorCodes } from '../src/errors.js';
import { createCompiler, rewriteMapOf } from '../src/runner/compile.js';
import { compileBody } from '../src/runner/instance.js';
import { RUNTIME, rewriteModule } from '../src/runner/rewrite.js';
import { FreshModule } from '../src/runner/fresh-module.js';

const rewrite = (code: string, defaultFormat: 'esm' | 'cjs' = 'cjs') => rewriteModule(code, { file: '/project/mod.js', defaultFormat });

/** The code after the prelude line (everything the module itself wrote). */
const bodyOf = (code: string) => code.slice(code.indexOf('yield;') + 'yield;'.length);

/**
 * Run a rewritten module the way the runner does (its binding scopes, its first step, then its
 * body), with `imports` giving each imported local its value; returns its exports, read once
 * evaluated, and the values its exporters told importers about (`__dh__.u`).
 */
function run(code: string, imports: Record<string, unknown> = {}): { exports: Record<string, unknown>; told: unknown[] } {
  const r = rewrite(code, 'esm');
  const info = r.module!;
  const compiled = new FreshModule('/project/mod.js', '', r.code, r.format, r.async, r.deps, r.module, [null, code]);
  const body = compileBody({ compiled, deps: [], number: 1 }, '/project/mod.js', '');
  let getter: (j: number) => unknown = () => undefined;
  const told: unknown[] = [];
  const runtime = {
    e: (g: (j: number) => unknown) => (getter = g),
    n: () => {},
    u: (j: number, value?: unknown) => {
      told.push(getter(j));
      return value;
    },
    v: (k: number) => imports[info.imports[k]!.local],
    w: () => {},
    k: {},
    g: {},
    m: {},
    i: async () => ({}),
  };
  const outer = body(runtime) as Generator<unknown>;
  const levels = [outer];
  let next = outer.next().value as () => Generator<unknown>;
  for (let k = 1; k < info.imports.length; k++) {
    levels.push(next());
    next = levels[k]!.next().value as () => Generator<unknown>;
  }
  const gen = next();
  gen.next();
  for (const level of levels) level.next();
  gen.next();
  const exports: Record<string, unknown> = {};
  for (const [name, j] of info.localExports) exports[name] = getter(j);
  return { exports, told };
}

describe('rewrite: imports and exports', () => {
  it('lists static dependencies in source order, once each, with import attributes', () => {
    const r = rewrite(
      `import a from './a';\nimport { b } from './b';\nimport './a';\nimport data from './d.json' with { type: 'json' };\nexport * from './e';\nexport { f } from './f';\n`,
    );
    assert.deepEqual(r.deps, [
      { specifier: './a' },
      { specifier: './b' },
      { specifier: './d.json', attributes: { type: 'json' } },
      { specifier: './e' },
      { specifier: './f' },
    ]);
    assert.equal(r.format, 'esm');
  });

  it('keeps every line in place', () => {
    const source = [
      `import {`,
      `  a,`,
      `  b,`,
      `} from './ab';`,
      `export {`,
      `  a as c,`,
      `};`,
      `export const marker = a + b;`,
      `export default function () {}`,
      `throw new Error('line 10');`,
    ].join('\n');
    const out = rewrite(source).code.split('\n');
    assert.equal(out.length, source.split('\n').length);
    assert.match(out[7]!, /^const marker = a \+ b; __dh__\.n\(0\);$/);
    assert.match(out[9]!, /throw new Error\('line 10'\)/);
  });

  it('leaves references to imports as written, and describes each import and export', () => {
    const r = rewrite(
      `import { f, g as h } from './x';\nimport * as ns from './y';\nimport d from './z';\nf(); h\`t\`; ns.k(); d.m; new f();\nexport { h as again, ns };\n`,
    );
    assert.match(bodyOf(r.code), /f\(\); h`t`; ns\.k\(\); d\.m; new f\(\);/);
    assert.deepEqual(
      r.module!.imports.map(({ local, request, name }) => [local, request, name]),
      [
        ['f', 0, 'f'],
        ['h', 0, 'g'],
        ['ns', 1, null],
        ['d', 2, 'default'],
      ],
    );
    // An imported binding exported again is an indirect export; a namespace import is a local one.
    assert.deepEqual(
      r.module!.indirectExports.map(({ name, request, importName }) => [name, request, importName]),
      [['again', 0, 'g']],
    );
    assert.deepEqual(r.module!.locals, [{ name: 'ns', hoisted: false, importBinding: 2 }]);
  });

  it('an assignment to an import becomes one that throws; locals of the same name are left alone', () => {
    const body = bodyOf(
      rewrite(
        [
          `import { x } from './x';`,
          `x = 1; x++; ({ x } = o); [x] = a;`,
          `function p(x) { x = 2; }`,
          `{ let x = 1; x++; }`,
          `try {} catch (x) { x = 3; }`,
        ].join('\n'),
      ).code,
    );
    assert.match(body, /__dh__\.k\.x = 1; __dh__\.k\.x\+\+; \(\{ x: __dh__\.k\.x \} = o\); \[__dh__\.k\.x\] = a;/);
    assert.match(body, /function p\(x\) \{ x = 2; \}/);
    assert.match(body, /\{ let x = 1; x\+\+; \}/);
    assert.match(body, /catch \(x\) \{ x = 3; \}/);
  });

  it('string export and import names', () => {
    const r = rewrite(`import { "a-b" as ab } from './x';\nconst y = 1;\nexport { y as "the y" };\nexport const z = ab;\n`);
    assert.equal(r.module!.imports[0]!.name, 'a-b');
    assert.deepEqual(r.module!.localExports, [
      ['the y', 0],
      ['z', 1],
    ]);
  });

  it('runs: live exports, hoisted anonymous default function, default expression, re-exported import', () => {
    const { exports, told } = run(
      [
        `import { value } from './dep';`,
        `export let counter = 0;`,
        `export function inc() { counter++; }`,
        `export { value as again };`,
        `export default class { static k = 'cls'; }`,
        `inc(); inc();`,
      ].join('\n'),
      { value: 'dep' },
    );
    assert.equal(exports.counter, 2);
    assert.deepEqual(told, [1, 2], 'each assignment to an exported binding is told');
    assert.equal((exports.default as { k: string }).k, 'cls');
    assert.equal((exports.default as () => void).name, 'default');
  });

  it('an anonymous default function is hoisted and named "default"', () => {
    const { exports } = run(`export const early = typeof __dh_default;\nexport default function () {}\n`);
    assert.equal(exports.early, 'function');
    assert.equal((exports.default as () => void).name, 'default');
  });

  it('export default of an expression is evaluated once, in place; a parenthesised one keeps its parentheses', () => {
    assert.deepEqual(run(`let n = 0;\nexport default ++n\nexport const after = n;\n`).exports, { default: 1, after: 1 });
    for (const expr of ['(function () {})', '(class {})', '(() => 1)', '(0, function () {})']) {
      const value = run(`export default ${expr};\n`).exports.default as { name: string };
      assert.equal(typeof value, 'function', expr);
      // A comma expression is not an anonymous function definition: it keeps no name (§16.2.3.7).
      assert.equal(value.name, expr.startsWith('(0,') ? '' : 'default', expr);
    }
  });

  it('var, for heads and destructuring assignments to exported bindings tell the runner', () => {
    const { exports, told } = run(
      [`export var v = 1;`, `export let a, b;`, `[a, b] = [2, 3];`, `for (v of [4, 5]);`, `if (true) var v = 6;`].join('\n'),
    );
    assert.deepEqual(exports, { v: 6, a: 2, b: 3 });
    assert.deepEqual(told, [1, 2, 3, 4, 5, 6]);
  });
});

describe('rewrite: module format and top-level await', () => {
  it('code without module syntax takes the default format', () => {
    assert.equal(rewrite(`module.exports = 1;\n`, 'cjs').format, 'cjs');
    assert.equal(rewrite(`globalThis.x = 1;\n`, 'esm').format, 'esm');
    assert.deepEqual(rewrite(`require('./x');\n`, 'cjs').deps, []);
  });

  it('import.meta or top-level await make it ESM', () => {
    assert.equal(rewrite(`console.log(import.meta.url);\n`, 'cjs').format, 'esm');
    const r = rewrite(`await 1;\n`, 'cjs');
    assert.equal(r.format, 'esm');
    assert.equal(r.async, true);
  });

  it('await inside a function or for await in a function is not top-level', () => {
    assert.equal(rewrite(`export async function f() { await 1; for await (const x of []) x; }\n`).async, false);
    assert.equal(rewrite(`for await (const x of []) x;\nexport {};\n`).async, true);
    assert.equal(rewrite(`class A { x = async () => { await 1; }; }\nexport {};\n`).async, false);
  });

  it('import.meta and import() are routed to the runner; import((x)) keeps its parentheses', () => {
    const body = bodyOf(rewrite(`export const u = import.meta.url;\nexport const l = () => import('./lazy');\nimport(('./x.js'));\n`).code);
    assert.match(body, new RegExp(`${RUNTIME}\\.m\\.url`));
    assert.match(body, new RegExp(`${RUNTIME}\\.i\\('\\./lazy'\\)`));
    assert.match(body, new RegExp(`${RUNTIME}\\.i\\(\\('\\./x\\.js'\\)\\)`));
  });

  it('top-level arguments is a global lookup, as in module code; inside functions it is theirs', () => {
    const body = bodyOf(
      rewrite(`export const t = typeof arguments;\nconst f = () => arguments;\nfunction g() { return arguments; }\n`).code,
    );
    assert.match(body, /const t = typeof globalThis\.arguments;/);
    assert.match(body, /const f = \(\) => __dh__\.g\.arguments;/);
    assert.match(body, /function g\(\) \{ return arguments; \}/);
  });

  it('CommonJS-only syntax still parses in a CommonJS file', () => {
    const r = rewrite(`with (Math) { max(1, 2); }\nreturn;\n`, 'cjs');
    assert.equal(r.format, 'cjs');
  });
});

describe('rewrite: errors', () => {
  it('a syntax error is a DEVHOT_ERR_TRANSFORM with the location', () => {
    let caught: unknown;
    try {
      rewrite(`export const a = 1;\nexport const b = (;\n`);
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof DevhotError);
    assert.equal(caught.code, ErrorCodes.TRANSFORM);
    assert.equal(caught.loc?.file, '/project/mod.js');
    assert.equal(caught.loc?.line, 2);
    assert.equal(caught.loc?.column, 19);
  });
});

describe('the rewrite map, made when first asked for (compile.ts, rewriteMapOf)', () => {
  // Each input with the package format it was compiled under: module syntax, plain code in an
  // ES module package, and CommonJS that only parses as a script (`with`, a top-level return).
  const cases: Array<[string, 'esm' | 'cjs', string]> = [
    ['module syntax', 'cjs', `import { a } from './a.js';\nexport let b = a + 1;\nexport function bump() { b++; }\n`],
    ['plain code, ES module package', 'esm', `const x = 1;\nglobalThis.y = x;\n`],
    ['a CommonJS script', 'cjs', `with (Math) { module.exports = max(1, 2); }\nif (module.exports) return;\n`],
  ];
  for (const [name, packageFormat, js] of cases) {
    it(`${name}: the same map as the compile would have made`, () => {
      const compiler = createCompiler({ cacheDir: false, tsconfigRaw: undefined, defaultFormat: () => packageFormat });
      const compiled = compiler.compileSync('/project/mod.js', js);
      assert.equal(compiled.rewriteInput, js);
      const expected = rewriteModule(js, { file: '/project/mod.js', defaultFormat: packageFormat, map: true }).map;
      assert.ok(expected);
      assert.equal(rewriteMapOf(compiled), expected);
      assert.equal(rewriteModule(js, { file: '/project/mod.js', defaultFormat: packageFormat }).map, undefined, 'no map unless asked');
    });
  }
});
