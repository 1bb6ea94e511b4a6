/**
 * CLI benchmark: devhot against the in-process peers a user would pick instead (Bun `--hot`,
 * hot-hook, dynohot, vite-node) and the restarting ones (`tsx watch`, `nodemon --exec tsx`,
 * `node --watch` on the JS variant), each running the same generated HTTP server
 * (bench/cli-project.ts; the entry in the form each peer is meant to be used, cli-servers.ts)
 * of 10, 300 and 3000 modules, all in one folder ('flat') or 100 per folder ('spread'). For
 * every peer, size and layout:
 *
 *   - cold start: spawn → first 200 response (empty caches: a fresh project, and a fresh TMPDIR,
 *     which is where tsx keeps its cache);
 *   - warm start: after the rest below, the peer is stopped as a user stops it (SIGINT to its
 *     process group, as Ctrl-C) and the same command started again on the same project and
 *     TMPDIR: spawn → first 200 with whatever it cached; `--warm-starts` times, stopped and
 *     started again each time, and the median reported (one start read 533 and 856 ms for the
 *     two layouts of one run, where their medians agree);
 *   - the first save after the cold start (the first warm-up edit), timed as the others: what a
 *     user's first save waits; for devhot also the first save in the process the last forced
 *     restart started from the disk cache, after a FIRST_SAVE_PAUSE_MS pause;
 *   - per edit (after warm-ups): write the leaf with the next version, then poll `GET /` until
 *     the body is the new version: save → new response (ms). Failed requests (refused, reset,
 *     timed out, non-200, truncated) are counted from the save until the server has answered
 *     correctly for `--settle` ms in a row;
 *   - RSS of the whole process tree after the edits (VmRSS of every descendant, /proc), and its
 *     PSS (each shared page divided among the processes that map it: the node binary's ~39 MB of
 *     text counts once for devhot's supervisor and app, twice in the RSS sum);
 *   - with `--idle-memory S`: RSS and PSS again S seconds after the first response, the peer left
 *     idle after its saves. V8 gives back the pages a start grew into only when its memory
 *     reducer finds the process idle, tens of seconds later: this is what a user's server holds
 *     between saves;
 *   - devhot only: forced process restarts through an --env-file change (the `r` shortcut has no
 *     IPC yet): save → response from the new process (its x-env header), and failures.
 *
 * Polling: a fresh TCP connection per request (`Connection: close`), one request at a time,
 * `--interval` ms (default 1) between a response and the next request: refusals show up at
 * full resolution, and no keep-alive connection can hide a restart.
 *
 * Each peer runs in its own process group (detached); afterwards the group and every process
 * seen in its tree are SIGKILLed, and the benchmark checks none is left.
 *
 *   npm run bench:cli
 *   npm run build && node dist/bench/cli.bench.js --sizes 10,300 --edits 10 --peers devhot,tsx
 *
 * The peers, each at its best (its README's setup):
 *   devhot         `devhot src/server.ts`, an app without HMR API (entry re-execution)
 *   devhot-accept  the same, the leaf calls import.meta.hot.accept() (hot update)
 *   bun            `bun --hot src/server.ts` (npm package bun), the server on Bun.serve
 *   hot-hook       `node --import=tsx --import=hot-hook/register src/server.ts`, the module tree
 *                  behind a boundary declared in package.json, imported per request
 *   dynohot        `node --import=tsx --import=dynohot/register src/server.ts` (tsx as its TS
 *                  loader: @loaderkit/ts, which its README names, is not on the registry here),
 *                  the entry accepts its imports
 *   vite-node      `vite-node --watch src/server.ts`, the entry accepts its imports
 *   tsx, nodemon, node   restart the process on every save
 *
 * Options: --sizes 10,300,3000  --edits 20  --warmups 2  --restarts 5 (devhot)  --warm-starts 3
 *          --gap 60 (ms between a settled save and the next: chokidar, which several peers watch
 *          with, drops a change within 50 ms of the previous one, so closer saves measure that;
 *          the last column measures it on purpose)  --rapid-gap 20 (the two-saves
 *          check: write, wait, write again; the 2nd version must be served)  --peers
 *          devhot,devhot-accept,bun,hot-hook,dynohot,vite-node,tsx,nodemon,node  --layouts
 *          flat,spread  --interval 1  --settle 30  --timeout 15 (s per wait)  --branching 4
 *          --idle-memory 0 (s after the first response; 0: not measured)  --format esm (cjs:
 *          the project as a CommonJS package, for devhot, tsx, nodemon and bun)
 *          --keep (keep the temp projects and logs)  --out <file.json>
 *
 * `devhot-accept` is devhot on a variant where the leaf calls import.meta.hot.accept() (rung:
 * hot update); plain `devhot` measures a plain app (rung: entry re-execution).
 */
import { quantile } from './stats.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createCliProject, type CliProject, type ModuleFormat, type Variant } from './cli-project.js';
import type { ServerKind } from './cli-servers.js';
import { LAYOUTS, type Layout } from './generate.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const repo = resolve(here, '..', '..');
const bin = (name: string) => join(repo, 'node_modules', '.bin', name);
/** A user pauses before the first save in a new process; whatever the start left to do runs meanwhile. */
const FIRST_SAVE_PAUSE_MS = 1000;

// ------------------------------------------------------------------------------------ options

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,300,3000' },
    edits: { type: 'string', default: '20' },
    warmups: { type: 'string', default: '2' },
    restarts: { type: 'string', default: '5' },
    'warm-starts': { type: 'string', default: '3' },
    peers: { type: 'string', default: 'devhot,devhot-accept,bun,hot-hook,dynohot,vite-node,tsx,nodemon,node' },
    layouts: { type: 'string', default: LAYOUTS.join(',') },
    interval: { type: 'string', default: '1' },
    settle: { type: 'string', default: '30' },
    'idle-memory': { type: 'string', default: '0' },
    gap: { type: 'string', default: '60' },
    'rapid-gap': { type: 'string', default: '20' },
    timeout: { type: 'string', default: '15' },
    branching: { type: 'string', default: '4' },
    format: { type: 'string', default: 'esm' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const sizes = args.sizes.split(',').map((s) => Number(s.trim()));
const layouts = args.layouts.split(',').map((s) => s.trim()) as Layout[];
for (const layout of layouts) {
  if (!LAYOUTS.includes(layout)) {
    console.error(`unknown layout ${layout} (known: ${LAYOUTS.join(', ')})`);
    process.exit(2);
  }
}
const edits = Number(args.edits);
const warmups = Number(args.warmups);
const restarts = Number(args.restarts);
const warmStarts = Number(args['warm-starts']);
const intervalMs = Number(args.interval);
const settleMs = Number(args.settle);
const idleMemoryMs = Number(args['idle-memory']) * 1000;
const gapMs = Number(args.gap);
const rapidGapMs = Number(args['rapid-gap']);
const timeoutMs = Number(args.timeout) * 1000;
const branching = Number(args.branching);
for (const [name, v, min] of [
  ['sizes', Math.min(...sizes), 2],
  ['edits', edits, 1],
  ['warmups', warmups, 0],
  ['restarts', restarts, 0],
  ['warm-starts', warmStarts, 1],
  ['interval', intervalMs, 0],
  ['settle', settleMs, 0],
  ['gap', gapMs, 0],
  ['rapid-gap', rapidGapMs, 0],
  ['timeout', timeoutMs, 1000],
  ['branching', branching, 1],
] as const) {
  if (!Number.isFinite(v) || v < min || (name !== 'interval' && !Number.isInteger(v))) {
    console.error(`bad --${name}`);
    process.exit(2);
  }
}

interface PeerSpec {
  name: string;
  label: string;
  variant: Variant;
  server: ServerKind;
  accept: boolean;
  command(project: CliProject): { file: string; argv: string[] };
  /** Why it cannot run on this machine, if it cannot (checked before its runs). */
  unavailable?(): string | undefined;
}

/** A loader for `node --import`, as a file URL (the projects live in a temp dir without node_modules). */
const loader = (specifier: string) => import.meta.resolve(specifier);
const devhotCommand = (p: CliProject) => ({
  file: process.execPath,
  argv: [join(repo, 'bin', 'devhot.js'), p.entry, '--env-file', '.env', '--json'],
});

/** The peer's executable is installed and answers `--version`; otherwise why not. */
function runs(file: string, argv: string[] = ['--version']): string | undefined {
  if (!existsSync(file)) return `${file} is not installed (npm ci)`;
  const r = spawnSync(file, argv, { encoding: 'utf8', timeout: 30_000 });
  if (r.error) return `${file} ${argv.join(' ')}: ${r.error.message}`;
  if (r.status !== 0)
    return `${file} ${argv.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}`;
  return undefined;
}

const PEERS: Record<string, PeerSpec> = {
  devhot: { name: 'devhot', label: 'devhot', variant: 'ts', server: 'plain', accept: false, command: devhotCommand },
  'devhot-accept': {
    name: 'devhot-accept',
    label: 'devhot (leaf self-accepts)',
    variant: 'ts',
    server: 'plain',
    accept: true,
    command: devhotCommand,
  },
  bun: {
    name: 'bun',
    label: 'Bun --hot',
    variant: 'ts',
    server: 'bun',
    accept: false,
    command: (p) => ({ file: bin('bun'), argv: ['--hot', p.entry] }),
    unavailable: () => runs(bin('bun')),
  },
  'hot-hook': {
    name: 'hot-hook',
    label: 'hot-hook (boundary, per-request import)',
    variant: 'ts',
    server: 'hot-hook',
    accept: false,
    command: (p) => ({ file: process.execPath, argv: [`--import=${loader('tsx')}`, `--import=${loader('hot-hook/register')}`, p.entry] }),
  },
  dynohot: {
    name: 'dynohot',
    label: 'dynohot (entry accepts its imports)',
    variant: 'ts',
    server: 'accept-deps',
    accept: false,
    command: (p) => ({ file: process.execPath, argv: [`--import=${loader('tsx')}`, `--import=${loader('dynohot/register')}`, p.entry] }),
  },
  'vite-node': {
    name: 'vite-node',
    label: 'vite-node --watch (entry accepts its imports)',
    variant: 'ts',
    server: 'accept-deps',
    accept: false,
    command: (p) => ({ file: bin('vite-node'), argv: ['--watch', p.entry] }),
    unavailable: () => runs(bin('vite-node')),
  },
  tsx: {
    name: 'tsx',
    label: 'tsx watch',
    variant: 'ts',
    server: 'plain',
    accept: false,
    command: (p) => ({ file: bin('tsx'), argv: ['watch', p.entry] }),
  },
  nodemon: {
    name: 'nodemon',
    label: 'nodemon --exec tsx',
    variant: 'ts',
    server: 'plain',
    accept: false,
    command: (p) => ({ file: bin('nodemon'), argv: ['--watch', 'src', '-e', 'ts', '--exec', bin('tsx'), p.entry] }),
  },
  node: {
    name: 'node',
    label: 'node --watch (JS)',
    variant: 'js',
    server: 'plain',
    accept: false,
    command: (p) => ({ file: process.execPath, argv: ['--watch', p.entry] }),
  },
};
const peerNames = args.peers
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const name of peerNames) {
  if (!PEERS[name]) {
    console.error(`unknown peer ${name} (known: ${Object.keys(PEERS).join(', ')})`);
    process.exit(2);
  }
}
/**
 * `--format cjs`: the same project as a CommonJS package (no "type": "module"), as NestJS's and
 * express's starters are. Only the peers whose setup runs CommonJS TypeScript as it is: the
 * others accept updates through `import.meta.hot` or run the ES module JS build.
 */
const CJS_PEERS = ['devhot', 'tsx', 'nodemon', 'bun'];
const format = args.format as ModuleFormat;
if (format !== 'esm' && format !== 'cjs') {
  console.error(`unknown format ${args.format} (known: esm, cjs)`);
  process.exit(2);
}
const notCjs = peerNames.filter((name) => !CJS_PEERS.includes(name));
if (format === 'cjs' && notCjs.length > 0) {
  console.error(`--format cjs runs only ${CJS_PEERS.join(', ')}: leave out ${notCjs.join(', ')} (--peers)`);
  process.exit(2);
}
if (!existsSync(join(repo, 'dist', 'src', 'cli.js'))) {
  console.error('devhot is not built: run `npm run build` first');
  process.exit(2);
}

// ---------------------------------------------------------------------------------- helpers

const now = () => performance.now();
/** Wall-clock time with sub-millisecond precision, comparable with Date.now() in other processes. */
const wall = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (text: string) => process.stderr.write(`${text}\n`);

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = net.createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => done(port));
    });
  });
}

interface Probe {
  ok: boolean;
  status?: number;
  body?: string;
  env?: string;
  /** Why it failed: an errno code, `HTTP <status>`, `timeout`, `truncated`. */
  error?: string;
}

/** One GET / on a fresh connection. */
function probe(port: number, timeout: number): Promise<Probe> {
  return new Promise((done) => {
    let finished = false;
    const chunks: Buffer[] = [];
    const socket = net.connect({ port, host: '127.0.0.1' });
    const finish = (result: Probe) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      done(result);
    };
    const timer = setTimeout(() => finish({ ok: false, error: 'timeout' }), Math.max(1, timeout));
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, error: e.code ?? e.message }));
    socket.on('close', () => finish(parseResponse(Buffer.concat(chunks).toString('latin1'))));
  });
}

function parseResponse(text: string): Probe {
  const head = text.indexOf('\r\n\r\n');
  if (head < 0) return { ok: false, error: text.length === 0 ? 'closed-empty' : 'truncated' };
  const lines = text.slice(0, head).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  const body = text.slice(head + 4);
  const length = headers.get('content-length');
  if (length !== undefined && body.length < Number(length)) return { ok: false, error: 'truncated' };
  if (status !== 200) return { ok: false, status, error: `HTTP ${status || '?'}` };
  return { ok: true, status, body: length !== undefined ? body.slice(0, Number(length)) : body, env: headers.get('x-env') };
}

class Failures {
  count = 0;
  readonly kinds = new Map<string, number>();
  add(kind: string): void {
    this.count++;
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
  }
  merge(other: Failures): void {
    for (const [k, n] of other.kinds) for (let i = 0; i < n; i++) this.add(k);
  }
  toString(): string {
    return [...this.kinds].map(([k, n]) => `${n} ${k}`).join(', ');
  }
}

interface Wait {
  ok: boolean;
  /** Time at which the wanted response arrived (performance.now()). */
  at: number;
  requests: number;
  last?: Probe;
}

/** Poll until `want` holds, one request at a time, `intervalMs` apart; failures go to `failures`. */
async function pollUntil(port: number, want: (p: Probe) => boolean, deadline: number, failures: Failures | undefined): Promise<Wait> {
  let requests = 0;
  let last: Probe | undefined;
  while (now() < deadline) {
    // A request is never cut short by the deadline: a slow answer is not a refusal.
    last = await probe(port, Math.max(1000, deadline - now()));
    requests++;
    if (!last.ok) failures?.add(last.error ?? 'error');
    else if (want(last)) return { ok: true, at: now(), requests, last };
    if (intervalMs > 0) await sleep(intervalMs);
  }
  return { ok: false, at: now(), requests, last };
}

/**
 * After the new version answered: keep polling until the server has answered `want` for
 * `settleMs` in a row (a watcher's second event for the same save, a late restart, shows up
 * here), counting failures, bounded by the deadline.
 */
async function settle(port: number, want: (p: Probe) => boolean, deadline: number, failures: Failures): Promise<boolean> {
  let since = now();
  while (now() < deadline) {
    if (now() - since >= settleMs) return true;
    const p = await probe(port, Math.max(1000, deadline - now()));
    if (!p.ok) failures.add(p.error ?? 'error');
    if (!p.ok || !want(p)) since = now();
    await sleep(Math.max(1, intervalMs));
  }
  return false;
}

// ------------------------------------------------------------------------- process handling

function readProcStat(pid: number): { ppid: number; pgid: number; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, ppid: Number(rest[1]), pgid: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** The root and all its descendants that are alive (not zombies). */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const s = readProcStat(pid);
    if (!s || s.state === 'Z') continue;
    const list = children.get(s.ppid) ?? [];
    list.push(pid);
    children.set(s.ppid, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (!readProcStat(pid) || readProcStat(pid)!.state === 'Z') continue;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The executable's base name and, for node, the script's: which of a peer's processes this is. */
function processName(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const script = argv.slice(1).find((a) => !a.startsWith('-'));
    const base = (path: string) => path.slice(path.lastIndexOf('/') + 1);
    return /node$/.test(argv[0]!) && script ? base(script) : base(argv[0]!);
  } catch {
    return String(pid);
  }
}

function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function alive(pid: number): boolean {
  const s = readProcStat(pid);
  return s !== undefined && s.state !== 'Z';
}

class PeerProcess {
  readonly child: ChildProcess;
  readonly seen = new Set<number>();
  readonly groups = new Set<number>();
  readonly output: string[] = [];
  /** devhot --json events with their arrival time (performance.now()). */
  readonly events: Array<{ at: number; event: Record<string, unknown> }> = [];
  exited = false;

  constructor(file: string, argv: string[], cwd: string, env: NodeJS.ProcessEnv) {
    this.child = spawn(file, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child.once('exit', () => (this.exited = true));
    this.child.on('error', (e) => this.output.push(`spawn error: ${e.message}\n`));
    if (this.child.pid) {
      this.seen.add(this.child.pid);
      this.groups.add(this.child.pid);
    }
    let pending = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      const at = now();
      const text = d.toString();
      this.keep(text);
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.startsWith('{"time"')) {
          try {
            this.events.push({ at, event: JSON.parse(line) as Record<string, unknown> });
          } catch {
            // not one of devhot's events
          }
        }
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => this.keep(d.toString()));
  }

  private keep(text: string): void {
    this.output.push(text);
    if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
  }

  /** Record the current tree (so processes that get re-parented can still be killed). */
  sample(): number[] {
    if (!this.child.pid) return [];
    const tree = processTree(this.child.pid);
    for (const pid of tree) {
      this.seen.add(pid);
      const s = readProcStat(pid);
      if (s) this.groups.add(s.pgid);
    }
    return tree;
  }

  /** RSS and PSS of the tree, summed over its processes, and each process's RSS with its name. */
  memoryKb(): { rss: number; pss: number; parts: string } {
    const tree = this.sample();
    const rss = tree.map(rssKb);
    return {
      rss: rss.reduce((sum, kb) => sum + kb, 0),
      pss: tree.reduce((sum, pid) => sum + pssKb(pid), 0),
      parts: tree.map((pid, i) => `${processName(pid)} ${(rss[i]! / 1024).toFixed(0)}`).join(', '),
    };
  }

  /**
   * Stop it as a user does, with Ctrl-C: SIGINT to its process group (a terminal sends it to the
   * foreground group), so it may finish what it keeps on disk. Resolves when it exited, or after
   * `ms` (kill() then ends the rest).
   */
  async interrupt(ms: number): Promise<void> {
    this.sample();
    if (this.exited || !this.child.pid) return;
    try {
      process.kill(-this.child.pid, 'SIGINT');
    } catch {
      return; // gone
    }
    await Promise.race([new Promise((r) => this.child.once('exit', r)), sleep(ms)]);
  }

  /** SIGKILL the groups and every process seen; returns the pids still alive afterwards. */
  async kill(): Promise<number[]> {
    const ownGroup = readProcStat(process.pid)?.pgid;
    for (let round = 0; round < 10; round++) {
      this.sample();
      for (const g of this.groups) {
        if (g === ownGroup || g <= 1) continue;
        try {
          process.kill(-g, 'SIGKILL');
        } catch {
          // gone
        }
      }
      for (const pid of this.seen) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await sleep(50);
      if ([...this.seen].every((pid) => !alive(pid))) break;
    }
    if (!this.exited) await Promise.race([new Promise((r) => this.child.once('exit', r)), sleep(2000)]);
    return [...this.seen].filter(alive);
  }

  tail(lines = 30): string {
    return this.output.join('').split('\n').slice(-lines).join('\n');
  }
}

// --------------------------------------------------------------------------------- measuring

interface EditSample {
  ms: number | undefined;
  failed: number;
  requests: number;
  timedOut: boolean;
  /** devhot: update events logged for this save, and the in-app update duration(s). */
  updates?: Array<{ status: string; rung?: string; duration?: number; reexecuted?: number; loggedAfterSaveMs: number }>;
}

interface RestartSample {
  ms: number | undefined;
  failed: number;
  timedOut: boolean;
  loggedReadyMs?: number;
}

interface PeerResult {
  peer: string;
  label: string;
  size: number;
  layout: Layout;
  coldStartMs: number | undefined;
  /** The next start, on the caches the first left (stopped with Ctrl-C, started again): spawn → first 200, the median of `warmStarts`. */
  warmStartMs: number | undefined;
  /** Each of those starts, in order. */
  warmStarts: number[];
  coldRefusals: number;
  edits: EditSample[];
  /** The first save after the cold start (a warm-up edit, not among `edits`): what a user's first save waits. */
  firstSaveMs: number | undefined;
  /** The first save in a process restarted from the disk cache (devhot, with --restarts). */
  firstSaveWarmMs: number | undefined;
  failures: Failures;
  rssKb: number;
  pssKb: number;
  /** RSS per process, MB: where `rssKb` goes. */
  rssParts: string;
  /** With --idle-memory: the same, that long after the first response. */
  idle?: { rssKb: number; pssKb: number; parts: string };
  restarts: RestartSample[];
  restartFailures: Failures;
  /** Two saves `rapidGapMs` apart: time from the second save to its version, or what was served instead. */
  rapid?: { ms: number | undefined; failed: number; servedInstead: string | undefined; windowMs: number };
  leftBehind: number[];
  error?: string;
}

/** The tree's memory `--idle-memory` after the first response (at `firstAt`), left idle until then. */
async function idleMemory(proc: PeerProcess, firstAt: number): Promise<NonNullable<PeerResult['idle']>> {
  await sleep(Math.max(0, firstAt + idleMemoryMs - now()));
  const { rss, pss, parts } = proc.memoryKb();
  return { rssKb: rss, pssKb: pss, parts };
}

/** A result for a peer that did not run: the table says why. */
function notRun(spec: PeerSpec, size: number, layout: Layout, error: string): PeerResult {
  return {
    peer: spec.name,
    label: spec.label,
    size,
    layout,
    coldStartMs: undefined,
    warmStartMs: undefined,
    warmStarts: [],
    coldRefusals: 0,
    edits: [],
    firstSaveMs: undefined,
    firstSaveWarmMs: undefined,
    failures: new Failures(),
    rssKb: 0,
    pssKb: 0,
    rssParts: '',
    restarts: [],
    restartFailures: new Failures(),
    leftBehind: [],
    error,
  };
}

async function runPeer(spec: PeerSpec, size: number, layout: Layout, workDir: string): Promise<PeerResult> {
  const dir = join(workDir, `${spec.name}-${size}-${layout}`);
  const salt = `${process.pid}-${Date.now()}-${spec.name}`;
  const project = createCliProject(join(dir, 'project'), {
    modules: size,
    branching,
    variant: spec.variant,
    accept: spec.accept,
    salt,
    layout,
    server: spec.server,
    format,
  });
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), TMPDIR: tmp, NO_COLOR: '1', FORCE_COLOR: '0', CI: '1' };
  delete env.NODE_OPTIONS;
  const { file, argv } = spec.command(project);
  const result = notRun(spec, size, layout, '');
  delete result.error;

  const t0 = now();
  const proc = new PeerProcess(file, argv, project.root, env);
  let again: PeerProcess | undefined;
  try {
    // Cold start. Refusals before the first response are expected, not failures.
    const coldFailures = new Failures();
    const cold = await pollUntil(port, (p) => p.body === 'v0', t0 + Math.max(timeoutMs, 120_000), coldFailures);
    result.coldRefusals = coldFailures.count;
    if (!cold.ok) throw new Error(`no response within ${Math.round((now() - t0) / 1000)} s (last: ${cold.last?.error ?? cold.last?.body})`);
    result.coldStartMs = cold.at - t0;
    proc.sample();
    await settle(port, (p) => p.body === 'v0', now() + timeoutMs, new Failures());

    let version = 0;
    for (let i = 0; i < warmups + edits; i++) {
      version++;
      const text = project.leafText(version);
      const want = `v${version}`;
      const eventsBefore = proc.events.length;
      const failures = new Failures();
      writeFileSync(project.leaf, text);
      const saved = now();
      const savedWall = wall();
      const got = await pollUntil(port, (p) => p.body === want, saved + timeoutMs, failures);
      if (got.ok) await settle(port, (p) => p.body === want, now() + timeoutMs, failures);
      if (!got.ok) failures.add('no new version within timeout');
      const sample: EditSample = {
        ms: got.ok ? got.at - saved : undefined,
        failed: failures.count,
        requests: got.requests,
        timedOut: !got.ok,
      };
      if (spec.name.startsWith('devhot')) {
        sample.updates = proc.events
          .slice(eventsBefore)
          .filter((e) => e.event.event === 'update')
          .map((e) => {
            const r = e.event.result as { status: string; rung?: string; duration?: number; reexecuted?: unknown[] };
            return {
              status: r.status,
              rung: r.rung,
              duration: r.duration,
              reexecuted: r.reexecuted?.length,
              loggedAfterSaveMs: (e.event.time as number) - savedWall,
            };
          });
      }
      if (i === 0) result.firstSaveMs = sample.ms;
      if (i >= warmups) {
        result.edits.push(sample);
        result.failures.merge(failures);
      }
      proc.sample();
      if (!got.ok) log(`    ${spec.name} ${size}: edit ${version} timed out (last: ${got.last?.error ?? got.last?.body})`);
      if (gapMs > 0) await sleep(gapMs);
    }
    ({ rss: result.rssKb, pss: result.pssKb, parts: result.rssParts } = proc.memoryKb());

    // Rapid saves: two writes `rapidGapMs` apart (format-on-save, a second quick save). The
    // second version must end up served; a watcher that drops it leaves stale code running.
    {
      const failures = new Failures();
      writeFileSync(project.leaf, project.leafText(++version));
      await sleep(rapidGapMs);
      const text = project.leafText(++version);
      const want = `v${version}`;
      writeFileSync(project.leaf, text);
      const saved = now();
      // Lost = not served within 5 s, or three times the peer's own p50 if that is longer (tsx
      // at 3000 modules restarts in 5–9 s: slow, not lost).
      const windowMs = Math.min(timeoutMs, Math.max(5000, 3 * (p50(result) ?? 0)));
      const got = await pollUntil(port, (p) => p.body === want, saved + windowMs, failures);
      if (got.ok) await settle(port, (p) => p.body === want, now() + timeoutMs, failures);
      result.rapid = {
        ms: got.ok ? got.at - saved : undefined,
        failed: failures.count,
        servedInstead: got.ok ? undefined : (got.last?.body ?? got.last?.error),
        windowMs,
      };
      if (!got.ok) {
        // Recover: one more save, far enough from the last one.
        await sleep(200);
        const next = `v${++version}`;
        writeFileSync(project.leaf, project.leafText(version));
        await pollUntil(port, (p) => p.body === next, now() + timeoutMs, undefined);
      }
      await sleep(Math.max(gapMs, 100));
    }

    if (idleMemoryMs > 0) result.idle = await idleMemory(proc, cold.at);

    // Forced restarts (devhot): an --env-file change starts a new process.
    if (spec.name.startsWith('devhot')) {
      for (let n = 1; n <= restarts; n++) {
        const failures = new Failures();
        const eventsBefore = proc.events.length;
        writeFileSync(project.envFile, project.envText(n));
        const saved = now();
        const savedWall = wall();
        const want = `r${n}`;
        const got = await pollUntil(port, (p) => p.env === want, saved + timeoutMs, failures);
        if (got.ok) await settle(port, (p) => p.env === want, now() + timeoutMs, failures);
        if (!got.ok) failures.add('no new process within timeout');
        const ready = proc.events.slice(eventsBefore).find((e) => e.event.event === 'restart' && e.event.phase === 'ready');
        result.restarts.push({
          ms: got.ok ? got.at - saved : undefined,
          failed: failures.count,
          timedOut: !got.ok,
          loggedReadyMs: ready ? (ready.event.time as number) - savedWall : undefined,
        });
        result.restartFailures.merge(failures);
        proc.sample();
        // Let the old process drain and exit before the next restart.
        await sleep(300);
      }
      // The first save in a process started from the disk cache (the last restart's), after a
      // pause as a user's: what it finds ready.
      if (restarts > 0) {
        await sleep(FIRST_SAVE_PAUSE_MS);
        const want = `v${++version}`;
        writeFileSync(project.leaf, project.leafText(version));
        const saved = now();
        const got = await pollUntil(port, (p) => p.body === want, saved + timeoutMs, undefined);
        result.firstSaveWarmMs = got.ok ? got.at - saved : undefined;
      }
    }

    // Warm start: stopped as a user stops it, then the same command again on the same project,
    // with whatever the first run cached (devhot's node_modules/.devhot, tsx's cache in TMPDIR);
    // `warmStarts` times.
    await proc.interrupt(10_000);
    await proc.kill(); // what is left of it is counted below
    for (let n = 0; n < warmStarts; n++) {
      if (again) {
        await again.interrupt(10_000);
        result.leftBehind.push(...(await again.kill()));
      }
      const t1 = now();
      again = new PeerProcess(file, argv, project.root, env);
      const warm = await pollUntil(port, (p) => p.body === `v${version}`, t1 + Math.max(timeoutMs, 120_000), new Failures());
      if (!warm.ok)
        throw new Error(
          `warm start: no response within ${Math.round((now() - t1) / 1000)} s (last: ${warm.last?.error ?? warm.last?.body})`,
        );
      result.warmStarts.push(warm.at - t1);
    }
    result.warmStartMs = quantile(result.warmStarts, 0.5);
  } catch (error) {
    result.error = (error as Error).message;
    log(`    ${spec.name} ${size}: ${result.error}\n${proc.tail()}`);
  } finally {
    result.leftBehind.push(...(await proc.kill()), ...((await again?.kill()) ?? []));
    if (result.leftBehind.length > 0) log(`    ${spec.name} ${size}: processes left behind: ${result.leftBehind.join(' ')}`);
    writeFileSync(join(dir, 'output.log'), [...proc.output, ...(again ? ['\n--- warm start\n', ...again.output] : [])].join(''));
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

// ---------------------------------------------------------------------------------- reporting

function ms(v: number | undefined): string {
  if (v === undefined) return '–';
  if (v >= 10_000) return `${(v / 1000).toFixed(1)} s`;
  if (v >= 100) return `${Math.round(v)} ms`;
  return `${v.toFixed(1)} ms`;
}

const editTimes = (r: PeerResult) => r.edits.flatMap((e) => (e.ms === undefined ? [] : [e.ms]));
const p50 = (r: PeerResult) => quantile(editTimes(r), 0.5);
const p95 = (r: PeerResult) => quantile(editTimes(r), 0.95);

function failedCell(r: PeerResult): string {
  if (r.error && r.edits.length === 0) return `error: ${r.error}`;
  const timeouts = r.edits.filter((e) => e.timedOut).length;
  const kinds = r.failures.toString();
  return `${r.failures.count}${kinds ? ` (${kinds})` : ''}${timeouts ? `, ${timeouts} timeouts` : ''}`;
}

function rapidCell(r: PeerResult): string {
  if (!r.rapid) return '–';
  if (r.rapid.ms === undefined) return `**2nd save LOST** (served ${r.rapid.servedInstead ?? '?'} for ${ms(r.rapid.windowMs)})`;
  return `2nd applied after ${ms(r.rapid.ms)}${r.rapid.failed ? `, ${r.rapid.failed} failed` : ''}`;
}

const layoutName = (layout: Layout) => (layout === 'flat' ? 'all in one folder' : '100 per folder');

/** p50 of a peer over devhot's p50 in the same size and layout. */
function ratio(r: PeerResult, results: readonly PeerResult[]): string {
  const devhot = results.find((x) => x.peer === 'devhot' && x.size === r.size && x.layout === r.layout);
  const base = devhot ? p50(devhot) : undefined;
  const mid = p50(r);
  if (r.error && mid === undefined) return 'did not run';
  if (base === undefined || mid === undefined || base <= 0) return '–';
  return `${(mid / base).toFixed(mid / base >= 10 ? 0 : 1)}×`;
}

function table(size: number, layout: Layout, results: PeerResult[]): string[] {
  const idle = idleMemoryMs > 0;
  const idleHead = idle ? ` RSS / PSS ${idleMemoryMs / 1000} s after start |` : '';
  const out = [
    `### ${size} modules, ${layoutName(layout)}`,
    '',
    `| peer | cold start | warm start | save→new response p50 | p95 | failed requests during edits | RSS after edits | PSS |${idleHead} ratio peer p50 / devhot p50 | 2 saves ${rapidGapMs} ms apart |`,
    `| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |${idle ? ' ---: |' : ''} ---: | --- |`,
  ];
  const mbCell = (kb: number | undefined) => (kb ? `${(kb / 1024).toFixed(0)} MB` : '–');
  for (const r of results) {
    const idleCell = idle ? ` ${r.idle ? `${mbCell(r.idle.rssKb)} / ${mbCell(r.idle.pssKb)}` : '–'} |` : '';
    out.push(
      `| ${r.label} | ${ms(r.coldStartMs)} | ${ms(r.warmStartMs)} | ${ms(p50(r))} | ${ms(p95(r))} | ${failedCell(r)} | ${mbCell(r.rssKb)} | ${mbCell(r.pssKb)} |${idleCell} ${ratio(r, results)} | ${rapidCell(r)} |`,
    );
  }
  return out;
}

/** Every peer's p50 and its ratio to devhot's, one column per size and layout. */
function summary(all: readonly PeerResult[]): string[] {
  const columns = sizes.flatMap((size) => layouts.map((layout) => ({ size, layout })));
  const out = [
    '### save → new response p50 (ratio to devhot)',
    '',
    `| peer | ${columns.map((c) => `${c.size}, ${c.layout}`).join(' | ')} |`,
    `| --- |${columns.map(() => ' ---: |').join('')}`,
  ];
  for (const name of peerNames) {
    const cells = columns.map(({ size, layout }) => {
      const r = all.find((x) => x.peer === name && x.size === size && x.layout === layout);
      if (!r) return '–';
      if (r.error && p50(r) === undefined) return 'did not run';
      return `${ms(p50(r))} (${ratio(r, all)})`;
    });
    out.push(`| ${PEERS[name]!.label} | ${cells.join(' | ')} |`);
  }
  return out;
}

function devhotDetail(results: PeerResult[]): string[] {
  const out: string[] = [];
  for (const r of results.filter((x) => x.peer.startsWith('devhot'))) {
    const ups = r.edits.flatMap((e) => e.updates ?? []);
    const perSave = r.edits.map((e) => e.updates?.length ?? 0);
    const rungs = [...new Set(ups.map((u) => `${u.status}${u.rung ? `/${u.rung}` : ''}`))].join(', ');
    const applied = ups.filter((u) => u.status === 'applied');
    const durations = applied.flatMap((u) => (u.duration === undefined ? [] : [u.duration]));
    const logged = r.edits.flatMap((e) => {
      const a = e.updates?.find((u) => u.status === 'applied');
      return a ? [a.loggedAfterSaveMs] : [];
    });
    out.push(
      `- ${r.label}, ${r.size} modules ${r.layout}: rung ${rungs || '–'}; ${applied[0]?.reexecuted ?? '–'} modules re-executed; updates per save ${Math.min(...perSave)}–${Math.max(...perSave)}; ` +
        `in-app update() p50 ${ms(quantile(durations, 0.5))} (p95 ${ms(quantile(durations, 0.95))}); ` +
        `save → supervisor logs the result p50 ${ms(quantile(logged, 0.5))}; save → new response p50 ${ms(p50(r))}; first save after the cold start ${ms(r.firstSaveMs)}, after a restart from the disk cache ${ms(r.firstSaveWarmMs)}`,
    );
    if (r.restarts.length > 0) {
      const times = r.restarts.flatMap((x) => (x.ms === undefined ? [] : [x.ms]));
      const readies = r.restarts.flatMap((x) => (x.loggedReadyMs === undefined ? [] : [x.loggedReadyMs]));
      const kinds = r.restartFailures.toString();
      out.push(
        `  - forced restart (env-file change) ×${r.restarts.length}: save → response from the new process p50 ${ms(quantile(times, 0.5))}, max ${ms(times.length ? Math.max(...times) : undefined)}; ` +
          `logged ready p50 ${ms(quantile(readies, 0.5))}; failed requests ${r.restartFailures.count}${kinds ? ` (${kinds})` : ''}${r.restarts.some((x) => x.timedOut) ? `, ${r.restarts.filter((x) => x.timedOut).length} timeouts` : ''}`,
      );
    }
  }
  return out;
}

// -------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = now();
  const workDir = mkdtempSync(join(tmpdir(), 'devhot-cli-bench-'));
  const command = `node ${process.argv
    .slice(1)
    .map((a) => (/\s/.test(a) ? JSON.stringify(a) : a))
    .join(' ')}`;
  const machine = `node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GB, Linux ${release()}`;
  log(
    `devhot CLI benchmark: sizes ${sizes.join(', ')}; layouts ${layouts.join(', ')}; ${format === 'cjs' ? 'CommonJS; ' : ''}peers ${peerNames.join(', ')}; ${warmups} warm-ups + ${edits} edits${peerNames.some((p) => p.startsWith('devhot')) ? `, ${restarts} forced restarts (devhot)` : ''}`,
  );
  log(`work dir ${workDir}`);
  const all: PeerResult[] = [];
  const out: string[] = [];
  try {
    // A peer that cannot run here says why, once, in every table it would be in.
    const unavailable = new Map(peerNames.map((name) => [name, PEERS[name]!.unavailable?.()]));
    for (const [name, why] of unavailable) if (why) log(`  ${name} cannot run here: ${why}`);
    for (const size of sizes) {
      for (const layout of layouts) {
        const results: PeerResult[] = [];
        for (const name of peerNames) {
          const t = now();
          const why = unavailable.get(name);
          log(`  ${size} modules ${layout}, ${name}…`);
          const r = why
            ? notRun(PEERS[name]!, size, layout, `cannot run here: ${why}`)
            : await runPeer(PEERS[name]!, size, layout, workDir);
          results.push(r);
          all.push(r);
          log(
            `    cold ${ms(r.coldStartMs)}, warm ${ms(r.warmStartMs)} (${r.warmStarts.map((w) => w.toFixed(0)).join(', ') || 'none'}), first save ${ms(r.firstSaveMs)} (after a restart ${ms(r.firstSaveWarmMs)}), p50 ${ms(p50(r))}, p95 ${ms(p95(r))}, failed ${r.failures.count}, RSS ${(r.rssKb / 1024).toFixed(0)} MB, PSS ${(r.pssKb / 1024).toFixed(0)} MB [${r.rssParts}]${r.idle ? `, idle RSS ${(r.idle.rssKb / 1024).toFixed(0)} MB [${r.idle.parts}]` : ''} (${((now() - t) / 1000).toFixed(1)} s)`,
          );
        }
        out.push(...table(size, layout, results), '');
        const detail = devhotDetail(results);
        if (detail.length > 0) out.push(...detail, '');
      }
    }
  } finally {
    if (!args.keep) rmSync(workDir, { recursive: true, force: true });
  }

  // Targets.
  // Issue #12: p50 ≤ 10 ms at 300 modules and ≤ 15 ms at 3000, in both layouts.
  const verdicts: string[] = [];
  for (const [size, limit] of [
    [300, 10],
    [3000, 15],
  ] as const) {
    for (const layout of layouts) {
      const r = all.find((x) => x.peer === 'devhot' && x.size === size && x.layout === layout);
      if (!r) continue;
      const v = p50(r);
      verdicts.push(`p50 ≤ ${limit} ms at ${size} ${layout}: ${v !== undefined && v <= limit ? 'met' : 'MISSED'} (${ms(v)})`);
    }
  }
  // Issue #12: a start at 3000 modules ≤ 2 s with empty caches and ≤ 0.8 s with warm ones (the ES
  // module project).
  for (const layout of format === 'esm' ? layouts : []) {
    const r = all.find((x) => x.peer === 'devhot' && x.size === 3000 && x.layout === layout);
    if (!r) continue;
    for (const [what, v, limit] of [
      ['cold start (empty caches)', r.coldStartMs, 2000],
      ['warm start', r.warmStartMs, 800],
    ] as const) {
      verdicts.push(`${what} ≤ ${ms(limit)} at 3000 ${layout}: ${v !== undefined && v <= limit ? 'met' : 'MISSED'} (${ms(v)})`);
    }
  }
  // Issue #12: the RSS of devhot's processes (supervisor, app, esbuild) at 3000 modules ≤ 250 MB.
  for (const layout of layouts) {
    const r = all.find((x) => x.peer === 'devhot' && x.size === 3000 && x.layout === layout);
    if (!r?.rssKb) continue;
    const mb = r.rssKb / 1024;
    verdicts.push(
      `RSS ≤ 250 MB at 3000 ${layout}, right after the edits: ${mb <= 250 ? 'met' : 'MISSED'} (${mb.toFixed(0)} MB; PSS ${(r.pssKb / 1024).toFixed(0)} MB)`,
    );
    if (!r.idle) continue;
    const idle = r.idle.rssKb / 1024;
    verdicts.push(
      `RSS ≤ 250 MB at 3000 ${layout}, ${idleMemoryMs / 1000} s after the first response: ${idle <= 250 ? 'met' : 'MISSED'} (${idle.toFixed(0)} MB; PSS ${(r.idle.pssKb / 1024).toFixed(0)} MB)`,
    );
  }
  const devhots = all.filter((r) => r.peer.startsWith('devhot'));
  if (devhots.length > 0) {
    const failed = devhots.reduce((s, r) => s + r.failures.count + r.edits.filter((e) => e.timedOut).length, 0);
    verdicts.push(`zero failed requests during edits: ${failed === 0 ? 'met' : `MISSED (${failed})`}`);
    const lost = devhots.filter((r) => r.rapid && r.rapid.ms === undefined);
    verdicts.push(
      `no lost save (2 saves ${rapidGapMs} ms apart): ${lost.length === 0 ? 'met' : `MISSED (${lost.map((r) => `${r.peer} ${r.size} ${r.layout}`).join(', ')})`}`,
    );
    const restartRuns = devhots.filter((r) => r.restarts.length > 0);
    if (restartRuns.length > 0) {
      const rf = restartRuns.reduce((s, r) => s + r.restartFailures.count, 0);
      verdicts.push(
        `forced restart refuses nothing: ${rf === 0 ? 'met' : `MISSED (${rf} failed)`} (${restartRuns.reduce((s, r) => s + r.restarts.length, 0)} restarts)`,
      );
    }
  }
  const left = all.reduce((s, r) => s + r.leftBehind.length, 0);

  const report = [
    `## devhot CLI benchmark`,
    '',
    `command: \`${command}\``,
    `machine: ${machine}`,
    `polling: a fresh connection per request (Connection: close), one at a time, ${intervalMs} ms apart; a save's failures are counted until ${settleMs} ms of correct answers in a row, then ${gapMs} ms pause before the next save; waits bounded at ${timeoutMs / 1000} s`,
    `${warmups} warm-up edits, then ${edits} measured edits per peer, size and layout; cold start = spawn → first 200 (empty caches); warm start = the same after the peer was stopped with SIGINT (Ctrl-C) and started again, with what it cached: the median of ${warmStarts}`,
    '',
    ...summary(all),
    '',
    ...out,
    `**targets (devhot):** ${verdicts.join('; ') || '–'}`,
    '',
    `processes left behind: ${left}; total time ${((now() - started) / 1000).toFixed(0)} s`,
  ];
  console.log(report.join('\n'));
  if (args.out)
    writeFileSync(
      resolve(args.out),
      `${JSON.stringify({ command, machine, results: all.map((r) => ({ ...r, failures: Object.fromEntries(r.failures.kinds), restartFailures: Object.fromEntries(r.restartFailures.kinds) })) }, null, 2)}\n`,
    );
}

await main();
