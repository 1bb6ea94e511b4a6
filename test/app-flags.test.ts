/**
 * The Node flags devhot starts the app process with (src/shared/app-flags.ts): V8's thread pool
 * sized to the machine, and the user's own NODE_OPTIONS winning over each flag.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { APP_HEAP_FLAG, appNodeFlags, appPoolFlag, isAppFlag } from '../src/shared/app-flags.js';

test("V8's pool: one core left for the main thread, at most Node's default of 4 (then no flag)", () => {
  assert.equal(appPoolFlag(1), '--v8-pool-size=1');
  assert.equal(appPoolFlag(2), '--v8-pool-size=1');
  assert.equal(appPoolFlag(3), '--v8-pool-size=2');
  assert.equal(appPoolFlag(4), '--v8-pool-size=3');
  assert.equal(appPoolFlag(5), undefined);
  assert.equal(appPoolFlag(64), undefined);
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
