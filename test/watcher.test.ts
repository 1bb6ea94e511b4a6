/**
 * The watcher on real directories: it reports each change with its kind; a file caught empty at
 * once (the runner, which reads it, waits for the content); an event in a folder of 3,000 files
 * with one lstat, without reading the folder; directories created, renamed and deleted after the
 * start; editors' saves by rename; --include/--exclude; symlinks, never followed out of the root
 * nor round a loop; files outside the root the app asks for; and the same with --poll.
 *
 * Negative checks ("this was not reported") end with a sentinel: a file written after the
 * change under test, in the root. Events arrive in order, so once the sentinel is reported,
 * anything the change would have caused has been reported too.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { syncBuiltinESMExports } from 'node:module';
import { test } from 'node:test';
import type { FileChange } from '../src/shared/ipc.js';
import { SETTLE_QUIET_MS } from '../src/supervisor/batches.js';
import { createWatcher, type Watcher, type WatcherOptions } from '../src/supervisor/watcher.js';
import { sourceHash } from '../src/shared/source-hash.js';
import { createFixture, onCleanup, type Fixture } from './helpers/cli.js';
import { poll } from './helpers/poll.js';

type T = Parameters<typeof createFixture>[0];

async function watch(t: T, tree: Record<string, string>, options: Partial<WatcherOptions> = {}) {
  return watchFixture(t, createFixture(t, tree), options);
}

/** A watcher on a fixture the caller made (with its symlinks, say); errors fail the test at its end. */
async function watchFixture(t: T, fixture: Fixture, options: Partial<WatcherOptions> = {}) {
  // Polling must not lean on events: fs.watch fails for the whole test (a warning if called).
  if (options.poll) failWatch(t, 'EINVAL');
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
    ...options,
  });
  onCleanup(t, async () => {
    await watcher.close();
    assert.deepEqual(errors, []);
  });
  await watcher.ready;
  const all = () => batches.flat();
  const reported = (file: string) => all().filter((c) => c.file === file);
  const kinds = (file: string) => reported(file).map((c) => c.kind);
  let sentinels = 0;
  /** Write a file in the root and wait until it is reported: everything written before it was. */
  const sentinel = async () => {
    const file = fixture.write(`sentinel-${++sentinels}.txt`, 'x');
    await poll(() => reported(file).length > 0, `the sentinel ${file}`, 5000, 5);
  };
  const rel = (change: FileChange) => `${change.kind} ${path.relative(fixture.root, change.file)}`;
  return { fixture, watcher, batches, all, reported, kinds, sentinel, rel };
}

for (const mode of ['events', 'poll'] as const) {
  const poll_ = mode === 'poll';

  test(`${mode}: each change comes with its kind: add, change, unlink`, async (t) => {
    const { fixture, watcher, kinds, all } = await watch(t, { 'a.ts': 'export const a = 1;\n' }, { poll: poll_ });
    assert.deepEqual(all(), [], 'what exists at the start is not reported');
    const file = fixture.write('b.ts', 'export const b = 1;\n');
    await poll(() => kinds(file).length > 0, 'the add');
    assert.equal(kinds(file)[0], 'add');
    await watcher.settled([file]);
    const before = kinds(file).length;
    fixture.write('b.ts', 'export const b = 22;\n');
    await poll(() => kinds(file).length > before && kinds(file).at(-1) === 'change', 'the change');
    await watcher.settled([file]);
    fs.rmSync(file);
    await poll(() => kinds(file).at(-1) === 'unlink', 'the unlink');
  });

  test(`${mode}: a directory created after the start is watched, with the files already in it`, async (t) => {
    const { fixture, reported, kinds } = await watch(t, { 'a.ts': '' }, { poll: poll_ });
    // Created in one go: the files exist before the watcher hears of the directory.
    const files = ['new/x.ts', 'new/deep/er/y.ts', 'new/deep/z.json'].map((f) => fixture.write(f, 'export {};\n'));
    await poll(() => files.every((f) => kinds(f).includes('add')), 'the adds of every file in the new tree');
    for (const f of files) assert.deepEqual(kinds(f), ['add'], f);
    // …and the new directories are watched from then on.
    const later = fixture.write('new/deep/er/later.ts', 'export {};\n');
    fixture.write('new/deep/er/y.ts', 'export const y = 2;\n');
    await poll(() => kinds(later).includes('add') && kinds(files[1]!).includes('change'), 'events inside the new directory');
    assert.equal(reported(path.join(fixture.root, 'new')).length, 0, 'a directory is not a file');
  });

  test(`${mode}: a renamed directory: its files are unlinked at the old path and added at the new one, and watched there`, async (t) => {
    const { fixture, kinds, reported, sentinel } = await watch(
      t,
      { 'a.ts': '', 'lib/one.ts': '1', 'lib/sub/two.ts': '2' },
      { poll: poll_ },
    );
    fs.renameSync(fixture.file('lib'), fixture.file('moved'));
    const gone = ['lib/one.ts', 'lib/sub/two.ts'].map((f) => fixture.file(f));
    const came = ['moved/one.ts', 'moved/sub/two.ts'].map((f) => fixture.file(f));
    await poll(() => gone.every((f) => kinds(f).includes('unlink')) && came.every((f) => kinds(f).includes('add')), 'unlinks and adds');
    fixture.write('moved/sub/two.ts', 'export const two = 2;\n');
    await poll(() => kinds(came[1]!).at(-1) === 'change', 'a change at the new path');
    await sentinel();
    for (const f of gone) assert.deepEqual(kinds(f), ['unlink'], `nothing more at the old path ${f}`);
    assert.equal(reported(fixture.file('lib')).length + reported(fixture.file('moved')).length, 0);
  });

  test(`${mode}: a deleted directory: every file below it is unlinked`, async (t) => {
    const { fixture, kinds } = await watch(t, { 'a.ts': '', 'lib/one.ts': '1', 'lib/sub/two.ts': '2' }, { poll: poll_ });
    fs.rmSync(fixture.file('lib'), { recursive: true });
    const gone = ['lib/one.ts', 'lib/sub/two.ts'].map((f) => fixture.file(f));
    await poll(() => gone.every((f) => kinds(f).at(-1) === 'unlink'), 'the unlinks');
    // A new directory of the same name is a new one, watched afresh.
    const again = fixture.write('lib/sub/three.ts', '3');
    await poll(() => kinds(again).includes('add'), 'a file in the re-created directory');
    // Even when it replaces the old one between two looks (`git checkout` of another branch).
    fs.rmSync(fixture.file('lib'), { recursive: true });
    const replaced = fixture.write('lib/sub/four.ts', '4');
    await poll(() => kinds(again).at(-1) === 'unlink' && kinds(replaced).includes('add'), 'the old file gone, the new one added');
    fixture.write('lib/sub/four.ts', '44');
    await poll(() => kinds(replaced).at(-1) === 'change', 'a change in the replacing directory');
  });

  test(`${mode}: --exclude globs keep files out; an --include glob takes them back; never-watched names stay out`, async (t) => {
    const { fixture, reported, sentinel } = await watch(
      t,
      { 'a.ts': '', 'generated/out.ts': '', 'src/a.test.ts': '', 'src/keep.test.ts': '', 'node_modules/pkg/index.js': '' },
      { poll: poll_, exclude: ['generated/**', '*.test.ts'], include: ['**/keep.test.ts'] },
    );
    const quiet = ['generated/out.ts', 'generated/deep/new.ts', 'src/a.test.ts', 'node_modules/pkg/index.js', 'dist/x.js'];
    for (const f of quiet) fixture.write(f, 'changed');
    const kept = fixture.write('src/keep.test.ts', 'changed');
    await poll(() => reported(kept).length > 0, 'the file an --include glob takes back');
    await sentinel();
    for (const f of quiet) assert.deepEqual(reported(fixture.file(f)), [], f);
  });

  test(`${mode}: a symlink to a directory outside the root is not followed; a loop inside it costs nothing`, async (t) => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-outside-'));
    onCleanup(t, () => fs.rmSync(outside, { recursive: true, force: true }));
    for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(outside, `big${i}.ts`), '');
    const fixture = createFixture(t, { 'src/a.ts': '' });
    fs.symlinkSync(outside, fixture.file('src/big'));
    fs.symlinkSync('..', fixture.file('src/up'));
    const { all, reported, sentinel, rel } = await watchFixture(t, fixture, { poll: poll_ });
    fs.writeFileSync(path.join(outside, 'big1.ts'), 'changed');
    fs.writeFileSync(path.join(outside, 'new.ts'), 'new');
    const a = fixture.write('src/a.ts', 'changed');
    fixture.write('package.json', '{"type":"module","changed":true}');
    await poll(() => reported(a).length > 0, 'the change of src/a.ts');
    await sentinel();
    const seen = all()
      .map(rel)
      .filter((r) => !r.includes('sentinel'));
    // Only the real paths: nothing through src/big, nothing through src/up/src/up/…
    assert.deepEqual([...new Set(seen)].sort(), ['change package.json', 'change src/a.ts'], seen.join('\n'));
  });

  test(`${mode}: files outside the root the app asks for are watched one by one`, async (t) => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-outside-'));
    onCleanup(t, () => fs.rmSync(outside, { recursive: true, force: true }));
    const used = path.join(outside, 'used.ts');
    const unused = path.join(outside, 'unused.ts');
    fs.writeFileSync(used, '1');
    fs.writeFileSync(unused, '1');
    const { watcher, reported, kinds, sentinel } = await watch(t, { 'a.ts': '' }, { poll: poll_ });
    // As the app read it: nothing to report until the next save.
    watcher.watchOutside([{ file: used, hash: sourceHash('1') }]);
    fs.writeFileSync(unused, '2');
    fs.writeFileSync(used, '22');
    await poll(() => kinds(used).includes('change'), 'the change of the used file outside the root');
    await sentinel();
    assert.deepEqual(reported(unused), []);
    // No longer used: no longer watched.
    watcher.watchOutside([]);
    const count = reported(used).length;
    fs.writeFileSync(used, '333');
    await sentinel();
    assert.equal(reported(used).length, count);
  });

  test(`${mode}: a file outside the root saved after the app read it and before it is watched is reported`, async (t) => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-outside-'));
    onCleanup(t, () => fs.rmSync(outside, { recursive: true, force: true }));
    const [saved, kept, gone] = ['saved.ts', 'kept.ts', 'gone.ts'].map((name) => path.join(outside, name)) as [string, string, string];
    for (const file of [saved, kept, gone]) fs.writeFileSync(file, '1');
    const { watcher, reported, kinds, sentinel } = await watch(t, { 'a.ts': '' }, { poll: poll_ });
    // The app read all three ('1'), then one is saved and one deleted before the supervisor watches.
    fs.writeFileSync(saved, '2');
    fs.rmSync(gone);
    watcher.watchOutside([saved, kept, gone].map((file) => ({ file, hash: sourceHash('1') })));
    await poll(() => kinds(saved).includes('change') && kinds(gone).includes('unlink'), 'the save and the delete before the watch');
    await sentinel();
    assert.deepEqual(reported(kept), []);
  });

  test(`${mode}: a file outside the root in folders not made yet is watched once they are`, async (t) => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-outside-'));
    onCleanup(t, () => fs.rmSync(outside, { recursive: true, force: true }));
    const file = path.join(outside, 'ws', 'pkg', 'index.ts');
    const { watcher, kinds } = await watch(t, { 'a.ts': '' }, { poll: poll_ });
    // The app failed to read it (its package is not there): what it asked for is reported gone.
    watcher.watchOutside([{ file, hash: sourceHash('1') }]);
    await poll(() => kinds(file).includes('unlink'), 'the missing file reported');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '1');
    await poll(() => kinds(file).includes('add'), 'the file, once its folders are made');
    fs.writeFileSync(file, '2');
    await poll(() => kinds(file).filter((k) => k !== 'unlink' && k !== 'add').length > 0, 'a save in the new folder');
  });

  test(`${mode}: an env file outside the root, in a folder not made yet, is watched once it is`, async (t) => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-outside-'));
    onCleanup(t, () => fs.rmSync(outside, { recursive: true, force: true }));
    const file = path.join(outside, 'config', '.env');
    const { kinds } = await watch(t, { 'a.ts': '' }, { poll: poll_, extraFiles: [file] });
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, 'A=1\n');
    await poll(() => kinds(file).includes('add'), 'the env file, once its folder is made');
  });

  test(`${mode}: an env file outside the root in a folder reached through a symlink is watched`, async (t) => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-outside-'));
    onCleanup(t, () => fs.rmSync(outside, { recursive: true, force: true }));
    fs.mkdirSync(path.join(outside, 'real'));
    fs.writeFileSync(path.join(outside, 'real', '.env'), 'A=1\n');
    fs.symlinkSync(path.join(outside, 'real'), path.join(outside, 'link'));
    const file = path.join(outside, 'link', '.env');
    const { kinds, sentinel } = await watch(t, { 'a.ts': '' }, { poll: poll_, extraFiles: [file] });
    await sentinel();
    assert.deepEqual(kinds(file), [], 'there at the start: nothing to report');
    fs.writeFileSync(file, 'A=2\n');
    await poll(() => kinds(file).includes('change'), 'the save through the symlinked folder');
  });

  test(`${mode}: a folder of files outside the root deleted and made again is watched again`, async (t) => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-outside-'));
    onCleanup(t, () => fs.rmSync(outside, { recursive: true, force: true }));
    const pkg = path.join(outside, 'pkg');
    const file = path.join(pkg, 'index.ts');
    fs.mkdirSync(pkg);
    fs.writeFileSync(file, '1');
    const { watcher, kinds } = await watch(t, { 'a.ts': '' }, { poll: poll_ });
    watcher.watchOutside([{ file, hash: sourceHash('1') }]);
    // A branch switch: the package goes, then comes back with other content.
    fs.rmSync(pkg, { recursive: true });
    await poll(() => kinds(file).includes('unlink'), 'the file unlinked with its folder');
    fs.mkdirSync(pkg);
    fs.writeFileSync(file, '2');
    await poll(() => kinds(file).includes('add'), 'the file, back in a new folder');
    const count = kinds(file).length;
    fs.writeFileSync(file, '3');
    await poll(() => kinds(file).length > count, 'a save after the folder came back');
  });
}

/**
 * Count the directory reads and stats made while `fn` runs, through any of node:fs's APIs (sync,
 * callback, promises; ES module imports of node:fs too, through syncBuiltinESMExports).
 */
async function counting(calls: { readdir: number; stat: number }, fn: () => Promise<unknown>): Promise<void> {
  const apis = [
    [fs, ['readdirSync', 'readdir', 'opendirSync', 'opendir'], 'readdir'],
    [fs, ['lstatSync', 'statSync', 'lstat', 'stat'], 'stat'],
    [fs.promises, ['readdir', 'opendir'], 'readdir'],
    [fs.promises, ['lstat', 'stat'], 'stat'],
  ] as const;
  const restore: Array<() => void> = [];
  for (const [object, names, key] of apis) {
    const target = object as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of names) {
      const original = target[name]!;
      target[name] = function (this: unknown, ...args: unknown[]) {
        calls[key]++;
        return original.apply(this, args);
      };
      restore.push(() => {
        target[name] = original;
      });
    }
  }
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    for (const undo of restore) undo();
    syncBuiltinESMExports();
  }
}

/** fs.watch throws `code` until the test ends (the watcher calls it through the module object). */
function failWatch(t: T, code: string): void {
  const original = fs.watch;
  (fs as { watch: unknown }).watch = () => {
    throw Object.assign(new Error(`${code}: fs.watch refused by the test`), { code });
  };
  onCleanup(t, () => {
    (fs as { watch: unknown }).watch = original;
  });
}

test('a file caught empty is reported at once; the write comes as its own event; settled() waits for it', async (t) => {
  const { fixture, watcher, kinds } = await watch(t, { 'a.ts': 'export const a = 1;\n' });
  const file = fixture.write('a.ts', '');
  // Reported while it is still empty: the watcher does not wait for content.
  await poll(() => kinds(file).length > 0, 'the truncate', 5000, 1);
  assert.equal(fs.readFileSync(file, 'utf8'), '');
  fixture.write('a.ts', 'export const a = 2;\n');
  await watcher.settled([file]);
  // The truncate and the write each came, the write's as its own event (perhaps in two).
  assert.ok(kinds(file).length >= 2 && kinds(file).every((k) => k === 'change'), kinds(file).join());
});

test('settled() on a starved process: a write still queued in the kernel when the quiet time is over is read before it resolves', async (t) => {
  const { fixture, watcher, kinds } = await watch(t, { 'a.ts': 'export const a = 1;\n' });
  const file = fixture.write('a.ts', '');
  await poll(() => kinds(file).length > 0, 'the truncate', 5000, 1);
  const truncatedAt = Date.now();
  let resolvedWith: number | undefined;
  const settled = watcher.settled([file]).then(() => {
    resolvedWith = kinds(file).length;
  });
  // Let settled() take its place and arm its timer for the end of the quiet time.
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(resolvedWith, undefined, 'quiet time not over yet');
  // From a check-phase callback, so the event loop's next turn runs its due timers before it
  // polls for events: the write lands in the kernel's queue and this thread is busy past the
  // quiet time, as a starved process is, so the timer is due before the event is read.
  await new Promise((resolve) => setImmediate(resolve));
  const before = kinds(file).length;
  fixture.write('a.ts', 'export const a = 2;\n');
  while (Date.now() < truncatedAt + SETTLE_QUIET_MS + 30) {
    // busy
  }
  await settled;
  assert.ok(
    resolvedWith! > before,
    `settled() resolved with ${resolvedWith} event(s) of the file, ${before} before the write: it was still unread`,
  );
});

test("an editor's save by rename (temp file written, renamed over) is one change; the temp file is never reported", async (t) => {
  const { fixture, batches, rel } = await watch(t, { 'src/a.ts': 'export const a = 1;\n' });
  const tmp = fixture.file('src/.a.ts.swp');
  fs.writeFileSync(tmp, 'export const a = 2;\n');
  fs.renameSync(tmp, fixture.file('src/a.ts'));
  await poll(() => batches.length > 0, 'the batch');
  assert.deepEqual(batches.flat().map(rel), ['change src/a.ts']);
});

test('an edit in a folder of 3,000 files costs one lstat: the folder is not read again', async (t) => {
  const tree: Record<string, string> = {};
  for (let i = 0; i < 3000; i++) tree[`src/m${i}.ts`] = `export const m${i} = ${i};\n`;
  const { fixture, kinds, all } = await watch(t, tree);
  assert.deepEqual(all(), []);
  const calls = { readdir: 0, stat: 0 };
  const file = fixture.write('src/m1234.ts', 'export const m1234 = -1;\n');
  await counting(calls, () => poll(() => kinds(file).includes('change'), 'the change', 5000, 1));
  assert.equal(calls.readdir, 0, 'the folder was read again');
  assert.ok(calls.stat <= 3, `${calls.stat} stats for one edit`);
  // Adds and deletes in the big folder work as anywhere.
  const added = fixture.write('src/m3000.ts', '');
  fs.rmSync(fixture.file('src/m0.ts'));
  await poll(() => kinds(added).includes('add') && kinds(fixture.file('src/m0.ts')).includes('unlink'), 'the add and the unlink');
});

test('a directory fs.watch cannot watch (out of inotify watches) is polled, with a warning', async (t) => {
  const fixture = createFixture(t, { 'src/a.ts': '' });
  failWatch(t, 'ENOSPC');
  const warnings: string[] = [];
  const { batches } = await watchFixture(t, fixture, { onError: (error) => warnings.push(error.message) });
  // Said once, though neither the root nor src/ could be watched.
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /ENOSPC.*polling it and any other such directory instead.*max_user_watches/);
  const file = fixture.write('src/a.ts', 'changed');
  await poll(() => batches.flat().some((c) => c.file === file && c.kind === 'change'), 'the change, seen by polling');
});
