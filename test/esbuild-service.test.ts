/**
 * esbuild's service is replaced by a fresh one after a big start (src/runner/transform.ts,
 * recycleEsbuild): transforms keep working across it, a transform in flight is never cut off,
 * and the old service's process is gone (its memory with it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recycleEsbuild, transformFile, transformOptions } from '../src/runner/transform.js';
import { esbuildServices } from './helpers/esbuild-services.js';
import { poll } from './helpers/poll.js';

const ts = (n: number) => transformFile(`export const n: number = ${n};\n`, transformOptions('/p/n.ts', undefined));

test('a recycled service: the old process ends, a new one serves the next transforms', async () => {
  assert.match((await ts(1)).code, /n = 1/);
  const [old] = esbuildServices();
  assert.ok(old, 'a service runs');
  recycleEsbuild();
  await poll(() => !esbuildServices().includes(old!) && esbuildServices().length === 1, 'a new service in place of the old one');
  assert.match((await ts(2)).code, /n = 2/);
});

test('a transform in flight keeps the service: no recycle under it', async () => {
  await ts(0);
  const [before] = esbuildServices();
  const pending = Promise.all([ts(3), ts(4), ts(5)]);
  recycleEsbuild();
  const outs = await pending;
  assert.deepEqual(
    outs.map((o) => /n = (\d)/.exec(o.code)?.[1]),
    ['3', '4', '5'],
  );
  assert.deepEqual(esbuildServices(), [before], 'the same service');
});
