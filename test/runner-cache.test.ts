/**
 * The compile cache on disk: a second start of the same project skips esbuild and the rewrite,
 * a changed file misses alone, and a damaged cache entry only costs a recompile.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readEntry } from '../src/runner/cache-entry.js';
import { createRunner, type Runner } from '../src/runner/runner.js';
import { cacheFiles } from './helpers/cache-files.js';
import type { After } from './helpers/poll.js';
import { G, REPO_ROOT, createProject, expectStatus, namespaceOf, projectWithRunner, type Project, rejection } from './helpers/project.js';

const TREE = {
  'lib/a.ts': `export const a: number = 1;\n`,
  'lib/b.ts': `import { a } from './a.ts';\nexport const b = a + 1;\n`,
  'lib/legacy.cjs': `module.exports = { legacy: true };\n`,
  'data.json': `{"d": 4}`,
  'lib/fail.ts': `type T = string;\n\nexport function fail(): never {\n  throw new Error('from cache' as T);\n}\n`,
  'main.ts': `import { b } from './lib/b.ts';\nimport legacy from './lib/legacy.cjs';\nimport data from './data.json';\nexport { fail } from './lib/fail.ts';\nexport const got = [b, legacy.legacy, data.d];\n`,
};
const MODULES = Object.keys(TREE).length;

async function withRunner<T>(project: Project, cacheDir: string | undefined, fn: (runner: Runner) => Promise<T>): Promise<T> {
  const runner = createRunner({ root: project.root, entry: 'main.ts', ...(cacheDir === undefined ? {} : { cacheDir }) });
  try {
    await runner.start();
    return await fn(runner);
  } finally {
    await runner.close();
  }
}

/** `files` (TREE by default) in a project of its own, and an empty cache directory, both removed after the test. */
function projectWithCacheDir(t: After, files: Record<string, string> = TREE): { project: Project; cacheDir: string } {
  const project = createProject(files);
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-cache-'));
  t.after(() => {
    project.cleanup();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  });
  return { project, cacheDir };
}

/** The file in `cacheDir` that holds the entry of `file`. */
function entryFileOf(cacheDir: string, file: string): string {
  const found = cacheFiles(cacheDir).find((f) => readEntry(f)?.file === file);
  assert.ok(found, `a cache entry for ${file}`);
  return found;
}

test('a second runner on the same project loads every module from the disk cache', async (t) => {
  const { project, cacheDir } = projectWithCacheDir(t);

  const first = await withRunner(project, cacheDir, async (runner) => ({ ...runner.compilerStats }));
  assert.deepEqual(first, { memoryHits: 0, diskHits: 0, misses: MODULES, packHits: 0, packLinks: 0 });
  assert.equal(cacheFiles(cacheDir).length, MODULES);
  // V8's code cache of every module that was compiled to a function goes with it (JSON is not).
  const entries = cacheFiles(cacheDir).map((f) => readEntry(f)!);
  assert.equal(entries.filter(Boolean).length, MODULES);
  for (const entry of entries.filter((e) => e.format !== 'json'))
    assert.ok(entry.codeCache && entry.codeCache.length > 0, `${entry.file} has V8's code cache`);

  await withRunner(project, cacheDir, async (runner) => {
    assert.deepEqual({ ...runner.compilerStats }, { memoryHits: 0, diskHits: MODULES, misses: 0, packHits: 0, packLinks: 0 });
    const main = namespaceOf(runner, project.file('main.ts'));
    assert.deepEqual(main.got, [2, true, 4]);
    // Source maps come back from the cache too: the stack points at the .ts line.
    const { stack } = (await rejection(() => main.fail())) as Error;
    assert.ok(stack?.includes(`${project.file('lib/fail.ts')}:4:9`), stack);
  });

  // One file changed: one miss, the rest from disk.
  project.edit('lib/a.ts', '= 1', '= 10');
  await withRunner(project, cacheDir, async (runner) => {
    assert.deepEqual({ ...runner.compilerStats }, { memoryHits: 0, diskHits: MODULES - 1, misses: 1, packHits: 0, packLinks: 0 });
    assert.deepEqual(namespaceOf(runner, project.file('main.ts')).got, [11, true, 4]);
  });
});

test("V8's code cache: a start's modules as scripts, made after they ran; a saved one as a function; both used by the next start", async (t) => {
  const { project, cacheDir } = projectWithCacheDir(t);
  const kinds = () =>
    Object.fromEntries(
      cacheFiles(cacheDir)
        .map((f) => readEntry(f)!)
        .filter((e) => e.format !== 'json')
        .map((e) => [`${path.relative(project.root, e.file)}@${e.hash.slice(0, 6)}`, [e.codeCacheKind, (e.codeCache?.length ?? 0) > 0]]),
    );
  await withRunner(project, cacheDir, async () => {});
  for (const [key, [kind]] of Object.entries(kinds())) assert.equal(kind, 'script', key);
  await withRunner(project, cacheDir, async (runner) => {
    expectStatus(await runner.update([project.edit('lib/a.ts', '= 1', '= 5')]), 'applied');
  });
  const written = kinds();
  const saved = Object.keys(written).filter((k) => k.startsWith(path.join('lib', 'a.ts')));
  assert.equal(saved.length, 2, 'both versions of lib/a.ts are on disk');
  const kindsOf = (keys: string[]) => keys.map((k) => written[k]![0]).sort();
  assert.deepEqual(kindsOf(saved), ['function', 'script']);
  for (const [key, [, hasCache]] of Object.entries(written)) assert.ok(hasCache, `${key} has V8's code cache`);
  // The next start reads the saved version's function cache, the rest as scripts, and runs right.
  await withRunner(project, cacheDir, async (runner) => {
    assert.deepEqual({ ...runner.compilerStats }, { memoryHits: 0, diskHits: MODULES, misses: 0, packHits: 0, packLinks: 0 });
    assert.deepEqual(namespaceOf(runner, project.file('main.ts')).got, [6, true, 4]);
  });
  assert.deepEqual(kinds(), written, 'nothing written again');
});

/** A start of `project` in a process of its own (the toolchain loads once per process); what it saw, as JSON. */
function startInChild(
  project: Project,
  cacheDir: string,
  nodeFlags: string[] = [],
): { toolsAtStart: boolean; toolsLater: boolean; stats: object; modules: number } {
  const dist = path.join(REPO_ROOT, 'dist', 'src');
  const script = `
    import { createRunner } from ${JSON.stringify(path.join(dist, 'index.js'))};
    import { compileToolsLoaded } from ${JSON.stringify(path.join(dist, 'runner', 'toolchain.js'))};
    const runner = createRunner({ root: ${JSON.stringify(project.root)}, entry: 'main.ts', cacheDir: ${JSON.stringify(cacheDir)} });
    await runner.start();
    const toolsAtStart = compileToolsLoaded();
    const deadline = Date.now() + 10_000;
    while (!compileToolsLoaded() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const out = { toolsAtStart, toolsLater: compileToolsLoaded(), stats: { ...runner.compilerStats }, modules: runner.modules.size };
    await runner.close();
    console.log(JSON.stringify(out));
  `;
  const stdout = execFileSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

test('after a start from the disk cache the compiler warms up by itself, before any save, and caches nothing of it', async (t) => {
  const { project, cacheDir } = projectWithCacheDir(t);
  const cold = startInChild(project, cacheDir);
  assert.equal(cold.toolsAtStart, true, 'an empty-cache start compiles, so loads the tools');
  const files = cacheFiles(cacheDir).sort();

  const warm = startInChild(project, cacheDir);
  assert.equal(warm.toolsAtStart, false, 'a start from the disk cache loads neither Oxc nor the rewrite');
  assert.equal(warm.toolsLater, true, 'they are loaded and run soon after, with no save');
  assert.deepEqual(warm.stats, { memoryHits: 0, diskHits: MODULES, misses: 0, packHits: 0, packLinks: 0 });
  assert.equal(warm.modules, MODULES);
  assert.deepEqual(cacheFiles(cacheDir).sort(), files, 'the warm-up wrote nothing to the cache');
});

test('a code cache V8 rejects (made under other V8 flags) is made again, of the same kind, and written once', async (t) => {
  const { project, cacheDir } = projectWithCacheDir(t);
  /** Each entry's kind of V8 code cache and the cache, by file. */
  const codeCaches = () =>
    new Map(
      cacheFiles(cacheDir).map((file) => {
        const entry = readEntry(file);
        return [file, `${entry?.codeCacheKind} ${entry?.codeCache?.toString('base64')}`];
      }),
    );
  // A start's modules get script caches, the saved version of lib/a.ts a function cache.
  await withRunner(project, cacheDir, async (runner) => {
    expectStatus(await runner.update([project.edit('lib/a.ts', '= 1', '= 5')]), 'applied');
  });
  const made = codeCaches();
  const kinds = [...made.values()].map((c) => c.split(' ')[0]).sort();
  // lib/a.ts's first version was never written: the save's replaced it while the writes waited.
  assert.deepEqual(kinds, ['function', ...Array(MODULES - 2).fill('script'), 'undefined'], 'the JSON has none');

  // V8 takes a code cache only from a process with the same V8 flags (those it hashes: the stack
  // size on Node 20 and 24, a heap size on Node 20 only).
  const flags = ['--stack-size=900'];
  const other = startInChild(project, cacheDir, flags);
  assert.deepEqual(
    other.stats,
    { memoryHits: 0, diskHits: MODULES, misses: 0, packHits: 0, packLinks: 0 },
    'the modules come from the disk cache still',
  );
  const remade = codeCaches();
  assert.deepEqual([...remade.keys()].sort(), [...made.keys()].sort(), 'the same entries, written over');
  for (const [file, cache] of made) {
    if (cache.startsWith('undefined')) continue;
    assert.notEqual(remade.get(file), cache, `${file}: a new code cache`);
    assert.doesNotMatch(remade.get(file)!, / undefined$/, `${file}: a code cache at all`);
    assert.equal(remade.get(file)!.split(' ')[0], cache.split(' ')[0], `${file}: of the same kind`);
  }

  startInChild(project, cacheDir, flags);
  assert.deepEqual(codeCaches(), remade, 'one V8 takes is not written again');
});

test('the default cache lives in node_modules/.devhot/cache of the project', async (t) => {
  const project = createProject({ 'main.ts': `export const x: number = 1;\n` });
  t.after(() => project.cleanup());
  await withRunner(project, undefined, async () => {});
  assert.equal(cacheFiles(project.file('node_modules/.devhot/cache')).length, 1);
});

test('a damaged cache entry is recompiled, not trusted', async (t) => {
  const { project, cacheDir } = projectWithCacheDir(t, { 'main.ts': `globalThis.__t_cache_damaged = 'ok';\nexport {};\n` });
  await withRunner(project, cacheDir, async () => {});
  const [entry] = cacheFiles(cacheDir);
  fs.writeFileSync(entry!, '{"trunc');
  G.__t_cache_damaged = undefined;
  await withRunner(project, cacheDir, async (runner) => {
    assert.deepEqual({ ...runner.compilerStats }, { memoryHits: 0, diskHits: 0, misses: 1, packHits: 0, packLinks: 0 });
  });
  assert.equal(G.__t_cache_damaged, 'ok');
});

test('an unchanged save is answered from memory; an edit compiles once', async (t) => {
  const { project, runner } = projectWithRunner(t, { 'main.ts': `export const v = 1;\n`, 'dep.ts': `export const d = 1;\n` });
  project.write('main.ts', `import './dep.ts';\nexport const v = 1;\n`);
  await runner.start();
  assert.deepEqual({ ...runner.compilerStats }, { memoryHits: 0, diskHits: 0, misses: 2, packHits: 0, packLinks: 0 });
  expectStatus(await runner.update([project.file('main.ts')]), 'unchanged');
  assert.deepEqual({ ...runner.compilerStats }, { memoryHits: 1, diskHits: 0, misses: 2, packHits: 0, packLinks: 0 });
  expectStatus(await runner.update([project.edit('main.ts', 'v = 1', 'v = 2')]), 'applied');
  // Only the saved file is compiled again; its unchanged dependency is not even read.
  assert.deepEqual({ ...runner.compilerStats }, { memoryHits: 1, diskHits: 0, misses: 3, packHits: 0, packLinks: 0 });
});

test('a module that joins an import cycle between two starts gets a scope per import, written once', async (t) => {
  const y = `export function greet() { return 'hello'; }\nexport let late = 'late';\n`;
  const { project, cacheDir } = projectWithCacheDir(t, {
    'y.ts': y,
    // In the cycle (second start) x runs before y: greet reads, late is in its TDZ, as under node.
    'x.ts': `import { greet, late } from './y.ts';\nexport const greeting = greet();\nlet read: string;\ntry { read = late; } catch (e) { read = (e as Error).constructor.name; }\nexport const lateRead = read;\nexport function fromX() { return 'x'; }\n`,
    'main.ts': `import * as y from './y.ts';\nimport { greeting, lateRead } from './x.ts';\nexport const got = () => [y.seen, greeting, lateRead];\n`,
  });
  /** x.ts's entry on disk: its layout, and its bytes. */
  const xEntry = () => {
    const file = entryFileOf(cacheDir, project.file('x.ts'));
    const entry = readEntry(file)!;
    return { shared: entry.sharedScope, hasCodeCache: (entry.codeCache?.length ?? 0) > 0, bytes: fs.readFileSync(file).toString('base64') };
  };
  await withRunner(project, cacheDir, async (runner) => {
    assert.deepEqual(namespaceOf(runner, project.file('main.ts')).got(), [undefined, 'hello', 'late']);
  });
  assert.equal(xEntry().shared, true, 'in no cycle: one scope for its imports');
  project.write('y.ts', `import { fromX } from './x.ts';\nexport const seen = fromX();\n${y}`);
  await withRunner(project, cacheDir, async (runner) => {
    assert.deepEqual(
      { ...runner.compilerStats },
      { memoryHits: 0, diskHits: 2, misses: 1, packHits: 0, packLinks: 0 },
      'x.ts from the disk, y.ts compiled',
    );
    assert.deepEqual(namespaceOf(runner, project.file('main.ts')).got(), ['x', 'hello', 'ReferenceError']);
  });
  const written = xEntry();
  assert.deepEqual([written.shared, written.hasCodeCache], [false, true], 'written again: a scope per import, with its code cache');
  await withRunner(project, cacheDir, async (runner) => {
    assert.deepEqual(namespaceOf(runner, project.file('main.ts')).got(), ['x', 'hello', 'ReferenceError']);
  });
  assert.deepEqual(xEntry(), written, 'taken as written: not written again');
});

test('a module of one import that joins an import cycle between two starts keeps its disk entry: both layouts read alike', async (t) => {
  const y = `export function greet() { return 'hello'; }\n`;
  const { project, cacheDir } = projectWithCacheDir(t, {
    'y.ts': y,
    'x.ts': `import { greet } from './y.ts';\nexport const greeting = greet();\nexport function fromX() { return 'x'; }\n`,
    'main.ts': `import * as y from './y.ts';\nimport { greeting } from './x.ts';\nexport const got = () => [y.seen, greeting];\n`,
  });
  const xEntry = () => fs.readFileSync(entryFileOf(cacheDir, project.file('x.ts'))).toString('base64');
  await withRunner(project, cacheDir, async (runner) => {
    assert.deepEqual(namespaceOf(runner, project.file('main.ts')).got(), [undefined, 'hello']);
  });
  const first = xEntry();
  project.write('y.ts', `import { fromX } from './x.ts';\nexport const seen = fromX();\n${y}`);
  await withRunner(project, cacheDir, async (runner) => {
    assert.deepEqual(
      { ...runner.compilerStats },
      { memoryHits: 0, diskHits: 2, misses: 1, packHits: 0, packLinks: 0 },
      'x.ts from the disk, y.ts compiled',
    );
    // x runs first, in the cycle; y's function declaration is initialised before either runs.
    assert.deepEqual(namespaceOf(runner, project.file('main.ts')).got(), ['x', 'hello']);
  });
  assert.equal(xEntry(), first, 'x.ts taken as written, with its code cache: not written again');
});
