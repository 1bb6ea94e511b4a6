/**
 * Forking an app process, and forking the first one early: as soon as the command knows it will
 * run an app, before it has loaded the supervisor and read its configuration. Node's boot and the
 * loading of the runner's modules in the app (~290 ms on Node 20, 2 cores) then overlap with the
 * supervisor's own loading and set-up (~190 ms) instead of following them. The early process
 * waits for its configuration and its environment on a pipe of its own (CONFIG_FD,
 * app/app-config.ts); the supervisor takes it only if a fork made now would have been the same
 * process: the same Node flags and stdin, and an environment that differs only in what is read
 * after Node has booted. Otherwise it is stopped and the app forked as before.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { appNodeFlags } from '../shared/app-flags.js';
import { type AppConfig, type AppLaunch, CONFIG_FD, WAIT_FOR_CONFIG } from '../shared/ipc.js';
import { killQuietly } from '../shared/process-tree.js';
import { shortcutsOn } from '../shared/tty-shortcuts.js';

const APP_MAIN = fileURLToPath(new URL('../app/boot.js', import.meta.url));

/** What an app process is forked with, besides its configuration. */
export interface AppSpawn {
  env: NodeJS.ProcessEnv;
  /** Node flags from devhot's options (--inspect), devhot's own (shared/app-flags.ts) aside. */
  execArgv: readonly string[];
  /** Pipe stdin through the supervisor (shortcuts read it) instead of sharing the terminal's. */
  pipeStdin: boolean;
}

/**
 * Variables Node, libuv, OpenSSL or the dynamic linker read while the process boots (NODE_OPTIONS,
 * NODE_PATH, NODE_EXTRA_CA_CERTS, UV_THREADPOOL_SIZE, ...): set later they would not act, so an
 * environment that changes one is forked with it. NODE_ENV is the user's alone.
 */
const READ_AT_BOOT = /^(NODE_(?!ENV$)|UV_|OPENSSL_|SSL_|LD_|DYLD_|MALLOC)/;

/**
 * The app writes into a pipe (devhot copies it to the terminal): keep its colours on when the
 * terminal has them, as libraries (chalk, picocolors, pino-pretty) read FORCE_COLOR.
 */
export function withTerminalColours(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (process.stdout.isTTY && env.NO_COLOR === undefined && env.FORCE_COLOR === undefined) env.FORCE_COLOR = '1';
  return env;
}

/** The Node flags an app process starts with: devhot's own its environment allows, then devhot's options'. */
const nodeFlags = (spawn: AppSpawn): string[] => [...appNodeFlags(spawn.env), ...spawn.execArgv];

function forkWith(spawn: AppSpawn, appVariable: string, configPipe: boolean): ChildProcess {
  return fork(APP_MAIN, [], {
    env: { ...spawn.env, DEVHOT_APP: appVariable },
    execArgv: nodeFlags(spawn),
    // stdout/stderr pass through the supervisor, so tools can subscribe to the app's output.
    // Then IPC, the watchdog's pipe (WATCHDOG_FD in the app), and the early process's CONFIG_FD.
    stdio: [spawn.pipeStdin ? 'pipe' : 'inherit', 'pipe', 'pipe', 'ipc', 'pipe', ...(configPipe ? ['pipe' as const] : [])],
    // Its own process group, so a stop reaches every process the app started.
    detached: true,
  });
}

let early: { child: ChildProcess; spawn: AppSpawn } | undefined;

/**
 * The command's arguments that mean no app runs (the tool subcommands, help, version) or one this
 * fork would not fit (a debugger flag), before the app's own arguments (`--`). Read before the
 * command is loaded, without its parser: an argument it reads otherwise (`devhot server.ts
 * status`) only means the command forks, once it has parsed them.
 */
const NO_EARLY_APP = new Set(['status', 'events', 'reload', 'restart', '-h', '--help', '-v', '--version']);

/**
 * Fork the first app process from devhot's first module (bin/devhot.js), before the command loads
 * its modules and parses its arguments: the app's boot then starts 15-20 ms sooner on Node 20,
 * where nothing of devhot's is in a compile cache (spawn -> the app process's start 78-123 ms
 * from the command, 65-103 ms from here, 16 starts each, alternating; 2026-12-02). `argv`
 * without node and the script.
 */
export function forkEarlyFor(argv: readonly string[]): void {
  const end = argv.indexOf('--');
  const own = end < 0 ? argv : argv.slice(0, end);
  if (own.some((arg) => NO_EARLY_APP.has(arg) || arg.startsWith('--inspect'))) return;
  forkFirstApp(own.includes('--json'));
}

/** Fork the first app now, as the command line has it (`--json`: no shortcuts, stdin not piped). */
export function forkFirstApp(json: boolean | undefined): void {
  forkEarly({ env: withTerminalColours({ ...process.env }), execArgv: [], pipeStdin: shortcutsOn(undefined, json) });
}

/** Fork the first app process now; `appProcess` takes it if it fits (see above). */
function forkEarly(spawn: AppSpawn): void {
  if (early) return;
  // A failed spawn (EAGAIN, EMFILE) only means the first app is forked the usual way, which says why.
  try {
    const child = forkWith(spawn, WAIT_FOR_CONFIG, true);
    child.on('error', () => {});
    early = { child, spawn };
  } catch {
    early = undefined;
  }
}

/** Stop the early process if nobody took it (devhot exits before its first app). */
export function dropEarly(): void {
  const taken = early;
  early = undefined;
  if (taken?.child.pid) killQuietly(-taken.child.pid);
}

/**
 * An app process for `config`: the early one if it fits `spawn` (it gets its configuration now),
 * else a new fork.
 */
export function appProcess(spawn: AppSpawn, config: AppConfig): ChildProcess {
  const candidate = early;
  early = undefined;
  if (candidate && fits(candidate.child, candidate.spawn, spawn)) {
    const launch: AppLaunch = { config, env: spawn.env as Record<string, string> };
    const pipe = (candidate.child.stdio as unknown as Writable[])[CONFIG_FD]!;
    // A process that died before it read this (a NODE_OPTIONS preload that ends forked
    // processes, say) closed its end: EPIPE. Its exit, with its code, is what devhot reports
    // (app-process.ts); the write's error took devhot down instead.
    pipe.on('error', () => {});
    pipe.end(JSON.stringify(launch));
    return candidate.child;
  }
  if (candidate?.child.pid) killQuietly(-candidate.child.pid);
  return forkWith(spawn, JSON.stringify(config), false);
}

function fits(child: ChildProcess, forked: AppSpawn, wanted: AppSpawn): boolean {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null || !child.connected) return false;
  if (forked.pipeStdin !== wanted.pipeStdin) return false;
  if (nodeFlags(forked).join('\0') !== nodeFlags(wanted).join('\0')) return false;
  const keys = new Set([...Object.keys(forked.env), ...Object.keys(wanted.env)]);
  for (const key of keys) if (forked.env[key] !== wanted.env[key] && READ_AT_BOOT.test(key)) return false;
  return true;
}
