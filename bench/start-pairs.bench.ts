/**
 * Start time of devhot builds, side by side: spawn → first response of the CLI bench's project,
 * builds alternating run by run, so a change of the machine's speed (here ±30% within an hour)
 * falls on every build alike. For a change of devhot's start: this checkout against another
 * (`git worktree add ../base <rev>`, built), and `node` on the JS variant of the same modules as
 * the floor.
 *
 *   node dist/bench/start-pairs.bench.js --builds .,../base [--modules 3000] [--layout flat]
 *     [--format esm|cjs] [--pairs 10] [--cold] [--node] [--project cli|nest] [--features 60]
 *
 * `--project nest`: the NestJS bench's project (bench/nest-project.ts, `--features` of them),
 * made under this checkout's .devhot-tmp so that its packages resolve to node_modules here.
 *
 * Each build runs in a copy of the project of its own (the same sources), so builds whose cache
 * keys agree do not share a disk cache, and with a Node compile cache of its own
 * (NODE_COMPILE_CACHE): the packages sit at one path for every build, and one build's entries
 * would serve the other. Warm (the default): each copy's caches are written first, by two runs
 * stopped with SIGINT (the second leaves the start pack; the measured runs, stopped with
 * SIGKILL, write nothing); cold: both removed before every run. Prints, per build, the median and
 * range of spawn → first 200, and the CPU time of its processes at that moment (from /proc: NaN
 * off Linux).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createCliProject, type ModuleFormat } from './cli-project.js';
import { createNestProject } from './nest-project.js';
import type { Layout } from './generate.js';
import { quantile } from './stats.js';

const { values: args } = parseArgs({
  options: {
    builds: { type: 'string', default: '.' },
    modules: { type: 'string', default: '3000' },
    layout: { type: 'string', default: 'flat' },
    format: { type: 'string', default: 'esm' },
    pairs: { type: 'string', default: '10' },
    cold: { type: 'boolean', default: false },
    node: { type: 'boolean', default: false },
    project: { type: 'string', default: 'cli' },
    features: { type: 'string', default: '60' },
  },
});

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A start slower than this is reported as a failure (a hang), not waited for. */
const START_DEADLINE_MS = 120_000;
/** Below Linux's ephemeral range (32768-60999), where the polling's own connections live. */
const PORT_BASE = 20_000;
const PORT_SPAN = 10_000;

interface Runner {
  name: string;
  root: string;
  command: string[];
  /** Its NODE_COMPILE_CACHE directory (devhot's builds). */
  compileCache?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const wall = () => performance.timeOrigin + performance.now();

function get(port: number): Promise<number> {
  return new Promise((done) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', () => done(0));
  });
}

/** utime + stime (ms) of `pid` and its descendants, from /proc; NaN without one (not Linux). */
function cpuOfTree(pid: number): number {
  const children = new Map<number, number[]>();
  const times = new Map<number, number>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return Number.NaN;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const fields = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ');
      const parent = Number(fields[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(name)]);
      times.set(Number(name), (Number(fields[11]) + Number(fields[12])) * 10);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const visit = (p: number): void => {
    total += times.get(p) ?? 0;
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return total;
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    try {
      process.kill(-child.pid!, signal);
    } catch {
      done();
    }
  });
}

/** One start: spawn → first 200; then stopped (SIGINT after `hold` ms, which lets devhot write its cache, else SIGKILL). */
async function startOnce(runner: Runner, hold?: number): Promise<{ ms: number; cpu: number }> {
  const port = PORT_BASE + Math.floor(Math.random() * PORT_SPAN);
  const t0 = wall();
  const [command, ...rest] = runner.command as [string, ...string[]];
  const env = { ...process.env, PORT: String(port), ...(runner.compileCache ? { NODE_COMPILE_CACHE: runner.compileCache } : {}) };
  const child = spawn(command, rest, { cwd: runner.root, env, stdio: 'ignore', detached: true });
  try {
    while ((await get(port)) !== 200) {
      if (wall() - t0 > START_DEADLINE_MS) throw new Error(`${runner.name}: no response on port ${port} after ${START_DEADLINE_MS} ms`);
      await sleep(2);
    }
    const ms = wall() - t0;
    const cpu = cpuOfTree(child.pid!);
    if (hold !== undefined) await sleep(hold);
    return { ms, cpu };
  } finally {
    await stop(child, hold !== undefined ? 'SIGINT' : 'SIGKILL');
    // The app leaves with devhot (its watchdog): wait until the port is free for the next run.
    for (let i = 0; i < 500 && (await get(port)) !== 0; i++) await sleep(10);
  }
}

function project(dir: string): { root: string; entry: string } {
  if (args.project === 'nest') return createNestProject(dir, { features: Number(args.features) });
  if (args.project !== 'cli') throw new Error(`--project ${args.project}: cli or nest`);
  return createCliProject(dir, {
    modules: Number(args.modules),
    branching: 4,
    variant: 'ts',
    accept: false,
    salt: 'start-pairs',
    layout: args.layout as Layout,
    server: 'plain',
    format: args.format as ModuleFormat,
  });
}

async function main(): Promise<void> {
  if (args.node && args.project !== 'cli') throw new Error("--node runs the CLI project's JS variant: not with --project nest");
  // The Nest project's packages come from this checkout's node_modules.
  const parent = args.project === 'nest' ? join(repo, '.devhot-tmp') : tmpdir();
  mkdirSync(parent, { recursive: true });
  const work = mkdtempSync(join(parent, 'devhot-start-pairs-'));
  const runners: Runner[] = args.builds!.split(',').map((build, i) => {
    const dir = resolve(build);
    if (!existsSync(join(dir, 'bin/devhot.js'))) throw new Error(`${dir} has no bin/devhot.js: pass devhot checkouts, built`);
    const p = project(join(work, `build-${i}`));
    const compileCache = join(work, `compile-cache-${i}`);
    return { name: `devhot ${build}`, root: p.root, command: [process.execPath, join(dir, 'bin/devhot.js'), p.entry], compileCache };
  });
  if (args.node) {
    const js = createCliProject(join(work, 'node'), {
      modules: Number(args.modules),
      branching: 4,
      variant: 'js',
      accept: false,
      salt: 'start-pairs',
      layout: args.layout as Layout,
      server: 'plain',
    });
    runners.push({ name: 'node (JS variant)', root: js.root, command: [process.execPath, js.entry] });
  }
  const cacheOf = (r: Runner) => join(r.root, 'node_modules/.devhot');
  try {
    // Twice: the project was made just now, and a start trusts a file's stamp for its start pack
    // only once the file is 3 s old (src/runner/start-pack.ts); the second run, stopped with
    // Ctrl-C as a user stops devhot, leaves the pack a user's next start reads.
    if (!args.cold) for (let i = 0; i < 2; i++) for (const r of runners) if (r.name.startsWith('devhot')) await startOnce(r, 3000);
    const results = new Map<Runner, Array<{ ms: number; cpu: number }>>(runners.map((r) => [r, []]));
    for (let pair = 0; pair < Number(args.pairs); pair++) {
      // Every other pair in reverse, so no build always runs right after another.
      const order = pair % 2 === 0 ? runners : [...runners].reverse();
      for (const r of order) {
        if (args.cold) {
          rmSync(cacheOf(r), { recursive: true, force: true });
          if (r.compileCache) rmSync(r.compileCache, { recursive: true, force: true });
        }
        results.get(r)!.push(await startOnce(r));
      }
    }
    const base = quantile(
      results.get(runners[0]!)!.map((x) => x.ms),
      0.5,
    )!;
    console.log(
      `${args.cold ? 'empty-cache' : 'warm'} start, ${args.project === 'nest' ? `NestJS project, ${args.features} features` : `${args.modules} modules, ${args.layout}, ${args.format}`}, Node ${process.version}, ${args.pairs} rounds`,
    );
    console.log('| runner | spawn → first 200, median (min-max) | ratio | CPU of its processes, median |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const r of runners) {
      const ms = results.get(r)!.map((x) => x.ms);
      const cpu = results.get(r)!.map((x) => x.cpu);
      const median = quantile(ms, 0.5)!;
      console.log(
        `| ${r.name} | ${median.toFixed(0)} ms (${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)}) | ${(median / base).toFixed(2)}× | ${quantile(cpu, 0.5)} ms |`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
