/**
 * The app process: where user code runs. The supervisor forks it with its configuration in
 * DEVHOT_APP, or the first one early with it to come on a pipe (app-config.ts), then drives it
 * over IPC (see shared/ipc.ts). It never outlives the supervisor.
 */
import module from 'node:module';
import process from 'node:process';
import { given, startedByDevhot } from './app-config.js';
import { relative } from 'node:path';
import { createRunner } from '../runner/runner.js';
import { toErrorPayload } from '../runner/error-payload.js';
import type { UpdateResult } from '../shared/results.js';
import type { AppConfig, FromApp, ListenKey, ToApp } from '../shared/ipc.js';
import { hostRuleFor } from '../shared/host-rules.js';
import { installHtmlInjection } from './inject.js';
import {
  beginUpdate,
  commitUpdate,
  inheritHandle,
  installListenHandover,
  noHandle,
  rollbackUpdate,
  drainServers,
  settleBinds,
} from './listen.js';
import { startWatchdog } from './watchdog.js';
import { trackDetachedChildren } from './detached.js';
import { killTree } from '../shared/process-tree.js';

if (!given || typeof process.send !== 'function') {
  // An early process devhot did not take ends quietly.
  if (startedByDevhot) process.exit(0);
  process.stderr.write('devhot: this file is started by the devhot command, not by hand.\n');
  process.exit(1);
}
const config: AppConfig = given;

const send = (message: FromApp, handle?: object): void => {
  if (process.connected) process.send!(message, handle as never);
};

// First, so that it guards even a start that never ends.
startWatchdog({ root: config.root, blockedAfter: config.blockedAfter });
trackDetachedChildren((pid) => send({ type: 'detached', pid }));

if (config.inject) installHtmlInjection(config.inject, { hosts: hostRuleFor(config.host) });

/** Ports an HTTP server has answered on (said to the supervisor once each). */
const httpPorts = new Set<number>();
/** The listening sockets this process has (received or bound), so it can send the supervisor a copy. */
const sockets = new Map<ListenKey, object>();

installListenHandover(
  {
    keep: (key, handle, url) => {
      sockets.set(key, handle);
      send({ type: 'listening', key, url }, handle);
      // And a spare copy for the fallback page, with it: asked for by the supervisor instead, it
      // was missing when the app crashed right after its first request (the ask came later).
      send({ type: 'spare', key }, handle);
    },
    failed: (key, port, error) => send({ type: 'listen-error', key, port, code: error.code ?? 'ERR', message: error.message }),
    requestError: (error) =>
      send({ type: 'uncaught', error: toErrorPayload(error, { root: config.root, file: undefined, phase: 'evaluate' }) }),
    closedUpgraded: (count, why) => send({ type: 'upgraded-closed', count, why }),
    // The first request an HTTP server answers on a port tells the supervisor that port speaks
    // HTTP: while no app process runs, it may answer there itself (a 503 page), and leaves other
    // ports' connections waiting in the backlog.
    want: (key) => send({ type: 'want-handle', key }),
    httpPort: (port) => {
      if (httpPorts.has(port)) return;
      httpPorts.add(port);
      send({ type: 'http-port', port });
    },
  },
  { closeUpgraded: !config.keepWebsockets },
);

const runner = createRunner({
  root: config.root,
  entry: config.entry,
  args: config.args,
  cacheDir: config.cacheDir,
  tsconfig: config.tsconfig,
  // A package's import() or require() of a project file, forked children and workers run the
  // project's TypeScript (issue #10.3, #10.4); what replaced code started is stopped (#10.6).
  nativeLoads: true,
  ownResources: true,
  onHotSend: (event, data, file) => send({ type: 'hot-send', event, data, file }),
  // An import() at run time, of a file outside the root say: watched from the next turn.
  onLoad: reportSoon,
  onUpdate: (result) => {
    send({ type: 'late-update', result });
    reportConfigFiles();
  },
});

/** Run an update with the listen hand-over bracketing it: commit or give the sockets back. */
async function bracket(run: () => Promise<UpdateResult>): Promise<UpdateResult> {
  beginUpdate();
  let result: UpdateResult;
  try {
    result = await run();
  } catch (error) {
    rollbackUpdate();
    throw error;
  }
  if (result.status === 'applied') commitUpdate();
  else rollbackUpdate();
  return result;
}

/** Every request gets its result: a throw inside devhot becomes an error result, not silence. */
async function answer(files: string[], run: () => Promise<UpdateResult>): Promise<UpdateResult> {
  try {
    return await bracket(run);
  } catch (error) {
    return {
      status: 'error',
      phase: 'evaluate',
      error: toErrorPayload(error, { root: config.root, file: undefined, phase: 'evaluate' }),
      files,
      duration: 0,
    };
  }
}

// An error nobody catches is reported and the app keeps serving: one bad request handler or
// timer must not take the whole server down while the user is editing it.
process.on('uncaughtException', (error) => {
  send({ type: 'uncaught', error: toErrorPayload(error, { root: config.root, file: undefined, phase: 'evaluate' }) });
});
process.on('unhandledRejection', (reason) => {
  send({ type: 'uncaught', error: toErrorPayload(reason, { root: config.root, file: undefined, phase: 'evaluate' }) });
});

// The supervisor is gone: take every process the app started with us, so none keeps a port or
// keeps running. This handler needs the main thread; the watchdog (watchdog-worker.ts) does the
// same when the main thread is blocked, and for `kill -9` of devhot.
process.on('disconnect', () => {
  killTree(process.pid);
  process.exit(1);
});

/**
 * What the supervisor decides saves by, sent when it changes (modules loaded read more): the
 * graph's files, then the restart triggers and the source files read outside the root (watched
 * one by one). The graph first: a change the watcher finds on taking a file outside (watcher.ts,
 * watchOutside) is judged against it.
 */
let configFilesSent = '';
let modulesSent = new Set<string>();
function reportConfigFiles(): void {
  const files = [...runner.configFiles].sort();
  // The graph's files: a save of anything else (a log the app writes, devhot's own output
  // redirected into the project) runs nothing. Compared by lookups, not sorted: ~50 µs for 3,000
  // modules when nothing changed, after the result is sent.
  if (!sameFiles(runner.modules, modulesSent)) {
    modulesSent = new Set(runner.modules.keys());
    send({ type: 'modules', files: [...modulesSent] });
  }
  const outside = [...runner.outsideSources.keys()].sort();
  const key = `${files.join('\0')}\n${outside.join('\0')}`;
  if (key !== configFilesSent) {
    configFilesSent = key;
    send({ type: 'config-files', files, outside: outside.map((file) => ({ file, hash: runner.outsideSources.get(file)! })) });
  }
}

/** After code loaded modules outside an update (an import() in a request handler): once per turn. */
let reportQueued = false;
function reportSoon(): void {
  if (reportQueued) return;
  reportQueued = true;
  setImmediate(() => {
    reportQueued = false;
    reportConfigFiles();
  });
}

function sameFiles(files: ReadonlyMap<string, unknown>, sent: ReadonlySet<string>): boolean {
  if (files.size !== sent.size) return false;
  for (const file of files.keys()) if (!sent.has(file)) return false;
  return true;
}

async function handleMessage(message: ToApp, handle: object | undefined): Promise<void> {
  switch (message.type) {
    case 'handle':
      if (handle) {
        sockets.set(message.key, handle);
        inheritHandle(message.key, handle);
      }
      return;
    case 'no-handle':
      noHandle(message.key);
      return;
    case 'spare': {
      // A copy for the supervisor: the socket stays listening here.
      const socket = sockets.get(message.key);
      if (socket) send({ type: 'spare', key: message.key }, socket);
      return;
    }
    case 'start':
      try {
        const result = await bracket(() => runner.start());
        await settleBinds(1000);
        send({ type: 'started', result });
      } catch (error) {
        send({ type: 'start-failed', error: toErrorPayload(error, { root: config.root, file: undefined, phase: 'evaluate' }) });
      }
      reportConfigFiles();
      return;
    case 'update':
      send({
        type: 'result',
        id: message.id,
        result: await answer(
          message.changes.map((c) => c.file),
          () => runner.update(message.changes),
        ),
      });
      reportConfigFiles();
      return;
    case 'reload':
      send({ type: 'result', id: message.id, result: await answer([], () => runner.reload({ all: message.all })) });
      reportConfigFiles();
      return;
    case 'shutdown':
      await drainServers(config.drainTimeout, message.reason === 'exit');
      await runner.close().catch(() => {});
      flushCompileCache();
      send({ type: 'drained' });
      return;
    case 'event':
      runner.dispatch(message.event, message.data);
      return;
    case 'graph': {
      const rel = (file: string) => relative(config.root, file) || file;
      const modules = [...runner.modules.values()].map((node) => ({
        file: rel(node.file),
        importers: [...node.importers].map((n) => rel(n.file)),
        imports: [...node.imports].map((n) => rel(n.file)),
      }));
      send({ type: 'graph', id: message.id, modules });
      return;
    }
    default: {
      const unknown: never = message;
      void unknown;
    }
  }
}

/**
 * Node writes its compile cache (turned on in boot.ts) when a process exits by itself, and the
 * app never does: the supervisor ends it with a signal after this drain, on a restart and when
 * devhot exits. Without this, devhot's own bundle and the app's packages were compiled again at
 * every start and restart (Node 22: `NODE_DEBUG_NATIVE=COMPILE_CACHE` showed main.js's entry
 * never rewritten after a rebuild). Spawn -> first response of the NestJS bench's project, warm,
 * 614 -> 523 ms on Node 24 and 731 -> 610 ms on Node 22 (start-pairs --project nest, 8 pairs,
 * 2026-12-01). `module.flushCompileCache`: Node >= 22.10 and 23.0.
 */
function flushCompileCache(): void {
  try {
    (module as { flushCompileCache?: () => void }).flushCompileCache?.();
  } catch {
    // Only a head start for the next process.
  }
}

process.on('message', (message: ToApp, handle?: object) => {
  void handle;
  handleMessage(message, handle).catch((error) => {
    send({ type: 'uncaught', error: toErrorPayload(error, { root: config.root, file: undefined, phase: 'evaluate' }) });
  });
});
