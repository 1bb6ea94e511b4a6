/**
 * What a save finds ready after a start (src/runner/warm-up.ts, compile-cache.ts): esbuild's
 * service already running after a start from the disk cache, nothing of the warm-up cached; the
 * compile cache's disk writes wait for the updates, and go on after them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import * as esbuild from 'esbuild';
import type { CompiledModule } from '../src/runner/compile.js';
import { CompileCache, WRITE_DELAY_MS } from '../src/runner/compile-cache.js';
import { createRunner } from '../src/runner/runner.js';
import { G, createProject } from './helpers/project.js';
import { esbuildServices } from './helpers/esbuild-services.js';
import { poll } from './helpers/poll.js';

function cacheFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.dhc'));
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-save-path-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('after a start from the disk cache, esbuild runs before the first save, and the warm-up caches nothing', async (t) => {
  const project = createProject({
    'dep.ts': `export const dep: number = 1;\n`,
    'main.ts': `import { dep } from './dep.ts';\nglobalThis.__t_save_path = dep;\n`,
  });
  t.after(() => project.cleanup());
  const cacheDir = tempDir(t);
  const first = createRunner({ root: project.root, entry: 'main.ts', cacheDir });
  await first.start();
  await first.close();
  assert.equal(cacheFiles(cacheDir).length, 2);
  await esbuild.stop();
  await poll(() => esbuildServices().length === 0, 'no esbuild service', 5000, 10);

  const runner = createRunner({ root: project.root, entry: 'main.ts', cacheDir });
  t.after(() => runner.close());
  await runner.start();
  assert.equal(runner.compilerStats.diskHits, 2, 'both modules came from the disk cache');
  assert.equal(G.__t_save_path, 1);
  await poll(() => esbuildServices().length === 1, 'an esbuild service, started by the warm-up', 5000, 10);
  // The first save is served by it: no second service.
  project.write('dep.ts', `export const dep: number = 2;\n`);
  assert.equal((await runner.update([project.file('dep.ts')])).status, 'applied');
  assert.equal(G.__t_save_path, 2);
  assert.equal(esbuildServices().length, 1);
  await runner.close();
  assert.equal(cacheFiles(cacheDir).length, 3, 'the two modules and the saved version; nothing of the warm-up');
});

function compiled(file: string, n: number): CompiledModule {
  const code = `export const n = ${n};`;
  return { file, hash: `h${n}`, code, format: 'esm', async: false, deps: [], module: undefined, transformMap: null, rewriteMap: null };
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
