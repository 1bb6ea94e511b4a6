// Runs the compiled test files with Node's test runner. A list built here (not a shell glob or
// a directory argument) behaves the same on Node 20, 22 and 24.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const dir = new URL('../dist/test/', import.meta.url).pathname;
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .map((f) => join(dir, f));
if (files.length === 0) {
  console.error(`no test files in ${dir}`);
  process.exit(1);
}
console.log(`node ${process.version}: ${files.length} test files`);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
