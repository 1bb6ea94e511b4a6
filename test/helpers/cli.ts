/**
 * Black-box harness for the `devhot` command: fixture projects in a temp dir under
 * /work/main/.devhot-tmp/ (so bare imports such as 'express' resolve through the repository's
 * node_modules by walking up), the built CLI spawned with `--json` (stdout parsed into events,
 * stderr kept), waits for a response or an event with a deadline, free ports, and cleanup that
 * leaves no process and no directory behind.
 *
 * Fixtures must not write into their own project directory while devhot runs: the directory is
 * watched, and a write there is a save. They report through HTTP instead (e.g. `GET /pid`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { poll, type After } from './poll.js';
import { writeTree, type TreeFiles } from './tree.js';

/** /work/main (this file runs from dist/test/helpers/). */
export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
export const BIN = path.join(REPO_ROOT, 'bin', 'devhot.js');
const TMP = path.join(REPO_ROOT, '.devhot-tmp');

const stacks = new WeakMap<After, Array<() => unknown>>();
/**
 * Register cleanup for a test, run last-in first-out (processes stop before their directory is
 * removed), every step even when one throws.
 */
export function onCleanup(t: After, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (!stack) {
    const steps: Array<() => unknown> = (stack = []);
    stacks.set(t, steps);
    t.after(async () => {
      const errors: unknown[] = [];
      for (const step of steps.reverse()) {
        try {
          await step();
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length > 0) throw errors[0];
    });
  }
  stack.push(fn);
}

// ---------------------------------------------------------------------------------------------
// Fixture projects

export type Fixture = TreeFiles;

/** A project written from `tree` (plus an ESM package.json unless given), removed after the test. */
export function createFixture(t: After, tree: Record<string, string>): Fixture {
  fs.mkdirSync(TMP, { recursive: true });
  const root = fs.realpathSync(fs.mkdtempSync(path.join(TMP, 'cli-')));
  onCleanup(t, () => {
    // A test that failed may leave what devhot should have stopped: stop it here, not later.
    for (const pid of processesIn(root)) killQuietly(pid, 'SIGKILL');
    fs.rmSync(root, { recursive: true, force: true, maxRetries: 5 });
  });
  return writeTree(root, tree);
}

// ---------------------------------------------------------------------------------------------
// Ports and processes

/**
 * The kernel's ephemeral ports (Linux): what `listen(0)` and outgoing connections are given.
 * A port a test hands to an app is picked below them: one the kernel picked and the test let go
 * was once given again, a moment later, to devhot's own channel (`listen(0)`), and the app's
 * listen failed with EADDRINUSE (cli-nest, Node 24).
 */
const EPHEMERAL_FROM = (() => {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
})();

/**
 * A port that was free a moment ago on 127.0.0.1, outside the kernel's ephemeral range, and that
 * no other test process took lately. Two test files run at once, each picking at random: one once
 * handed its app the port the other's app was about to listen on, and the first app's listen
 * failed with EADDRINUSE (cli-channel, Node 20, 2026-12-01). A test process claims a port with a
 * file of that name (created exclusively) in TMP/ports, for CLAIM_MS.
 */
export async function freePort(): Promise<number> {
  const low = 10_000;
  if (EPHEMERAL_FROM - low < 1000) return kernelPort();
  for (let i = 0; i < 50; i++) {
    const port = low + Math.floor(Math.random() * (EPHEMERAL_FROM - low));
    if (claimPort(port) && (await canListen(port))) return port;
  }
  return kernelPort();
}

const PORT_CLAIMS = path.join(TMP, 'ports');
/** Longer than any test holds a port. */
const CLAIM_MS = 10 * 60_000;

/** Whether this process may hand out `port`: no other claimed it within CLAIM_MS. */
function claimPort(port: number): boolean {
  const file = path.join(PORT_CLAIMS, String(port));
  try {
    fs.mkdirSync(PORT_CLAIMS, { recursive: true });
    fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch (error) {
    // No claims where the directory cannot be written: a random port, as before.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return true;
  }
  try {
    if (Date.now() - fs.statSync(file).mtimeMs < CLAIM_MS) return false;
    fs.writeFileSync(file, String(process.pid));
    return true;
  } catch {
    return false;
  }
}

/** A port the kernel picks (from its ephemeral range). */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a server can listen on the port right now (it closes again at once). */
export function canListen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A server holding the port until closed (for the busy-port case). */
export async function occupy(t: After, port: number): Promise<net.Server> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  onCleanup(t, () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())));
  return server;
}

/** Whether a process exists (a zombie not yet reaped counts as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Pids whose parent is `ppid` (Linux /proc). */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Live processes whose working directory is `root` or below it: every process an app in a
 * fixture starts (the app, its children, esbuild) runs there, so an empty list means nothing of
 * the fixture outlived devhot.
 */
export function processesIn(root: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
      if ((cwd === root || cwd.startsWith(`${root}/`)) && alive(Number(entry))) out.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to look at
    }
  }
  return out;
}

/** Open file descriptors of a process (Linux). */
export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident memory of a process in kB (Linux). */
export function rssKb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : 0;
}

/** CPU time a process has used, in ms (Linux: user + system, in clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface Response {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** GET on a fresh connection (no agent: nothing kept alive between polls). */
export function get(port: number, pathName = '/', timeout = 3000): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathName, agent: false, timeout }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${pathName} timed out after ${timeout} ms`)));
    req.on('error', reject);
  });
}

/** Poll GET until the body satisfies `expected` (a string to equal, or a predicate). */
export async function waitForBody(
  port: number,
  expected: string | ((body: string) => boolean),
  pathName = '/',
  timeout = 10_000,
): Promise<string> {
  const ok = typeof expected === 'string' ? (b: string) => b === expected : expected;
  let last = '(no response)';
  try {
    return await poll(
      async () => {
        const res = await get(port, pathName, 2000);
        last = `${res.status} ${JSON.stringify(res.body)}`;
        return res.status === 200 && ok(res.body) ? res.body : undefined;
      },
      `GET ${pathName} → ${String(expected)}`,
      timeout,
    );
  } catch (error) {
    // Tests of one file run one at a time: the devhot started last is the one serving here.
    throw new Error(`${(error as Error).message} (last response: ${last})${lastStarted?.describe() ?? ''}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The devhot process

export type DevhotEvent = { event: string; [key: string]: any };

export interface Devhot {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every JSON event printed so far, in order. */
  readonly events: DevhotEvent[];
  /** Lines on stdout that were not JSON (there should be none). */
  readonly stray: string[];
  stderr(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitCode(): number | null | undefined;
  /** Index to pass as `from` so a wait only looks at events printed after this call. */
  mark(): number;
  /** Wait for an event (from index `from`) matching `pred`; fails early if devhot exits. */
  waitEvent(pred: (e: DevhotEvent) => boolean, what: string, options?: { from?: number; timeout?: number }): Promise<DevhotEvent>;
  /** The events from `from` that match. */
  find(pred: (e: DevhotEvent) => boolean, from?: number): DevhotEvent[];
  /** A summary for assertion messages. */
  describe(): string;
}

export interface StartOptions {
  cwd: string;
  args: string[];
  env?: Record<string, string>;
  /** Add `--json` (default true). */
  json?: boolean;
}

/**
 * The environment devhot runs in here: the test runner's own marker and options must not leak
 * into it (or into the app), and no colours.
 */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

/** Run the built CLI; killed with its process group and app processes after the test. */
export function runDevhot(t: After, options: StartOptions): Devhot {
  const env = cliEnv(options.env);
  const args = [BIN, ...options.args, ...(options.json === false ? [] : ['--json'])];
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so cleanup reaches everything it started.
    detached: true,
  });
  const pid = child.pid!;
  const events: DevhotEvent[] = [];
  const stray: string[] = [];
  let stderr = '';
  let buffer = '';
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of [...listeners]) l();
  };
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.trim()) continue;
      try {
        events.push(JSON.parse(line) as DevhotEvent);
      } catch {
        stray.push(line);
      }
    }
    notify();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
    notify();
  });
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      exitInfo = { code, signal };
      notify();
      resolve(exitInfo);
    });
  });

  const describe = () => {
    const tail = events.slice(-15).map((e) => {
      const s = JSON.stringify(e);
      return s.length > 400 ? `${s.slice(0, 400)}…` : s;
    });
    return `\n--- last events ---\n${tail.join('\n')}\n--- stderr ---\n${stderr.slice(-3000)}\n--- exit: ${JSON.stringify(exitInfo)}`;
  };

  onCleanup(t, async () => {
    const apps = childrenOf(pid);
    if (!exitInfo) {
      killQuietly(pid, 'SIGTERM');
      const timer = setTimeout(() => killQuietly(-pid, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    killQuietly(-pid, 'SIGKILL');
    // App processes run in groups of their own; they end when devhot does, but make sure.
    for (const app of apps) killQuietly(-app, 'SIGKILL');
  });

  return {
    child,
    pid,
    events,
    stray,
    stderr: () => stderr,
    exited,
    exitCode: () => exitInfo?.code,
    mark: () => events.length,
    find: (pred, from = 0) => events.slice(from).filter(pred),
    describe,
    waitEvent(pred, what, { from = 0, timeout = 10_000 } = {}) {
      return new Promise((resolve, reject) => {
        let index = from;
        const check = () => {
          for (; index < events.length; index++) {
            if (pred(events[index]!)) {
              done();
              resolve(events[index]!);
              return;
            }
          }
          if (exitInfo) {
            done();
            reject(new Error(`devhot exited while waiting for ${what}${describe()}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${timeout} ms waiting for ${what}${describe()}`));
        }, timeout);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

let lastStarted: Devhot | undefined;

/** Run devhot and wait for its `start` event. */
export async function startDevhot(t: After, options: StartOptions): Promise<Devhot> {
  const devhot = runDevhot(t, options);
  lastStarted = devhot;
  await devhot.waitEvent((e) => e.event === 'start', 'the start event', { timeout: 15_000 });
  return devhot;
}

/** Run the CLI to its end (for bad input): exit code, stdout, stderr. */
export function runToExit(
  options: StartOptions,
  timeout = 15_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const env = cliEnv(options.env);
  const args = [BIN, ...options.args, ...(options.json === false ? [] : ['--json'])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      killQuietly(-child.pid!, 'SIGKILL');
      reject(new Error(`devhot ${options.args.join(' ')} did not exit within ${timeout} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeout);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** An update event with the given status (and rung), printed after `from`. */
export function isUpdate(status: string, rung?: string): (e: DevhotEvent) => boolean {
  return (e) => e.event === 'update' && e.result?.status === status && (rung === undefined || e.result?.rung === rung);
}

/** A restart event with the given phase. */
export function isRestart(phase: 'starting' | 'ready' | 'failed'): (e: DevhotEvent) => boolean {
  return (e) => e.event === 'restart' && e.phase === phase;
}
