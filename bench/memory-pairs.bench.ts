/**
 * Memory of devhot builds, side by side, where the CLI bench reads it (issue #12's "RSS after the
 * edits"): an empty-cache start of the CLI bench's project, then `--edits` saves of its leaf, each
 * waited for; then the RSS of the supervisor and of the app (anonymous and file-backed, from
 * /proc), and the app's V8 heap: committed, used, and live after a full collection (heap-probe.ts,
 * preloaded with --expose-gc). Builds alternate run by run, as in start-pairs.bench.ts.
 *
 *   node dist/bench/memory-pairs.bench.js --builds .,../base [--modules 3000] [--layout flat]
 *     [--edits 5] [--pairs 3] [--settle 0]
 *
 * `--settle`: ms to wait after the last edit before reading (0: at once, as the CLI bench does).
 * The probe and --expose-gc are in both builds' processes alike; Linux only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createCliProject } from './cli-project.js';
import type { Layout } from './generate.js';
import { quantile } from './stats.js';

const { values: args } = parseArgs({
  options: {
    builds: { type: 'string', default: '.' },
    modules: { type: 'string', default: '3000' },
    layout: { type: 'string', default: 'flat' },
    edits: { type: 'string', default: '5' },
    pairs: { type: 'string', default: '3' },
    settle: { type: 'string', default: '0' },
  },
});

const PROBE = fileURLToPath(new URL('./heap-probe.js', import.meta.url));
const DEADLINE_MS = 120_000;
/** Below Linux's ephemeral range (32768-60999), where the polling's own connections live. */
const PORT_BASE = 20_000;
const PORT_SPAN = 10_000;
const MB = 1024 * 1024;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function get(port: number): Promise<string | undefined> {
  return new Promise((done) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk));
      res.on('end', () => done(res.statusCode === 200 ? body : undefined));
    });
    req.on('error', () => done(undefined));
  });
}

async function until(port: number, body: string): Promise<void> {
  const end = Date.now() + DEADLINE_MS;
  while ((await get(port)) !== body) {
    if (Date.now() > end) throw new Error(`no ${JSON.stringify(body)} on port ${port} within ${DEADLINE_MS} ms`);
    await sleep(2);
  }
}

/** VmRSS, RssAnon and RssFile of `pid` (MB). */
function rssOf(pid: number): { rss: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Stopped as a user stops it (Ctrl-C: SIGINT to its process group); then the port is free again. */
async function stop(child: ChildProcess, port: number): Promise<void> {
  await new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    process.kill(-child.pid!, 'SIGINT');
  });
  for (let i = 0; i < 500 && (await get(port)) !== undefined; i++) await sleep(10);
}

interface Reading {
  supervisor: number;
  app: number;
  appAnon: number;
  committed: number;
  used: number;
  live: number;
}

async function runOnce(repo: string, work: string): Promise<Reading> {
  const dir = mkdtempSync(join(work, 'run-'));
  const p = createCliProject(dir, {
    modules: Number(args.modules),
    branching: 4,
    variant: 'ts',
    accept: false,
    salt: dir,
    layout: args.layout as Layout,
    server: 'plain',
  });
  const port = PORT_BASE + Math.floor(Math.random() * PORT_SPAN);
  // Outside the project, which devhot watches; fresh, as the CLI bench's empty-cache start has it.
  const tmp = mkdtempSync(join(work, 'tmp-'));
  const probe = join(tmp, 'heap.json');
  const env = {
    ...process.env,
    PORT: String(port),
    TMPDIR: tmp,
    DEVHOT_HEAP_PROBE: probe,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc --import ${JSON.stringify(PROBE)}`.trim(),
  };
  const child = spawn(process.execPath, [join(repo, 'bin/devhot.js'), p.entry], { cwd: p.root, env, stdio: 'ignore', detached: true });
  try {
    await until(port, 'v0');
    for (let i = 1; i <= Number(args.edits); i++) {
      writeFileSync(p.leaf, p.leafText(i));
      await until(port, `v${i}`);
    }
    await sleep(Number(args.settle));
    const app = childrenOf(child.pid!).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('boot.js'));
    if (app === undefined) throw new Error('no app process under devhot');
    const supervisor = rssOf(child.pid!);
    const appRss = rssOf(app);
    process.kill(app, 'SIGUSR2');
    const end = Date.now() + DEADLINE_MS;
    while (!existsSync(probe)) {
      if (Date.now() > end) throw new Error('the heap probe did not answer');
      await sleep(20);
    }
    const heap = JSON.parse(readFileSync(probe, 'utf8')) as { committed: number; used: number; live: number };
    return {
      supervisor: supervisor.rss,
      app: appRss.rss,
      appAnon: appRss.anon,
      committed: heap.committed / MB,
      used: heap.used / MB,
      live: heap.live / MB,
    };
  } finally {
    await stop(child, port);
    rmSync(dir, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const builds = args.builds!.split(',').map((b) => resolve(b));
  for (const b of builds)
    if (!existsSync(join(b, 'bin/devhot.js'))) throw new Error(`${b} has no bin/devhot.js: pass devhot checkouts, built`);
  const work = mkdtempSync(join(tmpdir(), 'devhot-memory-pairs-'));
  const results = new Map<string, Reading[]>(builds.map((b) => [b, []]));
  try {
    for (let pair = 0; pair < Number(args.pairs); pair++) {
      const order = pair % 2 === 0 ? builds : [...builds].reverse();
      for (const b of order) results.get(b)!.push(await runOnce(b, work));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(
    `memory after an empty-cache start and ${args.edits} edits${Number(args.settle) > 0 ? `, ${args.settle} ms later` : ''}: ${args.modules} modules, ${args.layout}, Node ${process.version}, ${args.pairs} rounds (median, min-max; MB)`,
  );
  console.log('| build | RSS, supervisor + app | supervisor | app | app anonymous | app heap committed | used | live after GC |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const cell = (xs: number[]) => `${quantile(xs, 0.5)!.toFixed(1)} (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`;
  for (const b of builds) {
    const rs = results.get(b)!;
    const col = (k: keyof Reading) => cell(rs.map((r) => r[k]));
    console.log(
      `| ${b} | ${cell(rs.map((r) => r.supervisor + r.app))} | ${col('supervisor')} | ${col('app')} | ${col('appAnon')} | ${col('committed')} | ${col('used')} | ${col('live')} |`,
    );
  }
}

await main();
