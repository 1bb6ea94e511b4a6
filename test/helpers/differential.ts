/**
 * Differential runs: the same fixture under plain `node` and under devhot's runner, each in a
 * child process of its own, and what each observably did: the lines it printed, and how the
 * entry ended (fulfilled, or rejected with an error's name, code and message), and the process's
 * exit code. A test that compares devhot with Node itself finds the differences a test that
 * compares devhot with itself cannot (docs/design.md).
 *
 * Fixtures are plain JavaScript (.js in a `"type": "module"` package, .mjs, .cjs), so Node runs
 * them as they are; TypeScript project shapes (CommonJS TypeScript, entry forms) are compared
 * with tsx instead, which is what a user would run them with (`sameAsTsx`). devhot's own
 * location suffix on error messages (" (file.js:3:5)") is dropped before comparing; everything
 * else must match. The runner runs as the app process runs it: with nativeLoads and
 * ownResources (Node's loaders and the process-wide functions it wraps).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './project.js';
import { type Tree, writeTree } from './tree.js';

const DEVHOT = path.join(REPO_ROOT, 'dist', 'src', 'index.js');
/** tsx's loader, for `node --import` (the fixture has no node_modules of its own). */
const TSX = path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');

export interface Outcome {
  /** What the fixture printed (console.log), line by line. */
  lines: string[];
  /** How the entry's load ended: 'ok', or the error it was rejected with. */
  entry: 'ok' | { name: string; code?: string; message: string };
  exitCode: number | null;
}

/** Runs in the child: import the entry (node) or start a runner on it (devhot), report at exit. */
const DRIVER = `
import { pathToFileURL } from 'node:url';
const [engine, root, entry, devhot] = process.argv.slice(2);
let outcome = 'pending';
process.on('exit', (code) => { process.stdout.write('\\n@@outcome ' + JSON.stringify({ entry: outcome, exitCode: code }) + '\\n'); });
const describe = (e) => {
  if (e && typeof e === 'object' && e.code && String(e.code).startsWith('DEVHOT_ERR') && e.cause && typeof e.cause.message === 'string') {
    const m = /^(\\w+): ([\\s\\S]*?)(?: \\([^()\\s]+(?::\\d+:\\d+)?\\))?$/.exec(e.cause.message);
    if (!m) return { name: 'DevhotError', message: e.message };
    return { name: m[1], ...(e.cause.errorCode ? { code: e.cause.errorCode } : {}), message: m[2] };
  }
  return { name: e?.name ?? typeof e, ...(e?.code ? { code: e.code } : {}), message: String(e?.message ?? e) };
};
try {
  if (engine === 'node') await import(pathToFileURL(entry).href);
  else {
    const { createRunner } = await import(pathToFileURL(devhot).href);
    await createRunner({ root, entry, cacheDir: false, nativeLoads: true, ownResources: true }).start();
  }
  outcome = 'ok';
} catch (error) {
  outcome = describe(error);
}
`;

type Engine = 'node' | 'tsx' | 'devhot';

/** What a run printed, and its exit code. */
interface Run {
  out: string;
  err: string;
  code: number | null;
}

/** Run node with `args` in `root`, collecting its output. */
function runNode(root: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk));
    // A bound, not a wait: a fixture that hangs fails instead of holding the suite (generous, for a busy CI machine).
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ out, err, code });
    });
  });
}

/**
 * tsx runs the entry itself (`node --import tsx main.ts`), so that it is the process's main
 * module as under `tsx main.ts`; how its load ended is read from its exit code and the last
 * `Name: message` line it printed on stderr.
 */
async function runTsx(root: string, entry: string): Promise<Outcome> {
  const { out, err, code } = await runNode(root, ['--import', pathToFileURL(TSX).href, path.join(root, entry)]);
  const lines = out.split('\n').filter((l) => l !== '');
  const last = [...err.matchAll(/^(?:\w+ \[\w+\]|(\w*Error)): (.*)$/gm)].at(-1);
  return { lines, entry: code === 0 ? 'ok' : { name: last?.[1] ?? 'Error', message: last?.[2] ?? err.trim() }, exitCode: code };
}

/**
 * Why a load never settled, without where: Node's warning names the driver's line that awaited
 * it, which is another line for each engine.
 */
function pendingReason(stderr: string): string {
  if (/Detected unsettled top-level await/.test(stderr)) return 'unsettled top-level await';
  return stderr.trim().split('\n').slice(-3).join(' ');
}

/** node and devhot run under the driver, which reports how the entry's load ended. */
async function runIn(engine: Engine, root: string, entry: string): Promise<Outcome> {
  if (engine === 'tsx') return runTsx(root, entry);
  const { out, err } = await runNode(root, [path.join(root, '.driver.mjs'), engine, root, path.join(root, entry), DEVHOT]);
  const at = out.lastIndexOf('\n@@outcome ');
  if (at < 0) throw new Error(`${engine} printed no outcome; stdout:\n${out}\nstderr:\n${err}`);
  const { entry: result, exitCode } = JSON.parse(out.slice(at + '\n@@outcome '.length)) as {
    entry: Outcome['entry'] | 'pending';
    exitCode: number | null;
  };
  const lines = out
    .slice(0, at)
    .split('\n')
    .filter((l) => l !== '');
  return { lines, entry: result === 'pending' ? { name: 'pending', message: pendingReason(err) } : result, exitCode };
}

/** Write `tree` (an ESM package unless it has its own package.json) and run `entry` under `reference` and devhot. */
export async function runBoth(tree: Tree, entry: string, reference: Engine = 'node'): Promise<{ reference: Outcome; devhot: Outcome }> {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-diff-')));
  try {
    writeTree(root, { '.driver.mjs': DRIVER, ...tree });
    const [ref, devhot] = await Promise.all([runIn(reference, root, entry), runIn('devhot', root, entry)]);
    return { reference: ref, devhot };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Run `tree` under node and under devhot and assert both did the same; returns what they did. */
export async function sameAsNode(tree: Tree, entry = 'main.js'): Promise<Outcome> {
  const { reference, devhot } = await runBoth(tree, entry, 'node');
  assert.deepEqual(devhot, reference, `devhot differs from node\nnode:   ${JSON.stringify(reference)}\ndevhot: ${JSON.stringify(devhot)}`);
  return reference;
}

/**
 * The same with tsx as the reference, for TypeScript project shapes: the same lines, and the
 * same end (fulfilled, or an error of the same type). Exit codes differ by construction (tsx's
 * entry is the process's main module; devhot's runs under a driver that reports the error).
 */
export async function sameAsTsx(tree: Tree, entry = 'main.ts'): Promise<Outcome> {
  const { reference, devhot } = await runBoth(tree, entry, 'tsx');
  const end = (o: Outcome) => (o.entry === 'ok' ? 'ok' : o.entry.name);
  const detail = `\ntsx:    ${JSON.stringify(reference)}\ndevhot: ${JSON.stringify(devhot)}`;
  assert.deepEqual(devhot.lines, reference.lines, `devhot printed other lines than tsx${detail}`);
  assert.equal(end(devhot), end(reference), `devhot ended otherwise than tsx${detail}`);
  return reference;
}
