/**
 * The app process's configuration. A process the supervisor forked with it finds it in
 * DEVHOT_APP; the first one, forked early (supervisor/app-fork.ts), reads it from CONFIG_FD with
 * the whole environment it is to have, while Node loads the rest of the app's modules. None of
 * those reads the environment as it loads, so user code sees exactly the environment it would
 * have been forked with.
 */
import { Socket } from 'node:net';
import process from 'node:process';
import { type AppConfig, type AppLaunch, CONFIG_FD, WAIT_FOR_CONFIG } from '../shared/ipc.js';

async function readLaunch(): Promise<AppConfig | null> {
  const pipe = new Socket({ fd: CONFIG_FD, readable: true, writable: false });
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of pipe) chunks.push(chunk as Buffer);
  } catch {
    return null; // the supervisor went away
  }
  pipe.destroy();
  // Empty: the supervisor exited without taking this process (`dropEarly`, or a crash).
  if (chunks.length === 0) return null;
  const launch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AppLaunch;
  for (const key of Object.keys(process.env)) if (!Object.hasOwn(launch.env, key)) delete process.env[key];
  Object.assign(process.env, launch.env);
  return launch.config;
}

const variable = process.env.DEVHOT_APP;
delete process.env.DEVHOT_APP;

/** Whether devhot forked this process (with or without its configuration yet). */
export const startedByDevhot = variable !== undefined && typeof process.send === 'function';

/** Null when this file was not started by devhot, or devhot went away before it said. */
export const given: AppConfig | null =
  variable === WAIT_FOR_CONFIG ? await readLaunch() : (JSON.parse(variable ?? 'null') as AppConfig | null);
