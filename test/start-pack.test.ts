/**
 * The start pack (start-pack.ts): a start whose files have not changed reads its modules from
 * one file, without reading the sources or opening their entries; any change to a file since
 * (even one that puts its size and mtime back) reads that file again, and what runs is what
 * Node runs.
 *
 * A stamp is trusted only for a file last changed RACY_MS before it was taken, so the projects
 * here are made first and every test waits, once, until they are that old.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { createRunner, type Runner } from '../src/runner/runner.js';
import { entryHead, readEntry } from '../src/runner/cache-entry.js';
import { RACY_MS, StartPackReader, StartPackWriter, trustedStamp } from '../src/runner/start-pack.js';
import { cacheFiles } from './helpers/cache-files.js';
import { poll } from './helpers/poll.js';
import { createProject, namespaceOf, type Project, rejection, type Tree } from './helpers/project.js';

const TS_TREE: Tree = {
  'lib/a.ts': `export const a: number = 1;\n`,
  'lib/b.ts': `import { a } from './a.ts';\nexport const b = a + 1;\n`,
  'lib/fail.ts': `type T = string;\n\nexport function fail(): never {\n  throw new Error('from the pack' as T);\n}\n`,
  'data.json': `{"d": 4}`,
  'main.ts': `import { b } from './lib/b.ts';\nimport data from './data.json' with { type: 'json' };\nexport { fail } from './lib/fail.ts';\nexport const got = [b, data.d];\n`,
};

/** Plain JavaScript, so Node runs it as it is: the same values under node and from the pack. */
const JS_TREE: Tree = {
  'package.json': `{"type": "module"}\n`,
  'lib/counter.js': `export let count = 0;\nexport function bump() { count += 1; return count; }\n`,
  'lib/order.js': `export const order = [];\norder.push('order');\n`,
  'lib/one.js': `import { order } from './order.js';\nimport { bump } from './counter.js';\norder.push('one');\nexport const one = bump();\n`,
  'lib/two.js': `import { order } from './order.js';\nimport { bump, count } from './counter.js';\norder.push('two');\nexport const two = [bump(), count];\n`,
  'lib/helper.cjs': `exports.helped = __filename.split('/').pop();\n`,
  'legacy.cjs': `const { helped } = require('./lib/helper.cjs');\nmodule.exports = { legacy: typeof require, name: __filename.split('/').pop(), helped };\n`,
  'main.js': `import { one } from './lib/one.js';\nimport { two } from './lib/two.js';\nimport { order } from './lib/order.js';\nimport legacy from './legacy.cjs';\nimport { count } from './lib/counter.js';\nexport const got = { one, two, order, legacy, count, meta: typeof import.meta.url };\n`,
};

/** CommonJS TypeScript: each import becomes a require(), compiled ahead (prefetch.ts), then required. */
const CJS_TREE: Tree = {
  'package.json': `{}\n`,
  'lib/a.ts': `export const a: number = 1;\n`,
  'lib/b.ts': `import { a } from './a';\nexport const b: number = a + 1;\n`,
  'main.ts': `import { b } from './lib/b';\nexport const got = [b, typeof require];\n`,
};

/** Relative imports the pack links or must not: a TypeScript twin (`./lib/v.js` is v.ts), a directory's `main`, a dangling link's twin, a directory whose parent moves. */
const LINKS_TREE: Tree = {
  'lib/v.ts': `export const v = 'v.ts';\n`,
  'pkg/package.json': `{"main": "a.ts"}\n`,
  'pkg/a.ts': `export const w = 'a.ts';\n`,
  'pkg/b.ts': `export const w = 'b.ts';\n`,
  'linked/y.ts': `export const y = 'y.ts';\n`,
  'deep/code/x.ts': `export const x = import.meta.url;\n`,
  'main.ts': `import { v } from './lib/v.js';\nimport { w } from './pkg';\nimport { y } from './linked/y.js';\nimport { x } from './deep/code/x.js';\nexport const got = [v, w, y, x];\n`,
};

interface Made {
  project: Project;
  cacheDir: string;
}

const made: Made[] = [];
/** Whole seconds ago: a time `utimes` can put back exactly (it takes seconds, not nanoseconds). */
const MTIME = Math.floor(Date.now() / 1000) - 60;

function make(files: Tree): Made {
  const m = { project: createProject(files), cacheDir: fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-pack-')) };
  for (const rel of Object.keys(files)) fs.utimesSync(m.project.file(rel), MTIME, MTIME);
  made.push(m);
  return m;
}
after(() => {
  for (const { project, cacheDir } of made) {
    project.cleanup();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});

// Made before any test runs, so the one wait below covers them all.
const changed = make(TS_TREE);
const differential = make(JS_TREE);
const rekeyed = make({ ...TS_TREE, 'tsconfig.json': `{"compilerOptions": {}}\n` });
const damaged = make(TS_TREE);
const background = make(TS_TREE);
const commonjs = make(CJS_TREE);
const deleted = make(TS_TREE);
const limited = make(TS_TREE);
const linked = make(LINKS_TREE);
// linked/y.js: a link to a file that is not there yet, so './linked/y.js' is y.ts for now.
fs.symlinkSync('../elsewhere/y.js', linked.project.file('linked/y.js'));

/** Until no file of `project` changed in the last RACY_MS: its stamps can be trusted. */
async function aged({ project }: Made): Promise<void> {
  const files = fs.readdirSync(project.root, { recursive: true, encoding: 'utf8' }).map((f) => path.join(project.root, f));
  await poll(
    () => files.every((f) => Math.max(fs.lstatSync(f).mtimeMs, fs.lstatSync(f).ctimeMs) < Date.now() - RACY_MS - 50),
    `the project's files to be ${RACY_MS} ms old`,
    RACY_MS + 10_000,
    50,
  );
}

async function withRunner<T>({ project, cacheDir }: Made, entry: string, fn: (runner: Runner) => T | Promise<T>): Promise<T> {
  const runner = createRunner({ root: project.root, entry, cacheDir });
  try {
    await runner.start();
    return await fn(runner);
  } finally {
    await runner.close();
  }
}

const packsIn = (cacheDir: string): string[] => fs.readdirSync(cacheDir).filter((f) => f.endsWith('.pack'));
/** The module counts; the links are asserted where they are the point. */
const stats = (runner: Runner) => {
  const { packLinks: _, ...counts } = runner.compilerStats;
  return counts;
};
const MODULES = Object.keys(TS_TREE).length;

test('a stamp is trusted only for a file that has not changed for RACY_MS', () => {
  const file = changed.project.file('lib/a.ts');
  const { ctimeMs } = fs.statSync(file);
  assert.equal(trustedStamp(file, ctimeMs + RACY_MS - 1), undefined, 'changed within RACY_MS: read it again next time');
  assert.ok(trustedStamp(file, ctimeMs + RACY_MS + 1), 'older: its stamp stands for its content');
  assert.equal(trustedStamp(path.join(changed.project.root, 'gone.ts')), undefined);
});

test('the second start reads every module from the pack; a file changed since is read again, even with its size and mtime put back', async () => {
  await aged(changed);
  const { project, cacheDir } = changed;
  await withRunner(changed, 'main.ts', (runner) => {
    assert.deepEqual(stats(runner), { memoryHits: 0, diskHits: 0, misses: MODULES, packHits: 0 });
  });
  assert.equal(packsIn(cacheDir).length, 1, 'the runner left a pack when it closed');

  await withRunner(changed, 'main.ts', async (runner) => {
    assert.deepEqual(stats(runner), { memoryHits: 0, diskHits: MODULES, misses: 0, packHits: MODULES });
    const main = namespaceOf(runner, project.file('main.ts'));
    assert.deepEqual(main.got, [2, 4]);
    // The maps are in the module's own entry: the stack still points at the .ts line.
    const { stack } = (await rejection(() => main.fail())) as Error;
    assert.ok(stack?.includes(`${project.file('lib/fail.ts')}:4:9`), stack);
  });

  // Same length, and the old times put back: only the ctime (and the content) tell.
  const file = project.file('lib/a.ts');
  const before = fs.statSync(file);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('= 1', '= 7'));
  fs.utimesSync(file, MTIME, MTIME);
  const now = fs.statSync(file);
  assert.equal(now.size, before.size);
  assert.equal(now.mtimeMs, before.mtimeMs);
  await withRunner(changed, 'main.ts', (runner) => {
    assert.deepEqual(namespaceOf(runner, project.file('main.ts')).got, [8, 4]);
    assert.deepEqual(stats(runner), { memoryHits: 0, diskHits: MODULES - 1, misses: 1, packHits: MODULES - 1 });
  });
});

test('modules from the pack run as under node', async () => {
  await aged(differential);
  const { project } = differential;
  const script = `import(${JSON.stringify(project.file('main.js'))}).then((m) => console.log(JSON.stringify(m.got)))`;
  const underNode = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: project.root, encoding: 'utf8' }));
  const files = Object.keys(JS_TREE).filter((f) => f !== 'package.json').length;
  await withRunner(differential, 'main.js', (runner) => {
    assert.equal(runner.compilerStats.packHits, 0);
    assert.deepEqual(namespaceOf(runner, project.file('main.js')).got, underNode);
  });
  await withRunner(differential, 'main.js', (runner) => {
    assert.equal(runner.compilerStats.packHits, files, 'every module from the pack');
    assert.deepEqual(namespaceOf(runner, project.file('main.js')).got, underNode);
  });
});

test('a runner that keeps running writes the pack once its start is on disk, and the next start reads it', async () => {
  await aged(background);
  await withRunner(background, 'main.ts', async () => {
    await poll(() => packsIn(background.cacheDir).length === 1, 'the pack, written while the runner runs', 10_000, 20);
  });
  await withRunner(background, 'main.ts', (runner) => {
    assert.equal(runner.compilerStats.packHits, MODULES);
    assert.deepEqual(namespaceOf(runner, background.project.file('main.ts')).got, [2, 4]);
  });
});

test('CommonJS TypeScript from the pack: each module taken once, though compiled ahead and then required', async () => {
  await aged(commonjs);
  const files = Object.keys(CJS_TREE).length - 1;
  await withRunner(commonjs, 'main.ts', (runner) => {
    assert.deepEqual(namespaceOf(runner, commonjs.project.file('main.ts')).got, [2, 'function']);
  });
  await withRunner(commonjs, 'main.ts', (runner) => {
    assert.deepEqual(stats(runner), { memoryHits: 0, diskHits: files, misses: 0, packHits: files });
    assert.deepEqual(namespaceOf(runner, commonjs.project.file('main.ts')).got, [2, 'function']);
  });
});

test('a file deleted since the pack: the start fails as it does without one, with the same error and code frame', async () => {
  await aged(deleted);
  const { project, cacheDir } = deleted;
  await withRunner(deleted, 'main.ts', () => {});
  assert.equal(packsIn(cacheDir).length, 1);
  project.remove('lib/a.ts');
  const failure = async (dir: string | false) => {
    const runner = createRunner({ root: project.root, entry: 'main.ts', cacheDir: dir });
    try {
      const error = (await rejection(() => runner.start())) as Error & { loc?: unknown; frame?: string };
      return { message: error.message, loc: error.loc, frame: error.frame, packHits: runner.compilerStats.packHits };
    } finally {
      await runner.close();
    }
  };
  const fromPack = await failure(cacheDir);
  const withoutCache = await failure(false);
  assert.ok(fromPack.packHits > 0, 'b.ts came from the pack');
  assert.match(fromPack.message, /a\.ts/);
  assert.deepEqual({ ...fromPack, packHits: 0 }, { ...withoutCache, packHits: 0 });
});

test('a pack holds modules up to its byte limit: the rest are left out, to be read as before', async () => {
  await withRunner(limited, 'main.ts', () => {});
  const heads = cacheFiles(limited.cacheDir).map((f) => {
    const { file, hash, format } = readEntry(f)!;
    return {
      info: { file, hash, format, folder: path.basename(path.dirname(f)), stamp: { size: 1, mtimeMs: 1, ctimeMs: 1, ino: 1 } },
      head: entryHead(f, file, hash)!,
    };
  });
  assert.equal(heads.length, MODULES);
  const pack = path.join(limited.cacheDir, 'limited.pack');
  // Room for the first two modules and the magic number, not for a third.
  const writer = new StartPackWriter(pack, `${pack}.tmp`, 4 + heads[0]!.head.bytes.length + heads[1]!.head.bytes.length);
  for (const { info, head } of heads) writer.add(info, [], head);
  writer.finish('key');
  assert.equal(StartPackReader.open(pack, 'key')?.size, 2);
  assert.equal(StartPackReader.open(pack, 'another key'), undefined);
});

test('a pack made with other compiler options is not read', async () => {
  await aged(rekeyed);
  await withRunner(rekeyed, 'main.ts', () => {});
  assert.equal(packsIn(rekeyed.cacheDir).length, 1);
  rekeyed.project.write('tsconfig.json', `{"compilerOptions": {"useDefineForClassFields": false}}\n`);
  await withRunner(rekeyed, 'main.ts', (runner) => {
    assert.deepEqual(stats(runner), { memoryHits: 0, diskHits: 0, misses: MODULES, packHits: 0 });
    assert.deepEqual(namespaceOf(runner, rekeyed.project.file('main.ts')).got, [2, 4]);
  });
});

test('a damaged pack costs only its speed', async () => {
  await aged(damaged);
  await withRunner(damaged, 'main.ts', () => {});
  const [pack] = packsIn(damaged.cacheDir);
  assert.ok(pack);
  const file = path.join(damaged.cacheDir, pack);
  // Every module's bytes garbled, the index intact: each is read from its entry instead.
  const bytes = fs.readFileSync(file);
  const indexAt = bytes.length - 8 - bytes.readUInt32LE(bytes.length - 8);
  bytes.fill(0x7a, 4, indexAt);
  fs.writeFileSync(file, bytes);
  await withRunner(damaged, 'main.ts', (runner) => {
    assert.deepEqual(stats(runner), { memoryHits: 0, diskHits: MODULES, misses: 0, packHits: 0 });
    assert.deepEqual(namespaceOf(runner, damaged.project.file('main.ts')).got, [2, 4]);
  });
  // Cut short: no index at all.
  fs.truncateSync(file, 100);
  await withRunner(damaged, 'main.ts', (runner) => {
    assert.equal(runner.compilerStats.packHits, 0);
    assert.deepEqual(namespaceOf(runner, damaged.project.file('main.ts')).got, [2, 4]);
  });
});

/** `main.ts`'s values from a runner on `cacheDir` (false: no cache at all), and the imports it resolved from the pack's links. */
async function linkedRun({ project }: Made, cacheDir: string | false): Promise<{ got: unknown; packLinks: number }> {
  const runner = createRunner({ root: project.root, entry: 'main.ts', cacheDir });
  try {
    await runner.start();
    return { got: namespaceOf(runner, project.file('main.ts')).got, packLinks: runner.compilerStats.packLinks };
  } finally {
    await runner.close();
  }
}

test("a start resolves relative imports from the pack's links while their directory is unchanged, and anew once it changed", async () => {
  await aged(linked);
  const { project, cacheDir } = linked;
  const plain = async () => (await linkedRun(linked, false)).got;
  const x = (dir: string) => pathToFileURL(path.join(project.root, dir, 'code/x.ts')).href;
  assert.deepEqual(await linkedRun(linked, cacheDir), { got: ['v.ts', 'a.ts', 'y.ts', x('deep')], packLinks: 0 });
  // './lib/v.js' and './deep/code/x.js': './pkg' is a directory's main (package.json), and
  // './linked/y.js' a link a stat follows.
  assert.deepEqual(await linkedRun(linked, cacheDir), { got: ['v.ts', 'a.ts', 'y.ts', x('deep')], packLinks: 2 });

  // A file beside the target: './lib/v.js' is v.js now, its directory's stamp says so.
  project.write('lib/v.js', `export const v = 'v.js';\n`);
  // package.json's main, rewritten in place: pkg/ keeps its stamp.
  project.write('pkg/package.json', `{"main": "b.ts"}\n`);
  // The link's target appears elsewhere: linked/ keeps its stamp, its link now leads to a file.
  fs.mkdirSync(path.join(project.root, 'elsewhere'));
  project.write('elsewhere/y.js', `export const y = 'y.js';\n`);
  // deep/ moved, a link in its place: deep/code keeps its stamp, not its real path.
  fs.renameSync(path.join(project.root, 'deep'), path.join(project.root, 'deep2'));
  fs.symlinkSync('deep2', path.join(project.root, 'deep'));
  const expected = ['v.js', 'b.ts', 'y.js', x('deep2')];
  assert.deepEqual(await plain(), expected);
  const fromPack = await linkedRun(linked, cacheDir);
  assert.deepEqual(fromPack, { got: expected, packLinks: 0 });
});
