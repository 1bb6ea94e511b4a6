/**
 * The compile cache keeps private sources private and stays bounded (issue #11, item 7): its
 * directory is 0700 and its files 0600 (the cache holds the source: a config.ts with secrets),
 * each file keeps its last few versions however often it is saved, and the whole cache stays
 * under its size bound, oldest versions first.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readEntry } from '../src/runner/cache-entry.js';
import { CompileCache, VERSIONS_KEPT } from '../src/runner/compile-cache.js';
import type { CompiledModule } from '../src/runner/compile.js';
import { FreshModule } from '../src/runner/fresh-module.js';
import { cacheFiles } from './helpers/cache-files.js';
import { createFixture, freePort, isUpdate, startDevhot, waitForBody } from './helpers/cli.js';
import { poll } from './helpers/poll.js';

/** A cached module, or undefined when it went meanwhile (pruned). */
function read(file: string): CompiledModule | undefined {
  return readEntry(file);
}

/** The cached versions of one source file. */
function versionsOf(dir: string, source: string): string[] {
  return cacheFiles(dir).filter((f) => read(f)?.file === source);
}

test('devhot: the cache directory is 0700, its files 0600, and a file saved again and again keeps its last few versions', async (t) => {
  // 1 MB of source: the kind of file that once cost ~3.5 MB of cache per save, forever.
  const big = `export const rows = [\n${Array.from({ length: 20_000 }, (_, i) => `  'row ${i} ${'x'.repeat(30)}',`).join('\n')}\n];\n`;
  const fixture = createFixture(t, {
    'server.ts': `import http from 'node:http';
import { secret } from './config.js';
import { rows } from './big.js';
http.createServer((req, res) => res.end(String(rows.length) + secret)).listen(Number(process.env.PORT), '127.0.0.1');
`,
    'config.ts': `export const secret = 's3cr3t';\n`,
    'big.ts': big,
  });
  fs.chmodSync(fixture.file('config.ts'), 0o600);
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, '20000s3cr3t');
  const cache = path.join(fixture.root, 'node_modules', '.devhot', 'cache');
  await poll(() => versionsOf(cache, fixture.file('config.ts')).length === 1, 'config.ts in the cache');

  assert.equal(fs.statSync(cache).mode & 0o777, 0o700);
  for (const file of cacheFiles(cache)) {
    assert.equal(fs.statSync(file).mode & 0o777, 0o600, file);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700, path.dirname(file));
  }

  const versions = () => versionsOf(cache, fixture.file('big.ts'));
  const written = (i: number) => versions().some((f) => read(f)?.code.includes(`row 0 v${i} `));
  // Each save's version reaches the disk before the next save (saves closer together are
  // written once, the latest: compile-cache.ts), so seven are written and four must go.
  for (let i = 1; i <= 6; i++) {
    const from = devhot.mark();
    fixture.write('big.ts', big.replace("'row 0 ", `'row 0 v${i} `));
    await devhot.waitEvent(isUpdate('applied'), `save ${i}`, { from });
    await poll(() => written(i), `version ${i} of big.ts on disk`);
  }
  // The newest is among them (the next start reads it from the cache), and only two before it.
  const newest = () => written(6);
  await poll(() => versions().length === VERSIONS_KEPT && newest(), `${VERSIONS_KEPT} versions of big.ts, the newest one of them`);
});

test('the whole cache stays under its bound: the oldest versions go first', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-cache-bound-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o755); // as an earlier devhot left it
  const cache = new CompileCache(dir, { maxBytes: 100_000 });
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  const module = (i: number): CompiledModule =>
    new FreshModule(`/project/m${i}.ts`, `h${i}`, 'x'.repeat(10_000), 'esm', false, [], undefined, [null, null]);
  for (let i = 0; i < 30; i++) {
    cache.store(module(i));
    await cache.flush();
  }
  // Their ages, a second apart: files written a few ms apart often share an mtime (the kernel
  // stamps them from a coarse clock), and the sweep cannot tell those apart.
  const now = Date.now() / 1000;
  for (const file of cacheFiles(dir)) {
    const age = 30 - Number(read(file)!.hash.slice(1));
    fs.utimesSync(file, now - age, now - age);
  }
  await cache.sweep();
  const left = cacheFiles(dir);
  const size = left.reduce((sum, f) => sum + fs.statSync(f).size, 0);
  assert.ok(size <= 100_000, `${size} bytes left`);
  // The newest survive.
  const kept = new Set(left.map((f) => read(f)?.hash));
  assert.ok(kept.has('h29') && kept.has('h28'), [...kept].join(' '));
  assert.ok(!kept.has('h0'));
});
