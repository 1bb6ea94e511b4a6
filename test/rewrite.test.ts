/**
 * The ESM → generator-body rewrite, in memory: what it emits, what it leaves alone, and that it
 * keeps every line where it was (stack traces rely on it before any source map is read).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DevhotError, ErrorCodes } from '../src/errors.js';
import { RUNTIME, rewriteModule } from '../src/runner/rewrite.js';

const rewrite = (code: string, defaultFormat: 'esm' | 'cjs' = 'cjs') => rewriteModule(code, { file: '/project/mod.js', defaultFormat });

/** The code after the prelude line (everything the module itself wrote). */
const bodyOf = (code: string) => code.slice(code.indexOf('yield;') + 'yield;'.length);

/**
 * Run a rewritten module with fake dependency namespaces; returns its exports (read once
 * evaluated) and the value of `result` the body may assign to `out`.
 */
function run(code: string, deps: object[] = []): Record<string, unknown> {
  const r = rewrite(code, 'esm');
  const getters: Record<string, () => unknown> = {};
  const make = new Function(`return (function* (${RUNTIME}) {"use strict";\n${r.code}\n})`)() as (rt: object) => Generator;
  const gen = make({ d: deps, e: (g: object) => Object.assign(getters, g), s: () => {}, m: {}, i: async () => ({}) });
  gen.next();
  gen.next();
  return Object.fromEntries(Object.entries(getters).map(([k, g]) => [k, g()]));
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
    assert.match(out[7]!, /const marker = __dh_i0\.a \+ __dh_i0\.b;/);
    assert.match(out[9]!, /throw new Error\('line 10'\)/);
  });

  it('reads imported bindings through the namespace, and calls them with this undefined', () => {
    const body = bodyOf(
      rewrite(`import { f, g as h } from './x';\nimport * as ns from './y';\nimport d from './z';\nf(); h\`t\`; ns.k(); d.m; new f();\n`)
        .code,
    );
    assert.match(body, /\(0, __dh_i0\.f\)\(\)/);
    assert.match(body, /\(0, __dh_i0\.g\)`t`/);
    assert.match(body, /__dh_i1\.k\(\)/);
    assert.match(body, /__dh_i2\.default\.m/);
    assert.match(body, /new __dh_i0\.f\(\)/);
  });

  it('does not rewrite locals, parameters, properties or labels that share an import name', () => {
    const body = bodyOf(
      rewrite(
        [
          `import { x } from './x';`,
          `function p(x) { return x; }`,
          `const q = (x) => x;`,
          `{ let x = 1; x++; }`,
          `try {} catch (x) { x; }`,
          `for (const x of []) x;`,
          `const o = { x: 1 }; o.x;`,
          `class C { x = 1; x() {} }`,
          `x: for (;;) break x;`,
          `function hoisted() { return x; var x; }`,
        ].join('\n'),
      ).code,
    );
    assert.equal(body.includes('__dh_i0'), false, body);
  });

  it('expands shorthand properties of imports', () => {
    const body = bodyOf(rewrite(`import { x } from './x';\nexport const o = { x };\n`).code);
    assert.match(body, /\{ x: __dh_i0\.x \}/);
  });

  it('string export and import names use bracket access', () => {
    const r = rewrite(`import { "a-b" as ab } from './x';\nconst y = 1;\nexport { y as "the y" };\nexport const z = ab;\n`);
    assert.match(r.code, /"the y": \(\) => y/);
    assert.match(bodyOf(r.code), /__dh_i0\["a-b"\]/);
  });

  it('runs: live exports, hoisted anonymous default function, default expression, re-exported import', () => {
    const dep = { value: 'dep' };
    const out = run(
      [
        `import { value } from './dep';`,
        `export let counter = 0;`,
        `export function inc() { counter++; }`,
        `export { value as again };`,
        `export default class { static k = 'cls'; }`,
        `inc(); inc();`,
      ].join('\n'),
      [dep],
    );
    assert.equal(out.counter, 2);
    assert.equal(out.again, 'dep');
    assert.equal((out.default as { k: string }).k, 'cls');
  });

  it('an anonymous default function is hoisted and named "default"', () => {
    const out = run(`export const early = typeof __dh_default;\nexport default function () {}\n`);
    assert.equal(out.early, 'function');
    assert.equal((out.default as () => void).name, 'default');
  });

  it('export default of an expression is evaluated once, in place', () => {
    const out = run(`let n = 0;\nexport default ++n\nexport const after = n;\n`);
    assert.equal(out.default, 1);
    assert.equal(out.after, 1);
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

  it('import.meta and import() are routed to the runner', () => {
    const body = bodyOf(rewrite(`export const u = import.meta.url;\nexport const l = () => import('./lazy');\n`).code);
    assert.match(body, new RegExp(`${RUNTIME}\\.m\\.url`));
    assert.match(body, new RegExp(`${RUNTIME}\\.i\\('\\./lazy'\\)`));
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
