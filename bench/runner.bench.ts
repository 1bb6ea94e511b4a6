/**
 * Runner benchmark: for generated projects of 10, 300 and 3000 modules (a tree of imports with
 * one edited leaf), measures in fresh child processes
 *
 *   - cold start with an empty disk cache and with a warm one (start(), and spawn → `ready`);
 *   - the same cold start under tsx, with its cache empty and warm, for comparison;
 *   - time inside update() for a leaf edit, when the leaf self-accepts (rung hot-update) and
 *     when nothing accepts (rung entry-reexecuted: the leaf's importer chain re-executes);
 *   - heap growth over 1000 self-accept updates, after GC.
 *
 * Prints Markdown tables (and the targets, pass/miss); writes nothing into the repository.
 *
 *   npm run bench
 *   npm run build && node dist/bench/runner.bench.js --sizes 10,300 --updates 50 --heap-updates 200
 *
 * Options: --sizes 10,300,3000  --updates 200  --warmup 20  --heap-updates 1000  --branching 4
 *          --no-tsx (skip the peer)  --profile <dir> (CPU profiles of each cold start and each
 *          timed update loop, kept in <dir>, summarised below the tables; the profiled figures are
 *          inflated)  --keep (keep the temp projects)  --json  --timeout 300 (s per child)
 */
import { quantile as quantileOf } from './stats.js';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { appNodeFlags } from '../src/shared/app-flags.js';
import { generateProject, type GeneratedProject } from './generate.js';
import { formatProfile, summarizeProfile } from './profile-summary.js';
import { RESULT_PREFIX, type StartResult, type UpdatesResult, type WorkerTask } from './protocol.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const repo = resolve(here, '..', '..');
const workerScript = join(here, 'worker.js');
const tsxCli = join(repo, 'node_modules', 'tsx', 'dist', 'cli.mjs');

// ------------------------------------------------------------------------------------ options

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,300,3000' },
    updates: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    'heap-updates': { type: 'string', default: '1000' },
    branching: { type: 'string', default: '4' },
    'no-tsx': { type: 'boolean', default: false },
    profile: { type: 'string' },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '300' },
  },
});
const sizes = args.sizes.split(',').map((s) => Number(s.trim()));
const iterations = Number(args.updates);
const warmup = Number(args.warmup);
const heapUpdates = Number(args['heap-updates']);
const branching = Number(args.branching);
const timeoutMs = Number(args.timeout) * 1000;
for (const [name, v] of [
  ['sizes', Math.min(...sizes)],
  ['updates', iterations],
  ['warmup', warmup],
  ['heap-updates', heapUpdates],
  ['branching', branching],
] as const) {
  if (!Number.isInteger(v) || v < 0 || (name === 'sizes' && v < 2) || (name === 'updates' && v < 1)) {
    console.error(`bad --${name}`);
    process.exit(2);
  }
}
const profileDir = args.profile ? resolve(args.profile) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

// ------------------------------------------------------------------------------- child runs

interface ChildRun {
  /** spawn → first stdout line `ready` (ms), if any. */
  readyMs: number | undefined;
  /** spawn → exit (ms). */
  exitMs: number;
  result: unknown;
}

function runChild(argv: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; label: string }): Promise<ChildRun> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, argv, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let readyMs: number | undefined;
    let result: unknown;
    let buffer = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${options.label}: timed out after ${timeoutMs / 1000} s\n${stderr}`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line === 'ready') readyMs ??= performance.now() - t0;
        else if (line.startsWith(RESULT_PREFIX)) result = JSON.parse(line.slice(RESULT_PREFIX.length));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-20_000);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const exitMs = performance.now() - t0;
      if (code !== 0) fail(new Error(`${options.label}: exited with ${code ?? signal}\n${stderr}`));
      else done({ readyMs, exitMs, result });
    });
  });
}

/** A devhot run, with the V8 flags the app process gets from the supervisor (shared/app-flags.ts). */
function worker<T>(task: WorkerTask, label: string, flags: string[] = []): Promise<ChildRun & { result: T }> {
  return runChild([...appNodeFlags(process.env), ...flags, workerScript, JSON.stringify(task)], { label }) as Promise<
    ChildRun & { result: T }
  >;
}

// ----------------------------------------------------------------------------------- figures

interface SizeFigures {
  modules: number;
  lines: number;
  chain: number;
  coldEmpty: ChildRun & { result: StartResult };
  coldWarm: ChildRun & { result: StartResult };
  tsxEmpty: ChildRun | undefined;
  tsxWarm: ChildRun | undefined;
  hot: UpdatesResult;
  entry: UpdatesResult;
}

/** Every series here has its 200 timed updates: never empty. */
const quantile = (xs: number[], q: number): number => quantileOf(xs, q) ?? Number.NaN;
const ms = (x: number | undefined, digits = 0): string => (x === undefined ? '–' : `${x.toFixed(digits)} ms`);
const ms2 = (x: number): string => x.toFixed(2);
const mb = (bytes: number): string => `${bytes >= 0 ? '+' : ''}${(bytes / 1024 / 1024).toFixed(2)} MB`;

function updateCell(r: UpdatesResult): string {
  return `${ms2(quantile(r.outer, 0.5))} / ${ms2(quantile(r.outer, 0.95))} / ${ms2(Math.max(...r.outer))} ms`;
}

async function measure(n: number, base: string): Promise<SizeFigures> {
  const dir = join(base, `n${n}`);
  const project: GeneratedProject = generateProject(join(dir, 'project'), { modules: n, branching, accept: false });
  const cacheDir = join(dir, 'devhot-cache');
  const common = { root: project.root, entry: project.entry, tsconfig: project.tsconfig, cacheDir };
  log(`n=${n}: ${project.modules} modules, ${project.lines} lines, leaf chain ${project.chain.length}`);

  // --expose-gc: the heap is measured after start() (its timing is not affected).
  const startFlags = (kind: string): string[] => [
    '--expose-gc',
    ...(profileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=start-n${n}-${kind}.cpuprofile`, '--cpu-prof-interval=200']
      : []),
  ];
  const coldEmpty = await worker<StartResult>({ mode: 'start', ...common }, `cold start n=${n} (empty cache)`, startFlags('empty'));
  log(`  devhot cold, empty cache: start() ${ms(coldEmpty.result.startMs)}, spawn→ready ${ms(coldEmpty.readyMs)}`);
  const coldWarm = await worker<StartResult>({ mode: 'start', ...common }, `cold start n=${n} (warm cache)`, startFlags('warm'));
  log(
    `  devhot cold, warm cache:  start() ${ms(coldWarm.result.startMs)}, spawn→ready ${ms(coldWarm.readyMs)}, heapUsed after it ${(coldWarm.result.heapUsed / 2 ** 20).toFixed(1)} MB`,
  );

  let tsxEmpty: ChildRun | undefined;
  let tsxWarm: ChildRun | undefined;
  if (!args['no-tsx']) {
    // tsx caches in os.tmpdir()/tsx-<uid>: a fresh TMPDIR is an empty cache, the second run a warm one.
    const tsxTmp = join(dir, 'tsx-tmp');
    mkdirSync(tsxTmp);
    const env = { ...process.env, TMPDIR: tsxTmp };
    tsxEmpty = await runChild([tsxCli, project.entry], { cwd: project.root, env, label: `tsx n=${n} (empty cache)` });
    log(`  tsx cold, empty cache:    spawn→ready ${ms(tsxEmpty.readyMs)}`);
    tsxWarm = await runChild([tsxCli, project.entry], { cwd: project.root, env, label: `tsx n=${n} (warm cache)` });
    log(`  tsx cold, warm cache:     spawn→ready ${ms(tsxWarm.readyMs)}`);
  }

  const updates = (accept: boolean, heap: number) =>
    worker<UpdatesResult>(
      {
        mode: 'updates',
        ...common,
        leaf: project.leaf,
        modules: project.modules,
        branching: project.branching,
        accept,
        warmup,
        iterations,
        heapUpdates: heap,
        ...(profileDir ? { profile: join(profileDir, `update-n${n}-${accept ? 'hot' : 'entry'}.cpuprofile`) } : {}),
      },
      `updates n=${n} accept=${accept}`,
      ['--expose-gc'],
    ).then((r) => r.result);
  const entry = await updates(false, 0);
  log(`  update, entry-reexecuted: p50/p95/max ${updateCell(entry)} (${entry.reexecuted} re-executed)`);
  const hot = await updates(true, heapUpdates);
  log(`  update, hot-update:       p50/p95/max ${updateCell(hot)} (${hot.reexecuted} re-executed)`);
  if (hot.heap) log(`  heap after ${hot.heap.updates} updates: ${mb(hot.heap.heapUsedAfter - hot.heap.heapUsedBefore)}`);

  return { modules: n, lines: project.lines, chain: project.chain.length, coldEmpty, coldWarm, tsxEmpty, tsxWarm, hot, entry };
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(repo, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

// -------------------------------------------------------------------------------------- report

function report(figures: SizeFigures[]): string {
  const cpu = cpus();
  const out: string[] = [];
  out.push('## devhot runner benchmark', '');
  out.push(
    `Node ${process.version} (${process.platform}-${process.arch}), ${cpu.length} CPU${cpu.length === 1 ? '' : 's'} (${cpu[0]?.model.trim() ?? '?'}), ` +
      `${(totalmem() / 2 ** 30).toFixed(1)} GB RAM; esbuild ${version('esbuild')}, tsx ${version('tsx')}; ${new Date().toISOString().slice(0, 10)}.`,
  );
  out.push(
    `Generated tree of imports, fan-out ${branching}, ~45-line modules; the edited leaf is the deepest module. ` +
      `update(): ${iterations} timed updates after ${warmup} warm-up, wall time around \`await update([leaf])\` (file written before the clock starts); ` +
      `heap: heapUsed after GC, before vs after ${heapUpdates} self-accept updates. Every row is a fresh process; devhot's run with the app process's V8 flags (${appNodeFlags(process.env).join(' ') || 'none'}).`,
    '',
  );
  const head = ['', ...figures.map((f) => `${f.modules} modules`)];
  const row = (label: string, cell: (f: SizeFigures) => string) => `| ${label} | ${figures.map(cell).join(' | ')} |`;
  out.push(`| ${head.join(' | ')} |`, `|---|${figures.map(() => '---:').join('|')}|`);
  out.push(row('lines of TypeScript / leaf chain length', (f) => `${f.lines} / ${f.chain}`));
  out.push(row('**cold start, empty cache**: start()', (f) => ms(f.coldEmpty.result.startMs)));
  out.push(row('  spawn → `ready` / → exit', (f) => `${ms(f.coldEmpty.readyMs)} / ${ms(f.coldEmpty.exitMs)}`));
  out.push(row('**cold start, warm cache**: start()', (f) => ms(f.coldWarm.result.startMs)));
  out.push(row('  spawn → `ready` / → exit', (f) => `${ms(f.coldWarm.readyMs)} / ${ms(f.coldWarm.exitMs)}`));
  out.push(row('  of which Node boot + import devhot', (f) => `${ms(f.coldWarm.result.bootMs)} + ${ms(f.coldWarm.result.importMs)}`));
  out.push(row('  heapUsed after start(), after GC', (f) => `${(f.coldWarm.result.heapUsed / 2 ** 20).toFixed(1)} MB`));
  if (!args['no-tsx']) {
    out.push(row('**tsx, empty cache**: spawn → `ready` / → exit', (f) => `${ms(f.tsxEmpty?.readyMs)} / ${ms(f.tsxEmpty?.exitMs)}`));
    out.push(row('**tsx, warm cache**: spawn → `ready` / → exit', (f) => `${ms(f.tsxWarm?.readyMs)} / ${ms(f.tsxWarm?.exitMs)}`));
    out.push(row('devhot / tsx to `ready`, empty cache', (f) => ratio(f.coldEmpty.readyMs, f.tsxEmpty?.readyMs)));
    out.push(row('devhot / tsx to `ready`, warm cache', (f) => ratio(f.coldWarm.readyMs, f.tsxWarm?.readyMs)));
  }
  out.push(row('**update(), leaf self-accepts** (hot-update) p50 / p95 / max', (f) => updateCell(f.hot)));
  out.push(row('  modules re-executed; reported `duration` p50', (f) => `${f.hot.reexecuted}; ${ms2(quantile(f.hot.inner, 0.5))} ms`));
  out.push(row('**update(), no accept** (entry-reexecuted) p50 / p95 / max', (f) => updateCell(f.entry)));
  out.push(row('  modules re-executed; reported `duration` p50', (f) => `${f.entry.reexecuted}; ${ms2(quantile(f.entry.inner, 0.5))} ms`));
  out.push(
    row(`**heap growth after ${heapUpdates} updates** (heapUsed, after GC)`, (f) =>
      f.hot.heap ? mb(f.hot.heap.heapUsedAfter - f.hot.heap.heapUsedBefore) : '–',
    ),
  );
  out.push(
    row('  external / rss growth', (f) =>
      f.hot.heap ? `${mb(f.hot.heap.externalAfter - f.hot.heap.externalBefore)} / ${mb(f.hot.heap.rssAfter - f.hot.heap.rssBefore)}` : '–',
    ),
  );
  out.push(row('  heapUsed after', (f) => (f.hot.heap ? `${(f.hot.heap.heapUsedAfter / 2 ** 20).toFixed(1)} MB` : '–')));
  out.push('');

  // Targets, judged at the largest size measured (they are stated for 3000 modules).
  const big = figures.reduce((a, b) => (b.modules > a.modules ? b : a));
  const at = big.modules === 3000 ? '3000 modules' : `${big.modules} modules (target is stated for 3000)`;
  const mark = (ok: boolean | undefined) => (ok === undefined ? '– not measured' : ok ? '✅ pass' : '❌ miss');
  out.push('### Targets', '', '| target | measured | |', '|---|---:|---|');
  const hotP50 = quantile(big.hot.outer, 0.5);
  const entryP50 = quantile(big.entry.outer, 0.5);
  out.push(`| update() p50 ≤ 5 ms at ${at}, leaf self-accepts | ${ms2(hotP50)} ms | ${mark(hotP50 <= 5)} |`);
  out.push(`| update() p50 ≤ 5 ms at ${at}, no accept (entry re-executed) | ${ms2(entryP50)} ms | ${mark(entryP50 <= 5)} |`);
  for (const f of figures) {
    if (!f.hot.heap) continue;
    const growth = ((f.hot.heap.heapUsedAfter - f.hot.heap.heapUsedBefore) / f.hot.heap.updates) * 1000;
    out.push(`| heap growth ≤ 5 MB per 1000 updates (${f.modules} modules) | ${mb(growth)} | ${mark(growth <= 5 * 2 ** 20)} |`);
  }
  if (big.tsxEmpty?.readyMs !== undefined && big.coldEmpty.readyMs !== undefined) {
    // "Well under" taken as at most half of tsx's time, both with empty caches.
    const r = big.coldEmpty.readyMs / big.tsxEmpty.readyMs;
    out.push(
      `| cold start (empty cache) ≤ ½ of tsx's at ${at} | ${ms(big.coldEmpty.readyMs)} vs ${ms(big.tsxEmpty.readyMs)} (×${r.toFixed(2)}) | ${mark(r <= 0.5)} |`,
    );
  } else {
    out.push(`| cold start at ${at} well under tsx's | – | ${mark(undefined)} |`);
  }
  if (big.tsxWarm?.readyMs !== undefined && big.coldWarm.readyMs !== undefined) {
    const r = big.coldWarm.readyMs / big.tsxWarm.readyMs;
    out.push(
      `| cold start (warm caches) ≤ ½ of tsx's at ${at} | ${ms(big.coldWarm.readyMs)} vs ${ms(big.tsxWarm.readyMs)} (×${r.toFixed(2)}) | ${mark(r <= 0.5)} |`,
    );
  }
  return out.join('\n');
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined ? '–' : `×${(a / b).toFixed(2)}`;
}

// ---------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'devhot-bench-'));
  const cleanup = () => {
    if (!args.keep) rmSync(base, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    log(`devhot runner bench: sizes ${sizes.join(', ')}; temp ${base}`);
    const figures: SizeFigures[] = [];
    for (const n of sizes) figures.push(await measure(n, base));
    console.log(report(figures));
    if (profileDir) {
      console.log('', `(Profiled run: the figures above are inflated by the profiler. Profiles kept in ${profileDir}.)`);
      for (const f of figures) {
        for (const kind of ['empty', 'warm'] as const) {
          const file = join(profileDir, `start-n${f.modules}-${kind}.cpuprofile`);
          console.log('');
          console.log(
            formatProfile(
              summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), 20),
              `CPU profile, cold start n=${f.modules}, ${kind} cache (whole process)`,
            ),
          );
        }
        for (const kind of ['hot', 'entry'] as const) {
          const file = join(profileDir, `update-n${f.modules}-${kind}.cpuprofile`);
          console.log('');
          console.log(
            formatProfile(
              summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), 20),
              `CPU profile, ${iterations} updates, n=${f.modules}, ${kind === 'hot' ? 'self-accept' : 'entry re-executed'}`,
            ),
          );
        }
      }
    }
    if (args.json) {
      const slim = figures.map((f) => ({
        ...f,
        hot: { ...f.hot, outer: undefined, inner: undefined, p50: quantile(f.hot.outer, 0.5), p95: quantile(f.hot.outer, 0.95) },
        entry: { ...f.entry, outer: undefined, inner: undefined, p50: quantile(f.entry.outer, 0.5), p95: quantile(f.entry.outer, 0.95) },
      }));
      console.log('', '```json', JSON.stringify({ node: process.version, cpus: cpus().length, figures: slim }, null, 2), '```');
    }
  } finally {
    cleanup();
    if (args.keep) log(`kept ${base}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
