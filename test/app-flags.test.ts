/**
 * The Node flags devhot starts the app process with (src/shared/app-flags.ts): V8's thread pool
 * sized to the machine, and the user's own NODE_OPTIONS winning over each flag.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { APP_HEAP_FLAG, appNodeFlags, appPoolFlag, isAppFlag } from '../src/shared/app-flags.js';

test("V8's pool before Node 24: one core left for the main thread, at most Node's default of 4 (then no flag)", () => {
  for (const node of [20, 22]) {
    assert.equal(appPoolFlag(1, node), '--v8-pool-size=1');
    assert.equal(appPoolFlag(2, node), '--v8-pool-size=1');
    assert.equal(appPoolFlag(3, node), '--v8-pool-size=2');
    assert.equal(appPoolFlag(4, node), '--v8-pool-size=3');
    assert.equal(appPoolFlag(5, node), undefined);
    assert.equal(appPoolFlag(64, node), undefined);
  }
  // Node 24's start was no faster with it, and its memory higher.
  assert.equal(appPoolFlag(2, 24), undefined);
  assert.equal(appPoolFlag(2, 25), undefined);
});

test("each of devhot's flags gives way to the same flag in NODE_OPTIONS", () => {
  const pool = appPoolFlag();
  const all = [APP_HEAP_FLAG, ...(pool ? [pool] : [])];
  assert.deepEqual(appNodeFlags({}), all);
  assert.deepEqual(appNodeFlags({ NODE_OPTIONS: '--max_semi_space_size=16' }), all.slice(1));
  assert.deepEqual(appNodeFlags({ NODE_OPTIONS: '--v8-pool-size=2 --title=x' }), [APP_HEAP_FLAG]);
  for (const flag of all) assert.equal(isAppFlag(flag), true);
  assert.equal(isAppFlag('--v8-pool-size=7'), false);
  assert.equal(isAppFlag('--inspect'), false);
});
