/**
 * Watcher benchmark: time from `writeFileSync` of one module to the watcher's report of it, on
 * a generated project (generate.ts) of N modules, all in one folder ('flat') or 100 per folder
 * ('spread'). Contestants:
 *
 *   devhot        src/supervisor/watcher.ts (fs.watch per directory, one lstat per event), to the
 *                 batch the supervisor receives
 *   devhot --poll the same with --poll
 *   chokidar      chokidar 5 as devhot used it until 2026-12 (atomic, an ignore function), to its
 *                 'change' event
 *   fs.watch      Node's fs.watch on the leaf's folder alone: the floor
 *   parcel        @parcel/watcher, when installed (`npm i --no-save @parcel/watcher`)
 *
 * Each contestant runs in a process of its own (so one's garbage does not slow another), in
 * rounds: every contestant once per round, so all see the same machine load. Per run: ready =
 * watcher created → ready (the initial scan); then `--edits` saves `--gap` ms apart (chokidar
 * drops a change of one file within 50 ms of the last); then the CPU it uses while nothing
 * changes (polling costs CPU). On a shared machine read the ratios, not the absolute times.
 *
 *   npm run build && node dist/bench/watcher.bench.js [--sizes 300,3000] [--layouts flat,spread]
 *     [--edits 20] [--rounds 2] [--gap 100] [--only devhot,chokidar]
 */
import { quantile } from './stats.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createWatcher } from '../src/supervisor/watcher.js';
import { generateProject, LAYOUTS, type Layout } from './generate.js';

interface Running {
  close(): unknown;
}
type Start = (root: string, leaf: string, onEvent: (file: string) => void) => Promise<Running>;

const NEVER_WATCHED = new Set(['node_modules', '.git', 'dist', 'build', 'coverage', '.devhot']);

const CONTESTANTS: Record<string, Start> = {
  devhot: (root, _leaf, on) => startDevhot(root, on, false),
  'devhot --poll': (root, _leaf, on) => startDevhot(root, on, true),
  chokidar: async (root, _leaf, on) => {
    const { watch } = await import('chokidar');
    const watcher = watch(root, {
      // As devhot's watcher.ts had it: the never-watched names, checked on every path.
      ignored: (p: string) =>
        path
          .relative(root, p)
          .split(path.sep)
          .some((name) => NEVER_WATCHED.has(name)),
      ignoreInitial: true,
      atomic: true,
    });
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    watcher.on('change', on);
    return watcher;
  },
  'fs.watch': async (_root, leaf, on) => {
    const dir = path.dirname(leaf);
    return fs.watch(dir, (_event, name) => name && on(path.join(dir, name)));
  },
  parcel: async (root, _leaf, on) => {
    const parcel = (await import('@parcel/watcher' as string)) as {
      subscribe(dir: string, fn: (error: unknown, events: Array<{ path: string }>) => void): Promise<{ unsubscribe(): Promise<void> }>;
    };
    const subscription = await parcel.subscribe(root, (_error, events) => {
      for (const event of events) on(event.path);
    });
    return { close: () => subscription.unsubscribe() };
  },
};

async function startDevhot(root: string, on: (file: string) => void, poll: boolean): Promise<Running> {
  const watcher = createWatcher({
    root,
    include: [],
    exclude: [],
    extraFiles: [],
    delay: 0,
    poll,
    onBatch: (changes) => {
      for (const change of changes) on(change.file);
    },
    onError: (error) => console.error(error),
  });
  await watcher.ready;
  return watcher;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface RunResult {
  readyMs: number;
  latencies: number[];
  missed: number;
  /** CPU ms per second while nothing changes. */
  idleCpu: number;
}

/** One contestant in this process: generate, watch, edit, measure; the result as JSON on stdout. */
async function child(name: string, modules: number, layout: Layout, edits: number, gap: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'devhot-watch-bench-'));
  try {
    const project = generateProject(path.join(dir, 'project'), { modules, layout });
    let waiting: ((at: number) => void) | undefined;
    const t0 = performance.now();
    const running = await CONTESTANTS[name]!(project.root, project.leaf, (file) => {
      if (file === project.leaf) waiting?.(performance.now());
    });
    const readyMs = performance.now() - t0;
    await sleep(200);
    const result: RunResult = { readyMs, latencies: [], missed: 0, idleCpu: 0 };
    for (let i = 1; i <= edits; i++) {
      const seen = new Promise<number>((resolve) => {
        waiting = resolve;
      });
      const saved = performance.now();
      fs.writeFileSync(project.leaf, `export const edit = ${i};\n`);
      const at = await Promise.race([seen, sleep(2000).then(() => Number.NaN)]);
      waiting = undefined;
      if (Number.isNaN(at)) result.missed++;
      else result.latencies.push(at - saved);
      await sleep(gap);
    }
    const cpu = process.cpuUsage();
    const idleFrom = performance.now();
    await sleep(1000);
    const used = process.cpuUsage(cpu);
    result.idleCpu = (used.user + used.system) / 1000 / ((performance.now() - idleFrom) / 1000);
    await running.close();
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function runChild(args: string[]): Promise<RunResult | string> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d));
    proc.stderr.on('data', (d: Buffer) => (err += d));
    proc.on('close', (code) => {
      try {
        resolve(JSON.parse(out) as RunResult);
      } catch {
        resolve(`exit ${code}: ${(err || out).trim().split('\n').slice(-3).join(' ')}`);
      }
    });
  });
}

/** A quantile, NaN for none (printed as –). */
const q = (values: number[], at: number): number => quantile(values, at) ?? Number.NaN;

const fmt = (ms: number) => (Number.isNaN(ms) ? '–' : ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      sizes: { type: 'string', default: '300,3000' },
      layouts: { type: 'string', default: LAYOUTS.join(',') },
      edits: { type: 'string', default: '20' },
      rounds: { type: 'string', default: '2' },
      gap: { type: 'string', default: '100' },
      only: { type: 'string' },
      modules: { type: 'string' },
      layout: { type: 'string' },
    },
  });
  const edits = Number(values.edits);
  const gap = Number(values.gap);
  if (values.child) {
    await child(values.child, Number(values.modules), values.layout as Layout, edits, gap);
    return;
  }
  let names = values.only ? values.only.split(',') : Object.keys(CONTESTANTS);
  try {
    await import('@parcel/watcher' as string);
  } catch {
    if (!values.only) names = names.filter((n) => n !== 'parcel');
  }
  const sizes = values.sizes.split(',').map(Number);
  const layouts = values.layouts.split(',') as Layout[];
  const rounds = Number(values.rounds);
  const started = performance.now();
  const lines = [
    `## watcher: writeFileSync → event (node ${process.version}; ${rounds} rounds × ${edits} edits, ${gap} ms apart)`,
    '',
    '| files | layout | watcher | ready (scan) | p50 | p95 | missed | CPU idle | p50 / devhot p50 |',
    '| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const size of sizes) {
    for (const layout of layouts) {
      const results = new Map<string, { ready: number[]; latencies: number[]; missed: number; cpu: number[]; error?: string }>();
      for (const name of names) results.set(name, { ready: [], latencies: [], missed: 0, cpu: [] });
      for (let round = 0; round < rounds; round++) {
        for (const name of names) {
          const r = await runChild([
            '--child',
            name,
            '--modules',
            String(size),
            '--layout',
            layout,
            '--edits',
            String(edits),
            '--gap',
            String(gap),
          ]);
          const into = results.get(name)!;
          if (typeof r === 'string') into.error = r;
          else {
            into.ready.push(r.readyMs);
            into.latencies.push(...r.latencies);
            into.missed += r.missed;
            into.cpu.push(r.idleCpu);
          }
        }
      }
      const base = q(results.get('devhot')?.latencies ?? [], 0.5);
      for (const [name, r] of results) {
        if (r.error && r.latencies.length === 0) {
          lines.push(`| ${size} | ${layout} | ${name} | error: ${r.error} | | | | | |`);
          continue;
        }
        const p50 = q(r.latencies, 0.5);
        lines.push(
          `| ${size} | ${layout} | ${name} | ${fmt(q(r.ready, 0.5))} | ${fmt(p50)} | ${fmt(q(r.latencies, 0.95))} | ${r.missed} | ${q(r.cpu, 0.5).toFixed(1)} ms/s | ${(p50 / base).toFixed(1)}× |`,
        );
      }
      process.stderr.write(`${size} ${layout} done (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
    }
  }
  lines.push(
    '',
    `command: node dist/bench/watcher.bench.js ${process.argv.slice(2).join(' ')}; ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  console.log(lines.join('\n'));
}

await main();
