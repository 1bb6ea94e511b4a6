/**
 * Messages between the supervisor and the app process (Node's IPC channel). One union per
 * direction; both sides switch on `type` and end in a `never` check.
 */
import type { ErrorPayload, UpdateResult } from './results.js';
import type { ModuleInfo } from './protocol.js';

/** What the app process is started with (in DEVHOT_APP). */
export interface AppConfig {
  root: string;
  entry: string;
  args: string[];
  cacheDir: string | false;
  tsconfig: string | false | undefined;
  /** How long `shutdown` waits for in-flight requests before giving up (ms). */
  drainTimeout: number;
  /** The browser client's <script> tag to inject into HTML responses, or false. */
  inject: string | false;
  /**
   * The app's watchdog (app/watchdog.ts): after how long a blocked event loop is reported (ms;
   * 0: never, as under a debugger, whose pauses look the same).
   */
  blockedAfter: number;
  /** `--host`: which Host names, besides this machine's, may get the tag (shared/host-rules.ts). */
  host: string;
  /** `--keep-websockets`: a retired server's websockets stay open on the old code. */
  keepWebsockets: boolean;
}

/**
 * The app's watchdog speaks over its own pipe (fd WATCHDOG_FD in the app), not over IPC: IPC is
 * served by the app's main thread, which is the one that may be blocked. One JSON object a line.
 */
export const WATCHDOG_FD = 4;

/**
 * The first app process is forked before the supervisor knows its configuration
 * (supervisor/app-fork.ts): its DEVHOT_APP says WAIT_FOR_CONFIG, and it reads an AppLaunch from
 * fd CONFIG_FD, to its end.
 */
export const WAIT_FOR_CONFIG = 'wait-for-config';
export const CONFIG_FD = 5;

/** What the early app process reads from CONFIG_FD: its configuration and its whole environment. */
export interface AppLaunch {
  config: AppConfig;
  env: Record<string, string>;
}

/** Where the app's main thread was found running: the innermost frame in the project's code. */
export interface StuckAt {
  /** Absolute path of the .ts source (mapped), line and column 1-based. */
  file: string;
  line: number;
  column: number;
}

/** A file outside the root the app read, and a hash of what it read (shared/source-hash.ts). */
export interface OutsideModule {
  file: string;
  hash: string;
}

export type ToWatchdog =
  /** Pause the main thread for a moment and say where it was. */
  { type: 'sample'; id: number };

export type FromWatchdog =
  /** The event loop has not turned for `ms`; `at` is where it runs (undefined: outside JavaScript). */
  | { type: 'blocked'; ms: number; at: StuckAt | undefined }
  /** It turns again, after `ms` blocked. */
  | { type: 'unblocked'; ms: number }
  /** `blocked`: the loop had not turned for a while; otherwise it turns (an await that never ends). */
  | { type: 'sample'; id: number; blocked: boolean; at: StuckAt | undefined };

/** What happened to a file, as the watcher saw it. */
export type ChangeKind = 'add' | 'change' | 'unlink';

/** One saved, created or deleted file (absolute path). */
export interface FileChange {
  file: string;
  kind: ChangeKind;
}

/** A listening address as a key: `host:port`, host empty when none was given (all interfaces). */
export type ListenKey = string;

export type ToApp =
  /** A listening socket the supervisor holds; sent (with the handle) before `start`, and on `want-handle`. */
  | { type: 'handle'; key: ListenKey }
  /** The answer to `want-handle` when the supervisor holds no socket for `key`. */
  | { type: 'no-handle'; key: ListenKey }
  | { type: 'start' }
  /** Apply these saves; each keeps its kind as the watcher saw it (added, changed, deleted). */
  | { type: 'update'; id: number; changes: FileChange[] }
  | { type: 'reload'; id: number; all: boolean }
  /** Stop accepting, let in-flight requests finish, dispose modules, exit. */
  | { type: 'shutdown'; reason: 'restart' | 'exit' }
  | { type: 'event'; event: string; data: unknown }
  /** The module graph, for tools (`graph` request on the channel). */
  | { type: 'graph'; id: number }
  /** Send back a copy of the listening socket of `key` (the supervisor keeps a spare). */
  | { type: 'spare'; key: ListenKey };

export type FromApp =
  | { type: 'started'; result: UpdateResult }
  | { type: 'start-failed'; error: ErrorPayload }
  | { type: 'result'; id: number; result: UpdateResult }
  /** A server listens on a new address; the handle travels with the message. */
  | { type: 'listening'; key: ListenKey; url: string }
  | { type: 'listen-error'; key: ListenKey; port: number; code: string; message: string }
  /** An error nobody caught (thrown in a timer, a rejected promise); the app keeps running. */
  | { type: 'uncaught'; error: ErrorPayload }
  | { type: 'hot-send'; event: string; data: unknown; file: string }
  /** An update the runner started itself (import.meta.hot.invalidate() outside an update). */
  | { type: 'late-update'; result: UpdateResult }
  /**
   * The files whose change needs a new process (the runner's configFiles: the tsconfig chain and
   * every package.json it read), and the source files it read outside the root (a workspace
   * package linked from elsewhere: the watcher follows no link out of the root, so it watches
   * these one by one); sent after the start and whenever either set changes. Each file outside
   * comes with a hash of what the app read: a save between that read and the supervisor's watch
   * would be lost, so the watcher compares (watcher.ts, watchOutside). Sent after `modules`.
   */
  | { type: 'config-files'; files: string[]; outside: OutsideModule[] }
  /**
   * The files of the module graph, sent after the start and whenever the set changes: a save of
   * a file that is in neither this set nor the config files is no reason to run anything.
   */
  | { type: 'modules'; files: string[] }
  /**
   * The app started a process in a session or group of its own (`detached: true`): the group
   * kill misses it, and once the app is gone nothing says whose it was, so the supervisor keeps
   * its pid to stop it with the app whatever way the app ends (a crash or kill -9 included).
   */
  | { type: 'detached'; pid: number }
  /**
   * The app listens again on an address whose server it closed (a graceful restart in the app,
   * a cluster primary's handle after its workers were replaced): the supervisor's copy still
   * holds the port, so a bind would fail where under node it succeeds. It asks for a copy back.
   */
  | { type: 'want-handle'; key: ListenKey }
  /** An HTTP server answered a request on this port (so the supervisor may answer there too). */
  | { type: 'http-port'; port: number }
  /** A copy of the listening socket of `key` travels with it (after `spare`). */
  | { type: 'spare'; key: ListenKey }
  /**
   * Websockets of servers that were replaced (by an update, or before a process restart) were
   * closed with 1012 so their clients reconnect to the new code.
   */
  | { type: 'upgraded-closed'; count: number; why: 'update' | 'restart' }
  /** After `shutdown`: the servers stopped accepting and their requests finished (or timed out). */
  | { type: 'drained' }
  | { type: 'graph'; id: number; modules: ModuleInfo[] };

export function listenKey(host: string | undefined, port: number): ListenKey {
  return `${host ?? ''}:${port}`;
}

/** The host ('' for every address) and port of a listen key. */
export function parseListenKey(key: ListenKey): { host: string; port: number } {
  const colon = key.lastIndexOf(':');
  return { host: key.slice(0, colon), port: Number(key.slice(colon + 1)) };
}
