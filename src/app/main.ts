/**
 * The app process: where user code runs. The supervisor forks this file with its configuration
 * in DEVHOT_APP, then drives it over IPC (see shared/ipc.ts). It never outlives the supervisor.
 */
import process from 'node:process';
import { realpathSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { createRunner } from '../runner/runner.js';
import { toErrorPayload } from '../runner/error-payload.js';
import type { UpdateResult } from '../shared/results.js';
import type { AppConfig, FromApp, ToApp } from '../shared/ipc.js';
import { hostRuleFor } from '../shared/host-rules.js';
import { installHtmlInjection } from './inject.js';
import { beginUpdate, commitUpdate, inheritHandle, installListenHandover, rollbackUpdate, drainServers, settleBinds } from './listen.js';

const given = JSON.parse(process.env.DEVHOT_APP ?? 'null') as AppConfig | null;
if (!given || typeof process.send !== 'function') {
  process.stderr.write('devhot: this file is started by the devhot command, not by hand.\n');
  process.exit(1);
}
const config: AppConfig = given;
delete process.env.DEVHOT_APP;

const send = (message: FromApp, handle?: object): void => {
  if (process.connected) process.send!(message, handle as never);
};

if (config.inject) installHtmlInjection(config.inject, { hosts: hostRuleFor(config.host) });

installListenHandover(
  {
    keep: (key, handle, url) => send({ type: 'listening', key, url }, handle),
    failed: (key, port, error) => send({ type: 'listen-error', key, port, code: error.code ?? 'ERR', message: error.message }),
    requestError: (error) =>
      send({ type: 'uncaught', error: toErrorPayload(error, { root: config.root, file: undefined, phase: 'evaluate' }) }),
    closedUpgraded: (count, why) => send({ type: 'upgraded-closed', count, why }),
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
  onUpdate: (result) => send({ type: 'late-update', result }),
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

// The supervisor is gone (even `kill -9`): take this process group with us, so no child of the
// app keeps a port or keeps running.
process.on('disconnect', () => {
  try {
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    process.exit(1);
  }
});

/**
 * The restart triggers the supervisor watches for, and the modules outside the root it watches
 * one by one, sent when they change (modules loaded read more).
 */
const rootPrefix = realpathSync(config.root) + sep;
let configFilesSent = '';
function reportConfigFiles(): void {
  const files = [...runner.configFiles].sort();
  const outside = [...runner.modules.keys()].filter((file) => !file.startsWith(rootPrefix)).sort();
  const key = `${files.join('\0')}\n${outside.join('\0')}`;
  if (key === configFilesSent) return;
  configFilesSent = key;
  send({ type: 'config-files', files, outside });
}

async function handleMessage(message: ToApp, handle: object | undefined): Promise<void> {
  switch (message.type) {
    case 'handle':
      if (handle) inheritHandle(message.key, handle);
      return;
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

process.on('message', (message: ToApp, handle?: object) => {
  void handle;
  handleMessage(message, handle).catch((error) => {
    send({ type: 'uncaught', error: toErrorPayload(error, { root: config.root, file: undefined, phase: 'evaluate' }) });
  });
});
