/**
 * The one tsconfig chain reader and its two users: esbuild's options and the resolver's
 * `paths`, read by the same rules (TypeScript's) from the same files.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { DevhotError, ErrorCodes } from '../src/errors.js';
import { loadTsconfigForEsbuild } from '../src/runner/esbuild-tsconfig.js';
import { createResolver } from '../src/runner/resolve.js';
import { readTsconfig } from '../src/runner/tsconfig.js';
import { writeTree } from './helpers/tree.js';

const roots: string[] = [];
after(() => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
});

function project(tree: Record<string, string>): string {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-tsconfig-')));
  roots.push(root);
  writeTree(root, tree, { esm: false });
  return root;
}

const json = (value: unknown): string => JSON.stringify(value);

function tsconfigError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof DevhotError, String(error));
    assert.equal(error.code, ErrorCodes.TSCONFIG);
    assert.match(error.message, pattern);
    assert.ok(error.fix);
    return true;
  };
}

describe('tsconfig chain', () => {
  it('merges option by option, later bases win, a diamond base applies twice (as tsc --showConfig says), each file listed once', () => {
    const root = project({
      'tsconfig.json': json({ extends: ['./a.json', './b.json'], compilerOptions: { jsx: 'react-jsx' } }),
      'a.json': json({ extends: './base.json', compilerOptions: { target: 'es2020', experimentalDecorators: true } }),
      'b.json': json({ extends: './base.json' }),
      'base.json': json({ compilerOptions: { target: 'es2015', emitDecoratorMetadata: true } }),
    });
    const chain = readTsconfig(path.join(root, 'tsconfig.json'));
    assert.deepEqual(chain.compilerOptions, {
      target: 'es2015',
      emitDecoratorMetadata: true,
      experimentalDecorators: true,
      jsx: 'react-jsx',
    });
    assert.deepEqual(
      chain.files,
      ['tsconfig.json', 'a.json', 'base.json', 'b.json'].map((f) => path.join(root, f)),
    );
    const esbuild = loadTsconfigForEsbuild(root, undefined);
    assert.deepEqual(esbuild.raw, { compilerOptions: { jsx: 'react-jsx', experimentalDecorators: true, target: 'es2015' } });
    assert.deepEqual(esbuild.files, chain.files);
    assert.deepEqual(esbuild.compilerOptions, chain.compilerOptions);
  });

  it('finds a package base through its exports, as TypeScript does (not through require.resolve)', () => {
    const root = project({
      'tsconfig.json': json({ extends: '@acme/config/strict' }),
      'node_modules/@acme/config/package.json': json({
        name: '@acme/config',
        main: 'index.js',
        exports: { './strict': './tsconfig.strict.json' },
      }),
      'node_modules/@acme/config/index.js': '',
      'node_modules/@acme/config/tsconfig.strict.json': json({ compilerOptions: { useDefineForClassFields: false } }),
    });
    assert.deepEqual(loadTsconfigForEsbuild(root, undefined).raw, { compilerOptions: { useDefineForClassFields: false } });
  });

  it('a missing base is an error for esbuild too (tsc: TS5083), not skipped', () => {
    const root = project({ 'tsconfig.json': json({ extends: './nowhere.json', compilerOptions: { jsx: 'preserve' } }) });
    assert.throws(() => loadTsconfigForEsbuild(root, undefined), tsconfigError(/nowhere\.json/));
    const pkg = project({ 'tsconfig.json': json({ extends: '@tsconfig/missing' }) });
    assert.throws(() => loadTsconfigForEsbuild(pkg, undefined), tsconfigError(/@tsconfig\/missing/));
  });

  it('a circular chain is an error naming the loop (tsc: TS18000), for esbuild and the resolver alike', () => {
    const root = project({
      'tsconfig.json': json({ extends: './a.json' }),
      'a.json': json({ extends: './tsconfig.json' }),
      'src/main.ts': '',
    });
    const loop = /Circular "extends".*tsconfig\.json → .*a\.json → .*tsconfig\.json/;
    assert.throws(() => loadTsconfigForEsbuild(root, undefined), tsconfigError(loop));
    const resolver = createResolver({ root });
    assert.throws(() => resolver.resolve('some-pkg', path.join(root, 'src/main.ts')), tsconfigError(loop));
  });

  it('no tsconfig: nothing read unless one was asked for by name', () => {
    const root = project({ 'src/main.ts': '' });
    assert.deepEqual(loadTsconfigForEsbuild(root, undefined), { raw: undefined, files: [], compilerOptions: {} });
    assert.deepEqual(loadTsconfigForEsbuild(root, false), { raw: undefined, files: [], compilerOptions: {} });
    assert.throws(() => loadTsconfigForEsbuild(root, 'tsconfig.build.json'), tsconfigError(/tsconfig\.build\.json/));
  });
});
