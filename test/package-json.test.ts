/**
 * The one package.json reader: BOM, missing files, one error for invalid JSON, the cache, the
 * record of files read; and the format lookup and resolver sharing one reader.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { DevhotError, ErrorCodes } from '../src/errors.js';
import { entryFromPackageJson } from '../src/config.js';
import { createPackageJsonReader } from '../src/shared/package-json.js';
import { createFormatLookup } from '../src/runner/package-type.js';
import { createResolver } from '../src/runner/resolve.js';
import { writeTree } from './helpers/tree.js';

const roots: string[] = [];
after(() => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
});

function project(tree: Record<string, string>): string {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-pkg-')));
  roots.push(root);
  writeTree(root, tree, { esm: false });
  return root;
}

describe('package.json reader', () => {
  it('skips a byte-order mark, answers undefined where there is none, and caches', () => {
    const root = project({ 'package.json': '\uFEFF{ "type": "module", "main": "a.ts" }', 'sub/x.ts': '' });
    const packages = createPackageJsonReader({ root });
    const pkg = packages.read(root);
    assert.deepEqual(pkg, { type: 'module', main: 'a.ts' });
    assert.equal(packages.read(path.join(root, 'sub')), undefined);
    fs.writeFileSync(path.join(root, 'package.json'), '{}');
    assert.equal(packages.read(root), pkg, 'a second read is answered from the cache');
    packages.clear();
    assert.deepEqual(packages.read(root), {});
    assert.deepEqual([...packages.files], [path.join(root, 'package.json')]);
  });

  it('reports invalid JSON as one DevhotError naming the file relative to the root, with a fix', () => {
    const root = project({ 'pkg/package.json': '{ "type": "module", }' });
    assert.throws(
      () => createPackageJsonReader({ root }).read(path.join(root, 'pkg')),
      (e: unknown) => {
        assert.ok(e instanceof DevhotError);
        assert.equal(e.code, ErrorCodes.RESOLVE);
        assert.match(e.message, /^Invalid JSON in pkg\/package\.json: /);
        assert.match(e.fix ?? '', /package\.json/);
        return true;
      },
    );
  });

  it('is what the supervisor reads the entry with: devhot.entry, then main, and invalid JSON says so', () => {
    assert.equal(entryFromPackageJson(project({ 'package.json': '{ "main": "m.ts", "devhot": { "entry": "e.ts" } }' })), 'e.ts');
    assert.equal(entryFromPackageJson(project({ 'package.json': '\uFEFF{ "main": "m.ts", "devhot": "e.ts" }' })), 'm.ts');
    assert.equal(entryFromPackageJson(project({ 'x.ts': '' })), undefined);
    assert.throws(() => entryFromPackageJson(project({ 'package.json': '{ main: m.ts }' })), /Invalid JSON in package\.json/);
  });
});

describe('module format lookup', () => {
  it('follows the nearest package.json "type", records the files it read, and shares the reader with the resolver', () => {
    const root = project({
      'package.json': JSON.stringify({ type: 'module' }),
      'src/a.ts': '',
      'cjs/package.json': JSON.stringify({ name: 'legacy' }),
      'cjs/deep/b.js': '',
    });
    const packages = createPackageJsonReader({ root });
    const format = createFormatLookup(packages);
    assert.equal(format(path.join(root, 'src/a.ts')), 'esm');
    assert.equal(format(path.join(root, 'cjs/deep/b.js')), 'cjs');
    assert.equal(format(path.join(root, 'cjs/deep/b.mjs')), 'esm');
    assert.equal(format(path.join(root, 'src/c.cts')), 'cjs');
    assert.deepEqual([...packages.files].sort(), [path.join(root, 'cjs/package.json'), path.join(root, 'package.json')]);

    // The resolver records a package.json it got from the shared cache as a config file too.
    const resolver = createResolver({ root, tsconfig: false, packages });
    assert.throws(() => resolver.resolve('#nope', path.join(root, 'src/a.ts')), /#nope/);
    assert.ok(resolver.configFiles.has(path.join(root, 'package.json')));
  });

  it('fails on an invalid package.json instead of reading past it (Node: ERR_INVALID_PACKAGE_CONFIG)', () => {
    const root = project({ 'package.json': JSON.stringify({ type: 'module' }), 'sub/package.json': '{', 'sub/a.js': '' });
    assert.throws(() => createFormatLookup()(path.join(root, 'sub/a.js')), /Invalid JSON in .*sub\/package\.json/);
  });
});
