/**
 * Memory stays flat across hot updates (docs/design.md, "Invariants"). Runs in a child process with
 * `--expose-gc`, so the heap is measured after real collections and not disturbed by other tests.
 *
 * Each version of the updated module holds ~800 KB (a 100,000-element array), registers a
 * listener and a dispose handler and writes `hot.data`; if old instances were kept alive, 300
 * updates would grow the heap by ~240 MB, far past the 5 MB allowed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, createProject } from './helpers/project.js';

const UPDATES = 300;
const LIMIT_MB = 5;

function moduleSource(n: number): string {
  return [
    `import { base } from './base.ts';`,
    `export const big = new Array(100_000).fill(${n});`,
    `export const version: number = ${n} + base;`,
    `const onPing = () => big.length;`,
    `import.meta.hot?.on('custom:ping', onPing);`,
    `import.meta.hot?.dispose((data) => { data.last = version; });`,
    `import.meta.hot?.accept();`,
  ].join('\n');
}

const CHILD = `
import { writeFileSync } from 'node:fs';
const [runnerUrl, root, updates, mode] = process.argv.slice(2);
const { createRunner } = await import(runnerUrl);
const esm = ${moduleSource.toString()};
const cjs = ${cjsSource.toString()};
const file = root + (mode === 'self' ? '/hot.ts' : '/dep.cjs');
const src = mode === 'self' ? esm : cjs;
const rung = mode === 'self' ? 'hot-update' : 'entry-reexecuted';
const runner = createRunner({ root, entry: mode === 'self' ? 'main.ts' : 'main-cjs.ts', cacheDir: false });
await runner.start();
const heap = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage().heapUsed; };
let before = 0;
const WARMUP = 20;
for (let i = 1; i <= WARMUP + Number(updates); i++) {
  if (i === WARMUP + 1) before = heap();
  writeFileSync(file, src(i));
  const result = await runner.update([file]);
  if (result.status !== 'applied' || result.rung !== rung) {
    console.log(JSON.stringify({ failed: result }));
    process.exit(1);
  }
}
const after = heap();
const ns = runner.modules.get(file).namespace;
console.log(JSON.stringify({ growth: after - before, version: ns.version ?? ns.default.version, big: (ns.big ?? ns.default.get()).length }));
await runner.close();
`;

/** A CommonJS module re-executed with the entry (no boundary): the other way versions are replaced. */
function cjsSource(n: number): string {
  return `const big = new Array(100_000).fill(${n});\nmodule.exports = { get: () => big, version: ${n} };\n`;
}

const TREE = {
  'base.ts': `export const base = 0;\n`,
  'hot.ts': moduleSource(0),
  'main.ts': `import { version } from './hot.ts';\nexport const first = version;\n`,
  'dep.cjs': cjsSource(0),
  'main-cjs.ts': `import dep from './dep.cjs';\nexport const got = dep.get();\nimport.meta.hot?.dispose(() => {});\n`,
  'child.mjs': CHILD,
};

for (const [mode, updates, what] of [
  ['self', UPDATES, 'hot updates of a self-accepting module'],
  ['entry', UPDATES / 2, 'entry re-executions after edits of a CommonJS module'],
] as const) {
  test(`${updates} ${what} do not grow the heap by more than ${LIMIT_MB} MB`, async (t) => {
    const project = createProject(TREE);
    t.after(() => project.cleanup());
    const runnerUrl = pathToFileURL(path.join(REPO_ROOT, 'dist/src/runner/runner.js')).href;
    assert.ok(fs.existsSync(new URL(runnerUrl)));
    const child = spawnSync(process.execPath, ['--expose-gc', project.file('child.mjs'), runnerUrl, project.root, String(updates), mode], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(child.status, 0, `child failed:\n${child.stdout}\n${child.stderr}`);
    const report = JSON.parse(child.stdout.trim().split('\n').pop()!) as { growth: number; version: number; big: number };
    // The updates really applied: the last version is live.
    assert.equal(report.version, updates + 20);
    assert.equal(report.big, 100_000);
    const growthMb = report.growth / 1024 / 1024;
    t.diagnostic(`heap growth over ${updates} updates: ${growthMb.toFixed(2)} MB`);
    assert.ok(growthMb < LIMIT_MB, `heap grew by ${growthMb.toFixed(2)} MB over ${updates} updates`);
  });
}
