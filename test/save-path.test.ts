/**
 * What a save finds after a start (compile-cache.ts): the compile cache's disk writes wait for
 * the updates, and go on after them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import type { CompiledModule } from '../src/runner/compile.js';
import { CompileCache, WRITE_DELAY_MS } from '../src/runner/compile-cache.js';
import { cacheFiles } from './helpers/cache-files.js';
import { poll } from './helpers/poll.js';
import { FreshModule } from '../src/runner/fresh-module.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-save-path-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function compiled(file: string, n: number): CompiledModule {
  const code = `export const n = ${n};`;
  return new FreshModule(file, `h${n}`, code, 'esm', false, [], undefined, [null, null]);
}

test('a compiled module is written once no update has run for WRITE_DELAY_MS', async (t) => {
  const dir = tempDir(t);
  const cache = new CompileCache(dir);
  cache.defer(); // an update compiles…
  cache.store(compiled('/p/a.ts', 1));
  const ended = performance.now();
  cache.resume(); // …and ends
  await poll(() => cacheFiles(dir).length === 1, 'the module on disk', 5000, 5);
  const waited = performance.now() - ended;
  // setTimeout may fire up to a millisecond early by the performance clock.
  assert.ok(waited >= WRITE_DELAY_MS - 2, `written ${waited.toFixed(0)} ms after the update ended`);
});

test('an update that begins stops the writes under way; they go on once it is over', async (t) => {
  const dir = tempDir(t);
  const cache = new CompileCache(dir);
  const total = 400;
  cache.defer();
  for (let i = 0; i < total; i++) cache.store(compiled(`/p/m${i}.ts`, i));
  cache.resume();
  await poll(() => cacheFiles(dir).length > 0, 'the writes begun', 5000, 1);
  cache.defer(); // the next update
  await cache.settled();
  const during = cacheFiles(dir).length;
  assert.ok(during < total, `${during} of ${total} written before the update; the rest wait`);
  cache.resume();
  await poll(() => cacheFiles(dir).length === total, `all ${total} written after the update`, 10_000, 10);
});
