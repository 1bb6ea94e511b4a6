/**
 * The supervisor: the `devhot` process. It never runs user code. It watches files, owns the
 * listening sockets, starts the app process and climbs the reload ladder for each save:
 * hot update / entry re-execution inside the app, or a zero-downtime process restart.
 */
import { basename, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../config.js';
import { readEnvFiles } from '../config.js';
import type { Logger } from '../logger.js';
import type { ErrorPayload, UpdateResult } from '../shared/results.js';
import type { FromApp, ListenKey } from '../shared/ipc.js';
import { AppProcess, type StartOutcome } from './app-process.js';
import { createWatcher, type ChangeKind, type Watcher } from './watcher.js';
import { createChannel, type Channel } from './channel.js';
import { ChannelBridge } from './channel-bridge.js';
import { isExposed } from './channel-guard.js';

/** The built browser client the channel serves. */
const CLIENT_FILE = fileURLToPath(new URL('../../client/client.js', import.meta.url));

export interface SupervisorOptions {
  config: ResolvedConfig;
  logger: Logger;
  version: string;
  /** Called for every update result and restart (the channel listens here). */
  onEvent?: (event: SupervisorEvent) => void;
}

export type SupervisorEvent =
  | { type: 'update'; result: UpdateResult }
  | { type: 'restart'; phase: 'starting' | 'ready' | 'failed'; reason: string }
  | { type: 'hot-send'; event: string; data: unknown; file: string }
  | { type: 'uncaught'; message: string };

export interface Supervisor {
  /** URLs the app listens on. */
  readonly urls: string[];
  /** The current app process id (tests and tools). */
  readonly appPid: number | undefined;
  restart(reason: string): Promise<void>;
  /** Pass a line the user typed on to the app's stdin. */
  forwardStdin(text: string): void;
  reload(all?: boolean): Promise<UpdateResult | undefined>;
  /** Stop the app (gracefully), release the sockets, stop watching. Idempotent. */
  close(): Promise<void>;
}

/** Files whose change cannot be applied in-process. */
function restartReason(file: string, config: ResolvedConfig): string | undefined {
  const rel = relative(config.root, file) || file;
  if (config.envFiles.includes(file)) return `${rel} changed`;
  if (config.configFile === file) return `${rel} (devhot config) changed`;
  const name = basename(file);
  if (name === 'package.json') return `${rel} changed`;
  if (/^tsconfig.*\.json$/.test(name)) return `${rel} changed`;
  if (extname(file) === '.node') return `native addon ${rel} changed`;
  return undefined;
}

/** Files browsers use directly: a change goes to the channel, not to the app. */
const BROWSER_EXTENSIONS = new Set(['.css', '.html', '.htm']);

const SOURCE_EXTENSIONS = new Set(['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs', '.json']);

export async function startSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  const { config, logger } = options;
  const t0 = performance.now();
  const handles = new Map<ListenKey, object>();
  const urls = new Map<ListenKey, string>();
  let app: AppProcess | undefined;
  let closed = false;
  let busy = false;
  const pending = new Map<string, ChangeKind>();
  /** A restart that failed to start a new process; the next save tries it again. */
  let restartOwed: string | undefined;
  let crashCount = 0;

  // The channel exists before the app starts, so the app can inject its script tag.
  let channel: Channel | undefined;
  const bridge = new ChannelBridge(config.root, { broadcast: (message) => channel?.broadcast(message) });
  const emit = (event: SupervisorEvent) => {
    options.onEvent?.(event);
    if (event.type === 'update') bridge.update(event.result);
    else if (event.type === 'restart') {
      const running = app && !app.exited;
      bridge.restart(event.phase, event.reason, { pid: running ? app!.pid : undefined, ...(running ? {} : { status: 'stopped' as const }) });
    }
    else if (event.type === 'hot-send') channel?.broadcast({ type: 'custom', event: event.event, data: event.data });
  };
  channel = await createChannel({
    root: config.root,
    version: options.version,
    host: config.host,
    port: config.channelPort,
    allowedHosts: isExposed(config.host) ? [config.host] : [],
    // The guard treats localhost and the loopback IPs on one port as the same origin.
    appOrigins: () => [...urls.values()].map((url) => new URL(url).origin),
    sessionFile: join(config.root, 'node_modules', '.devhot', 'session.json'),
    clientFile: CLIENT_FILE,
    handlers: {
      state: () => bridge.state(),
      graph: async () => (app && !app.exited ? app.graph() : []),
      reload: async (all) => {
        const result = await api.reload(all);
        if (result?.status === 'error') throw new Error(`reload failed (${result.phase}): ${result.error.message}`);
        return result;
      },
      restart: () => api.restart('restart requested by a tool'),
      custom: (event, data) => app?.send({ type: 'event', event, data }),
    },
  });
  if (isExposed(config.host)) {
    logger.log({ event: 'warn', message: `the channel listens on ${config.host}: other machines can reach it (they still need the session token)` });
  }

  const appConfig = {
    root: config.root,
    entry: config.entry,
    args: [...config.args],
    cacheDir: config.cacheDir,
    tsconfig: config.tsconfig,
    drainTimeout: config.killTimeout,
    inject: config.inject ? channel.scriptTag() : (false as const),
  };

  function spawnApp(): AppProcess {
    // The tag is in the environment too, for templates that add it themselves (--no-inject).
    const env: NodeJS.ProcessEnv = { ...process.env, ...readEnvFiles(config.envFiles), DEVHOT_CLIENT_TAG: channel!.scriptTag() };
    // The app writes into a pipe (devhot copies it to the terminal): keep its colours on when
    // the terminal has them, as libraries (chalk, picocolors, pino-pretty) read FORCE_COLOR.
    if (process.stdout.isTTY && env.NO_COLOR === undefined && env.FORCE_COLOR === undefined) env.FORCE_COLOR = '1';
    const proc: AppProcess = new AppProcess({
      config: appConfig,
      env,
      execArgv: config.execArgv,
      handles,
      pipeStdin: config.shortcuts,
      onListening(key, url, handle) {
        if (handle && !handles.has(key)) handles.set(key, handle);
        if (!urls.has(key)) {
          urls.set(key, url);
          bridge.set({ urls: [...urls.values()] });
          if (started) logger.log({ event: 'info', message: `listening on ${url}` });
        }
      },
      onMessage: (message) => onAppMessage(message),
      onOutput: (stream, chunk) => channel?.log(stream, chunk.toString('utf8')),
      onExit(code, signal) {
        if (proc !== app || closed || stopping.has(proc)) return;
        bridge.set({ status: 'stopped', pid: undefined });
        logger.log({ event: 'exit', code, signal, reason: config.restartOnCrash ? 'restarting' : 'waiting for a change to restart it' });
        if (config.restartOnCrash) {
          const wait = Math.min(5000, 100 * 2 ** crashCount++);
          setTimeout(() => enqueueRestart('the app exited').catch(() => {}), wait).unref();
        }
      },
    });
    return proc;
  }

  function onAppMessage(message: FromApp): void {
    switch (message.type) {
      case 'listen-error':
        reportError('listen', {
            code: message.code === 'EADDRINUSE' ? 'DEVHOT_ERR_PORT_IN_USE' : message.code,
            message: message.code === 'EADDRINUSE' ? `Port ${message.port} is already in use by another process` : message.message,
            fix: message.code === 'EADDRINUSE' ? `Stop the process using port ${message.port} (\`lsof -i :${message.port}\`), or listen on another port.` : 'Check the address the app listens on.',
        });
        return;
      case 'uncaught':
        reportError('uncaught', message.error);
        emit({ type: 'uncaught', message: message.error.message });
        return;
      case 'hot-send':
        emit({ type: 'hot-send', event: message.event, data: message.data, file: message.file });
        return;
      case 'late-update':
        logger.log({ event: 'update', result: message.result });
        emit({ type: 'update', result: message.result });
        return;
      default:
        return;
    }
  }

  function reportError(source: 'update' | 'start' | 'uncaught' | 'listen', error: ErrorPayload): void {
    logger.log({ event: 'error', source, error });
    bridge.error(source, error);
  }

  /** Processes being stopped; close() waits for every one, so none outlives devhot. */
  const stopping = new Map<AppProcess, Promise<void>>();
  function stopApp(proc: AppProcess, reason: 'restart' | 'exit'): Promise<void> {
    let stop = stopping.get(proc);
    if (!stop) {
      // Forgotten once stopped ('exit', which onExit checks against this map, fires before).
      stop = proc.stop(config.signal, config.killTimeout, reason).finally(() => stopping.delete(proc));
      stopping.set(proc, stop);
    }
    return stop;
  }

  /** Start a new process; on success retire the old one, on failure keep it (if alive). */
  /** Start a new process; on success retire the old one, on failure keep it (if alive). */
  async function restart(reason: string): Promise<boolean> {
    const tr = performance.now();
    logger.log({ event: 'restart', phase: 'starting', reason });
    emit({ type: 'restart', phase: 'starting', reason });
    const old = app;
    // A debugger port cannot be shared: with --inspect the old process goes first. The
    // sockets stay open in this process meanwhile, so connections wait rather than fail.
    if (old && config.inspect) await stopApp(old, 'restart');
    const next = spawnApp();
    // `app` stays the old process until the new one has started: if the new one exits while
    // starting, that is a failed restart (handled below), not a crash of the running app.
    const outcome = await next.start();
    if (outcome.ok) {
      app = next;
      restartOwed = undefined;
      crashCount = 0;
      if (old && !old.exited) void stopApp(old, 'restart');
      logger.log({ event: 'restart', phase: 'ready', reason, ms: performance.now() - tr });
      emit({ type: 'restart', phase: 'ready', reason });
      return true;
    }
    reportStartFailure(outcome);
    if (old && !old.exited) {
      // The previous process still serves: keep it, drop the new one, try again on the next save.
      await stopApp(next, 'exit');
      restartOwed = reason;
      logger.log({ event: 'restart', phase: 'failed', reason: 'the previous process keeps serving; the next save retries' });
    } else {
      // Nothing else runs: keep the new process (alive, it retries its start on the next save).
      app = next;
      logger.log({ event: 'restart', phase: 'failed', reason: 'waiting for a change' });
    }
    emit({ type: 'restart', phase: 'failed', reason });
    return false;
  }

  function reportStartFailure(outcome: StartOutcome): void {
    if (outcome.ok) return;
    if (outcome.error) reportError('start', outcome.error);
  }

  let queue: Promise<unknown> = Promise.resolve();
  /** One thing at a time (updates, restarts, reloads); the caller gets the task's own outcome. */
  function serial<T>(task: () => Promise<T>): Promise<T> {
    const run = queue.then(task, task);
    queue = run.catch((error) => logger.log({ event: 'warn', message: `internal error: ${(error as Error).stack ?? error}` }));
    return run;
  }
  /** Resolves true when the new process serves; false when it failed (already reported). */
  const enqueueRestart = (reason: string) => serial(() => (closed ? Promise.resolve(false) : restart(reason)));

  function onBatch(files: Map<string, ChangeKind>): void {
    for (const [file, kind] of files) pending.set(file, kind);
    if (!busy) serial(drain).catch(() => {}); // logged by serial()
  }

  /** Apply everything saved so far as one update; saves made meanwhile form the next one. */
  async function drain(): Promise<void> {
    busy = true;
    try {
      while (pending.size > 0 && !closed) {
        const batch = [...pending.keys()];
        pending.clear();
        const touchesSource = batch.some((f) => SOURCE_EXTENSIONS.has(extname(f)));
        // An owed restart is retried by a save that may fix it (source, or a restart trigger),
        // not by any file written in the project: a log or pid file the old app keeps writing
        // (or devhot's own `--json > out.txt`) retried the failing restart in an endless loop.
        const trigger = batch.map((f) => restartReason(f, config)).find(Boolean) ?? (touchesSource ? restartOwed : undefined);
        if (trigger) {
          // Editors and shells truncate, then write: let the file settle before reading it.
          await new Promise((resolve) => setTimeout(resolve, 50));
          pending.clear();
          await restart(trigger);
          continue;
        }
        if (!app || app.exited || !config.hot) {
          // Restart-only mode (like tsx watch), or nothing runs to update: a new process.
          if (touchesSource) await restart(!config.hot ? `${relative(config.root, batch[0]!)} changed` : 'the app had exited');
          continue;
        }
        // Stylesheets and templates are not modules: browsers swap or reload, the app is untouched.
        const browserOnly = batch.filter((f) => BROWSER_EXTENSIONS.has(extname(f)));
        for (const file of browserOnly) {
          const rel = relative(config.root, file);
          if (extname(file) === '.css') channel?.broadcast({ type: 'css-update', path: rel, timestamp: Date.now() });
          else channel?.broadcast({ type: 'full-reload', reason: `${rel} changed` });
          logger.log({ event: 'info', message: `${extname(file) === '.css' ? 'css update' : 'page reload'} ${rel}` });
        }
        const forApp = batch.filter((f) => !BROWSER_EXTENSIONS.has(extname(f)));
        if (forApp.length === 0) continue;
        logger.clear();
        const result = await app!.update(forApp);
        if (result.status !== 'unchanged' || config.json) logger.log({ event: 'update', result });
        emit({ type: 'update', result });
        if (result.status === 'needs-restart') await restart(result.reason);
      }
    } finally {
      busy = false;
    }
  }

  let started = false;
  app = spawnApp();
  const watcher: Watcher = createWatcher({
    root: config.root,
    include: config.include,
    exclude: config.exclude,
    extraFiles: [...config.envFiles, ...(config.configFile ? [config.configFile] : [])],
    delay: config.delay,
    onBatch,
    onError: (error) => logger.log({ event: 'warn', message: `watcher: ${error.message}` }),
  });
  const [outcome] = await Promise.all([app.start(), watcher.ready]);
  started = true;
  bridge.set({ status: outcome.ok ? 'running' : app.exited ? 'stopped' : 'error', pid: app.exited ? undefined : app.pid });
  if (!outcome.ok) reportStartFailure(outcome);
  logger.log({ event: 'start', version: options.version, readyMs: performance.now() - t0, urls: [...urls.values()], entry: config.entry, channel: channel.url });
  if (outcome.ok && outcome.result.status === 'applied') {
    for (const message of outcome.result.warnings) logger.log({ event: 'warn', message });
  }
  if (!config.inject) {
    logger.log({ event: 'info', message: `browser client not injected (--no-inject); add process.env.DEVHOT_CLIENT_TAG to your pages: ${channel.scriptTag()}` });
  }
  if (!outcome.ok && outcome.exited) {
    logger.log({ event: 'exit', code: null, signal: null, reason: 'the app exited while starting; waiting for a change' });
  }

  let closing: Promise<void> | undefined;
  const api: Supervisor = {
    get urls() {
      return [...urls.values()];
    },
    get appPid() {
      return app?.pid;
    },
    async restart(reason) {
      if (!(await enqueueRestart(reason))) {
        throw new Error(`the restart (${reason}) failed: the new process did not start; ${app && !app.exited ? 'the previous one keeps serving' : 'no app is running'}`);
      }
    },
    forwardStdin(text) {
      app?.child.stdin?.write(text);
    },
    async reload(all = false) {
      const result = await serial(async (): Promise<UpdateResult | undefined> => {
        if (!app || app.exited) {
          await restart('reload requested, the app was not running');
          return undefined;
        }
        const reloaded = await app.reload(all);
        logger.log({ event: 'update', result: reloaded });
        emit({ type: 'update', result: reloaded });
        return reloaded;
      });
      // As after a save: what cannot be applied in-process gets a new process.
      if (result?.status === 'needs-restart') await api.restart(result.reason);
      return result;
    },
    close() {
      closing ??= (async () => {
        closed = true;
        await watcher.close().catch(() => {});
        // An update that never ends (a top-level await that hangs) must not hold the exit:
        // stopping the app below ends whatever request is still waiting for it.
        await Promise.race([queue.catch(() => {}), new Promise((resolve) => setTimeout(resolve, config.killTimeout).unref())]);
        // Processes retired by a restart may still be draining keep-alive connections: at exit
        // nobody is left to serve, so they get the signal now.
        for (const proc of stopping.keys()) if (proc !== app) proc.hurry();
        if (app) void stopApp(app, 'exit');
        await Promise.all(stopping.values());
        for (const handle of handles.values()) (handle as { close?: () => void }).close?.();
        handles.clear();
        await channel?.close();
      })();
      return closing;
    },
  };
  return api;
}

