/**
 * One compiled module on disk (src/runner/cache-entry.ts): what is written reads back the same,
 * a damaged file reads as nothing, and the maps stay on disk until a stack needs them, also for
 * a module compiled in this process once it is written; the sweep brings them back first.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { encodeEntry, readEntry } from '../src/runner/cache-entry.js';
import { scriptOf } from '../src/runner/module-wrapper.js';
import type { CompiledModule } from '../src/runner/compile.js';
import { FreshModule, type Maps } from '../src/runner/fresh-module.js';
import { CompileCache } from '../src/runner/compile-cache.js';
import { cacheFiles } from './helpers/cache-files.js';
import { poll } from './helpers/poll.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-entry-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const TRANSFORM_MAP = JSON.stringify({ version: 3, sources: ['/p/a.ts'], names: [], mappings: 'AAAA;AACA' });
const REWRITE_INPUT = 'export const a = 1;\n';

/** A module as compile.ts makes one. */
function compiled(code: string, extra: { hash?: string; maps?: Maps; codeCache?: Buffer | undefined } = {}): CompiledModule {
  const deps = [{ specifier: './b.ts', attributes: { type: 'json' } }] as CompiledModule['deps'];
  const module = new FreshModule(
    '/p/a.ts',
    extra.hash ?? 'h1',
    code,
    'esm',
    true,
    deps,
    undefined,
    extra.maps ?? [TRANSFORM_MAP, REWRITE_INPUT],
  );
  module.codeCache = 'codeCache' in extra ? extra.codeCache : Buffer.from([1, 2, 3, 250]);
  return module;
}

test('an entry reads back as written: fields, code (non-ASCII too), code cache bytes and maps', (t) => {
  const file = path.join(tempDir(t), 'e.dhc');
  const original = compiled(`export const s = "héllo ✓";\n`);
  fs.writeFileSync(file, Buffer.concat(encodeEntry(original)));
  const back = readEntry(file)!;
  const unread = readEntry(file)!;
  assert.ok(back, 'read');
  assert.equal(back.code, original.code);
  // The code inside its wrapper, as a start compiles it (positions in characters, not bytes).
  assert.equal(back.script?.text, scriptOf(original).text);
  assert.equal(back.script.text.slice(back.script.codeAt, back.script.codeAt + back.code.length), original.code);
  assert.deepEqual(back.deps, original.deps);
  assert.equal(back.async, true);
  assert.deepEqual([...back.codeCache!], [1, 2, 3, 250]);
  assert.equal(back.transformMap, TRANSFORM_MAP);
  assert.equal(back.rewriteInput, REWRITE_INPUT);
  // Read from the file when first asked for, not with the entry: with the file gone, none.
  fs.rmSync(file);
  assert.equal(unread.transformMap, null);
  assert.equal(unread.rewriteInput, null);
});

test('an entry bigger than the first read, and one without maps or code cache', (t) => {
  const dir = tempDir(t);
  const big = compiled(`export const rows = ${JSON.stringify('x'.repeat(200_000))};\n`);
  fs.writeFileSync(path.join(dir, 'big.dhc'), Buffer.concat(encodeEntry(big)));
  assert.equal(readEntry(path.join(dir, 'big.dhc'))?.code, big.code);
  const bare = compiled('export {};\n', { maps: [null, null], codeCache: undefined });
  fs.writeFileSync(path.join(dir, 'bare.dhc'), Buffer.concat(encodeEntry(bare)));
  const back = readEntry(path.join(dir, 'bare.dhc'))!;
  assert.equal(back.code, bare.code);
  assert.equal(back.codeCache, undefined);
  assert.equal(back.transformMap, null);
  assert.equal(back.rewriteInput, null);
});

test('a damaged entry reads as nothing: cut short, another format, a header length past its end, code past the script, missing', (t) => {
  const dir = tempDir(t);
  const bytes = Buffer.concat(encodeEntry(compiled('export const a = 1;\n'.repeat(50))));
  fs.writeFileSync(path.join(dir, 'cut.dhc'), bytes.subarray(0, 60));
  fs.writeFileSync(path.join(dir, 'json.dhc'), JSON.stringify(compiled('x')));
  // A header length past the end of the file, and one of 4 GB: nothing read, nothing allocated.
  const long = Buffer.from(bytes);
  long.writeUInt32LE(bytes.length, 4);
  fs.writeFileSync(path.join(dir, 'long.dhc'), long);
  const huge = Buffer.from(bytes);
  huge.writeUInt32LE(0xffffffff, 4);
  fs.writeFileSync(path.join(dir, 'huge.dhc'), huge);
  // Where the code is in the script, past the script's end.
  const range = compiled('export const a = 1;\n');
  range.script = { text: '(x)', codeAt: 1, shared: false };
  fs.writeFileSync(path.join(dir, 'range.dhc'), Buffer.concat(encodeEntry(range)));
  assert.equal(readEntry(path.join(dir, 'range.dhc')), undefined);
  assert.equal(readEntry(path.join(dir, 'long.dhc')), undefined);
  assert.equal(readEntry(path.join(dir, 'huge.dhc')), undefined);
  assert.equal(readEntry(path.join(dir, 'cut.dhc')), undefined);
  assert.equal(readEntry(path.join(dir, 'json.dhc')), undefined);
  assert.equal(readEntry(path.join(dir, 'missing.dhc')), undefined);
});

test('a module compiled here lets go of its maps once written: they are read from its file', async (t) => {
  const dir = tempDir(t);
  const cache = new CompileCache(dir);
  const module = compiled(`export const a = 1;\n`);
  cache.store(module);
  await cache.flush();
  assert.equal(cacheFiles(dir).length, 1);
  for (const file of cacheFiles(dir)) fs.rmSync(file); // removed behind the cache's back
  assert.equal(module.transformMap, null);
  assert.equal(module.rewriteInput, null);
});

test('the sweep puts the maps of a module compiled here back in memory before removing its file', async (t) => {
  const dir = tempDir(t);
  const cache = new CompileCache(dir, { maxBytes: 10 });
  const module = compiled(`export const a = 1;\n`);
  cache.store(module);
  assert.equal(module.rewriteInput, REWRITE_INPUT, 'in memory until written');
  await cache.flush();
  await cache.sweep(); // over its 10-byte bound: the file goes (its maps not read before)
  await poll(() => cacheFiles(dir).length === 0, 'the entry swept', 5000, 10);
  assert.equal(module.transformMap, TRANSFORM_MAP);
  assert.equal(module.rewriteInput, REWRITE_INPUT);
});

test("a version pruned from its file's directory keeps its maps in memory, read before its file went", async (t) => {
  const cache = new CompileCache(tempDir(t), { versionsKept: 1 });
  const first = compiled(`export const a = 1;\n`);
  cache.store(first);
  await cache.flush();
  cache.store(compiled(`export const a = 2;\n`, { hash: 'h2' })); // the next save of the file
  await cache.flush(); // written; the first version's file is pruned
  assert.equal(first.transformMap, TRANSFORM_MAP);
  assert.equal(first.rewriteInput, REWRITE_INPUT);
});
