/**
 * Which transformer compiles a file (src/runner/oxc-transform.ts): Oxc where its output is
 * esbuild's, esbuild where it is not. Each fixture runs under tsx (which compiles with esbuild)
 * and under devhot, and both must print the same lines and end the same way; and a start of
 * plain TypeScript runs no esbuild service, while a file only esbuild compiles starts one.
 */
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { sameAsTsx } from './helpers/differential.js';
import { esbuildServices } from './helpers/esbuild-services.js';
import { expectStatus, startProject } from './helpers/project.js';

/** Prints what a class field does to a setter its base class has (defined: no call; assigned: a call). */
const FIELD_SEMANTICS = [
  `class Base { set x(v: number) { console.log('base setter', v); } }`,
  `class Child extends Base { x = 1; y: number | undefined; constructor(public p: string) { super(); } }`,
  `const c = new Child('p');`,
  `console.log('own x', Object.hasOwn(c, 'x'), 'own y', Object.hasOwn(c, 'y'), c.p);`,
].join('\n');

describe('TypeScript that Oxc compiles runs as under tsx', () => {
  it('enums and namespaces (a file exporting one goes to esbuild), import elision, parameter properties, class fields, satisfies, overloads', async () => {
    const out = await sameAsTsx({
      // Only types: the import of it is elided, so it never runs.
      'types.ts': `console.log('types ran');\nexport interface Shape { kind: string }\nexport type Id = string;\n`,
      'side.ts': `console.log('side ran');\nexport const side = 1;\n`,
      // An empty import list: dropped by tsc and esbuild, so it never runs.
      'empty.ts': `console.log('empty ran');\nexport const unused = 1;\n`,
      'enums.ts': [
        `export enum Color { Red, Green = 5, Blue }`,
        `export enum Color { Violet = 9 }`,
        `export enum Mode { Fast = 'fast', Safe = 'safe' }`,
        `export const enum Flag { On = 1 }`,
        `export namespace Geo { export const origin = { x: 0 }; export namespace Deep { export const depth = 2; } }`,
        `export import Depth = Geo.Deep;`,
      ].join('\n'),
      'main.ts': [
        `import type { Id } from './types';`,
        `import { Shape } from './types';`,
        `import { side } from './side';`,
        `import {} from './empty';`,
        `import { Color, Mode, Flag, Geo, Depth } from './enums';`,
        `const s: Shape = { kind: 'circle' } satisfies Shape;`,
        `const id: Id = 'a';`,
        `function over(a: string): string;`,
        `function over(a: number): number;`,
        `function over(a: any) { return a; }`,
        `abstract class A { abstract m(): void; declare d: string; n!: number; }`,
        `console.log(Color.Red, Color.Green, Color.Blue, Color[6], Color.Violet, Mode.Safe, Flag.On, side);`,
        `console.log(Geo.origin.x, Geo.Deep.depth, Depth.depth, s.kind, id, over(2), Object.keys(A.prototype).length);`,
        `const generic = <T,>(x: T): T => x;`,
        `console.log(generic('g'), 'héllo ✓', typeof (await import('./side')).side);`,
        // An enum of its own file's, which Oxc compiles (a var, as esbuild's).
        `enum Dir { Up = 1, Down }`,
        `console.log(Dir.Down, Dir[1]);`,
        FIELD_SEMANTICS,
      ].join('\n'),
    });
    assert.deepEqual(out.lines, [
      'side ran',
      '0 5 6 Blue 9 safe 1 1',
      '0 2 2 circle a 2 0',
      'g héllo ✓ number',
      '2 Up',
      'own x true own y true p',
    ]);
  });
});

describe('class fields under a tsconfig that assigns them, as under tsx', () => {
  for (const compilerOptions of [{ useDefineForClassFields: false }, { target: 'ES2021' }]) {
    it(JSON.stringify(compilerOptions), async () => {
      const out = await sameAsTsx({
        'tsconfig.json': JSON.stringify({ compilerOptions }),
        'main.ts': [
          FIELD_SEMANTICS,
          `class Derived extends Child { z = this.p + '!'; static s = Derived.name; static #hidden = 4; #own = 5; ['com' + 'puted'] = 6;`,
          `  static get hidden() { return Derived.#hidden; } get own() { return this.#own; } }`,
          `const d = new Derived('q');`,
          `console.log(d.z, Derived.s, Derived.hidden, d.own, (d as any).computed, Object.keys(d).join());`,
          `const Anon = class { w = 7; };`,
          `console.log(new Anon().w);`,
        ].join('\n'),
      });
      assert.deepEqual(out.lines, ['base setter 1', 'own x false own y false p', 'base setter 1', 'q! Derived 4 5 6 p,z,computed', '7']);
    });
  }
});

describe('what Oxc leaves or would need a helper for goes to esbuild, as under tsx', () => {
  it('TC39 decorators and accessor fields (Node cannot parse them; esbuild lowers them)', async () => {
    const out = await sameAsTsx({
      'main.ts': [
        `function logged(fn: any, ctx: ClassMethodDecoratorContext) { return function (this: any, ...a: any[]) { console.log('call', String(ctx.name)); return fn.apply(this, a); }; }`,
        `class Box { accessor size = 3; @logged grow(n: number) { this.size += n; return this.size; } }`,
        `const b = new Box();`,
        `console.log(b.grow(2), Object.hasOwn(b, 'size'));`,
      ].join('\n'),
    });
    assert.deepEqual(out.lines, ['call grow', '5 false']);
  });

  it('using declarations (lowered with a helper where this Node lacks them)', async () => {
    const out = await sameAsTsx({
      'main.ts': [
        `function res(name: string) { return { [Symbol.dispose ?? Symbol.for('Symbol.dispose')]() { console.log('dispose', name); } }; }`,
        `{ using a = res('a'); using b = res('b'); console.log('body'); }`,
        `console.log('after');`,
      ].join('\n'),
    });
    assert.deepEqual(out.lines, ['body', 'dispose b', 'dispose a', 'after']);
  });

  it('an exported enum or a namespace, read through an import cycle before its module ran (esbuild declares it with var, Oxc with let)', async () => {
    // One cycle per declaration, each in a file of its own: main -> x -> early-x -> x, so
    // early-x runs first, while x's declaration has not run. It keeps the binding without
    // dereferencing it (as a decorator's options keep an enum): undefined under tsx.
    const cycle = (name: string, declaration: string, binding: string) => ({
      [`${name}.ts`]: `import { early } from './early-${name}';\n${declaration}\nconsole.log('${name}', early, typeof ${binding});\n`,
      [`early-${name}.ts`]: `import { ${binding} } from './${name}';\nexport const early = typeof ${binding};\n`,
    });
    const out = await sameAsTsx({
      'main.ts': `import './enum';\nimport './space';\nimport './local';\n`,
      ...cycle('enum', 'export enum Color { Red }', 'Color'),
      ...cycle('space', 'export namespace Geo { export const origin = 0; }', 'Geo'),
      ...cycle('local', 'namespace Local { export const inner = 1; }\nexport { Local };', 'Local'),
    });
    assert.deepEqual(out.lines, ['enum undefined object', 'space undefined object', 'local undefined object']);
  });

  it('experimentalDecorators: a decorated file as tsc compiles it, the others by Oxc', async () => {
    const out = await sameAsTsx({
      'tsconfig.json': JSON.stringify({ compilerOptions: { experimentalDecorators: true } }),
      'plain.ts': `export enum E { A = 1 }\n`,
      'main.ts': [
        `import { E } from './plain';`,
        `function tag(label: string) { return (target: any) => { console.log('class', label, target.name); }; }`,
        `function param(target: any, key: string | undefined, index: number) { console.log('param', index); }`,
        `function method(target: any, key: string, d: PropertyDescriptor) { console.log('method', key, typeof d.value); }`,
        `@tag('svc') class Service { constructor(@param x: number) {} @method run() {} }`,
        `console.log(E.A, new Service(1) instanceof Service);`,
      ].join('\n'),
    });
    assert.deepEqual(out.lines, ['method run function', 'param 0', 'class svc Service', '1 true']);
  });
});

test('a start of plain TypeScript runs no esbuild service; a file only esbuild compiles starts one', async (t) => {
  assert.deepEqual(esbuildServices(), [], 'no service before');
  const { project, runner, ns } = await startProject(t, {
    'dep.ts': `export const value: number = 1;\n`,
    'main.ts': `import { value } from './dep.ts';\nexport const read = (): number => value;\nimport.meta.hot?.accept();\n`,
  });
  expectStatus(await runner.update([project.write('dep.ts', `export const value: number = 2;\n`)]), 'applied');
  assert.equal(ns('main.ts').read(), 2);
  assert.deepEqual(esbuildServices(), [], 'Oxc compiled the start and the save');
  expectStatus(
    await runner.update([project.write('dep.ts', `class C { accessor v = 3; }\nexport const value: number = new C().v;\n`)]),
    'applied',
  );
  assert.equal(ns('main.ts').read(), 3);
  assert.equal(esbuildServices().length, 1, 'esbuild compiled the accessor field');
});
