/**
 * The `import.meta.hot` types devhot ships (`devhot/hot`) type-check user code the way the
 * README says to reference them, and catch misuse. Runs the real TypeScript compiler on a
 * project that has devhot installed (node_modules/devhot links to this repository).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const TSC = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');

function typecheck(t: { after(fn: () => void): void }, source: string): { code: number | null; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-types-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'node_modules', '@types'), { recursive: true });
  fs.symlinkSync(REPO, path.join(dir, 'node_modules', 'devhot'), 'junction');
  fs.symlinkSync(path.join(REPO, 'node_modules', '@types', 'node'), path.join(dir, 'node_modules', '@types', 'node'), 'junction');
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2023',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        types: ['node', 'devhot/hot'],
      },
      include: ['server.ts'],
    }),
  );
  fs.writeFileSync(path.join(dir, 'server.ts'), source);
  const run = spawnSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8' });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

test('import.meta.hot type-checks every call of the API, guarded as users write it', (t) => {
  const { code, output } = typecheck(
    t,
    `
export let count: number = import.meta.hot?.data.count ?? 0;
if (import.meta.hot) {
  import.meta.hot.accept();
  import.meta.hot.accept((mod) => { void mod?.count; });
  import.meta.hot.accept('./dep.js', (mod) => { void mod; });
  import.meta.hot.accept(['./a.js', './b.js'], ([a, b]) => { void a; void b; });
  import.meta.hot.dispose(async (data) => { data.count = count; });
  import.meta.hot.prune(() => {});
  import.meta.hot.on('devhot:afterUpdate', (payload) => { void payload; });
  import.meta.hot.send('my:event', { at: Date.now() });
  import.meta.hot.invalidate('cannot apply this one');
  import.meta.hot.decline();
}
`,
  );
  assert.equal(code, 0, output);
});

test('misuse of import.meta.hot is a type error, and unguarded use is flagged (it is undefined outside devhot)', (t) => {
  const { code, output } = typecheck(
    t,
    `
import.meta.hot?.accept(42);
import.meta.hot?.dispose('not a function');
import.meta.hot.decline();
`,
  );
  assert.notEqual(code, 0);
  assert.match(output, /server\.ts\(2,/);
  assert.match(output, /server\.ts\(3,/);
  assert.match(output, /server\.ts\(4,.*possibly 'undefined'/);
});
