/**
 * The watcher on a real directory: it reports each change with its kind, reports a file caught
 * empty at once (the runner, which reads it, waits for the content), reports the write that
 * chokidar's throttle swallowed at its re-check, and says when it has settled on a file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { FileChange } from '../src/shared/ipc.js';
import { createWatcher, type Watcher } from '../src/supervisor/watcher.js';
import { createFixture, onCleanup } from './helpers/cli.js';
import { poll } from './helpers/poll.js';

async function watch(t: Parameters<typeof createFixture>[0], tree: Record<string, string>) {
  const fixture = createFixture(t, tree);
  const batches: FileChange[][] = [];
  const errors: Error[] = [];
  const watcher: Watcher = createWatcher({
    root: fixture.root,
    include: [],
    exclude: [],
    extraFiles: [],
    delay: 0,
    onBatch: (changes) => batches.push(changes),
    onError: (error) => errors.push(error),
  });
  onCleanup(t, async () => {
    await watcher.close();
    assert.deepEqual(errors, []);
  });
  await watcher.ready;
  const reported = (file: string) => batches.flat().filter((c) => c.file === file);
  return { fixture, watcher, batches, reported };
}

test('each change comes with its kind: add, change, unlink', async (t) => {
  const { fixture, watcher, reported } = await watch(t, { 'a.ts': 'export const a = 1;\n' });
  const last = (file: string) => reported(file).at(-1)?.kind;
  const file = fixture.write('b.ts', 'export const b = 1;\n');
  await poll(() => reported(file).length > 0, 'the add');
  assert.equal(reported(file)[0]!.kind, 'add');
  await watcher.settled([file]);
  const before = reported(file).length;
  fixture.write('b.ts', 'export const b = 2;\n');
  await poll(() => reported(file).length > before && last(file) === 'change', 'the change');
  await watcher.settled([file]);
  fs.rmSync(file);
  await poll(() => last(file) === 'unlink', 'the unlink');
});

test('a file caught empty is reported at once; the write chokidar swallowed comes at the re-check; settled() waits for it', async (t) => {
  const { fixture, watcher, reported } = await watch(t, { 'a.ts': 'export const a = 1;\n' });
  const file = fixture.write('a.ts', '');
  // Reported while it is still empty: the watcher does not wait for content.
  await poll(() => reported(file).length > 0, 'the truncate');
  assert.equal(fs.readFileSync(file, 'utf8'), '');
  // The write, within chokidar's 50 ms throttle of the first event (so it is dropped, or not,
  // depending on how fast this machine is): either way it is reported before settled().
  fixture.write('a.ts', 'export const a = 2;\n');
  await watcher.settled([file]);
  const kinds = reported(file).map((c) => c.kind);
  assert.ok(kinds.length >= 2, JSON.stringify(kinds));
  assert.deepEqual(kinds.slice(-1), ['change']);
});
