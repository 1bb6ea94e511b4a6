/**
 * esbuild's service is replaced by a fresh one after a big start (src/runner/transform.ts,
 * recycleEsbuild): transforms keep working across it, a transform in flight is never cut off,
 * and the old service's process is gone (its memory with it).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { recycleEsbuild, transformFile, transformOptions } from '../src/runner/transform.js';
import { poll } from './helpers/poll.js';

/** The esbuild service processes of this process. */
function services(): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  } catch {
    return []; // none: ps exits 1
  }
  return out
    .split('\n')
    .filter((line) => line.includes('--service='))
    .map((line) => Number(line.trim().split(' ')[0]));
}

const ts = (n: number) => transformFile(`export const n: number = ${n};\n`, transformOptions('/p/n.ts', undefined));

test('a recycled service: the old process ends, a new one serves the next transforms', async () => {
  assert.match((await ts(1)).code, /n = 1/);
  const [old] = services();
  assert.ok(old, 'a service runs');
  recycleEsbuild();
  await poll(() => !services().includes(old!) && services().length === 1, 'a new service in place of the old one');
  assert.match((await ts(2)).code, /n = 2/);
});

test('a transform in flight keeps the service: no recycle under it', async () => {
  await ts(0);
  const [before] = services();
  const pending = Promise.all([ts(3), ts(4), ts(5)]);
  recycleEsbuild();
  const outs = await pending;
  assert.deepEqual(
    outs.map((o) => /n = (\d)/.exec(o.code)?.[1]),
    ['3', '4', '5'],
  );
  assert.deepEqual(services(), [before], 'the same service');
});
