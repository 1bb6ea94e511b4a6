// Runs the compiled test files with Node's test runner, two at a time, each in a process group of
// its own with a deadline. A list built here (not a shell glob or a directory argument) behaves
// the same on Node 20, 22 and 24.
//
// Why not one `node --test` over all files: on Node 24 a test file whose main thread is blocked
// is never killed (its --test-timeout timers cannot fire, and the parent does not act on them),
// so one hang held CI until its 90-minute limit. Here a file past its deadline is killed with
// everything it started, and counts as failed.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('../dist/test/', import.meta.url).pathname;
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (files.length === 0) {
  console.error(`no test files in ${dir}`);
  process.exit(1);
}
/** Per file: the slowest file takes about a minute here; a deadline well past it is a hang. */
const FILE_DEADLINE_MS = Number(process.env.DEVHOT_TEST_FILE_DEADLINE_MS ?? 8 * 60_000);
/** Per test, inside a file: differential fixtures bound their own children at 60 s. */
const TEST_TIMEOUT_MS = 180_000;
const CONCURRENCY = 2;

console.log(`node ${process.version}: ${files.length} test files, ${CONCURRENCY} at a time`);
const started = Date.now();
const failed = [];

function runFile(file) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--test', `--test-timeout=${TEST_TIMEOUT_MS}`, join(dir, file)], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, FILE_DEADLINE_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Whatever the file left behind (a server it spawned and did not stop) goes with it.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      const seconds = ((Date.now() - t0) / 1000).toFixed(1);
      const ok = code === 0 && !timedOut;
      process.stdout.write(`\n=== ${file} (${seconds} s)\n${output}`);
      if (timedOut) process.stdout.write(`\n✖ ${file} was killed: still running after ${FILE_DEADLINE_MS / 1000} s\n`);
      if (!ok) failed.push(`${file}${timedOut ? ' (killed at its deadline)' : signal ? ` (${signal})` : ''}`);
      resolve();
    });
  });
}

const queue = [...files];
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (queue.length > 0) await runFile(queue.shift());
  }),
);
const total = ((Date.now() - started) / 1000).toFixed(0);
console.log(`\n${files.length - failed.length} of ${files.length} test files passed in ${total} s (node ${process.version})`);
for (const f of failed) console.log(`✖ ${f}`);
process.exit(failed.length === 0 ? 0 : 1);
