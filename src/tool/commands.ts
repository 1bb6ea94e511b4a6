/**
 * `devhot status | events | reload | restart`: small clients of a running devhot, found through
 * its session file. Each returns the exit code; a missing session throws DEVHOT_ERR_NO_SESSION,
 * which the CLI prints with its fix and turns into exit 1.
 */
import pc from 'picocolors';
import type { AppState, ServerMessage } from '../shared/protocol.js';
import { connect, type DevhotConnection } from './connect.js';

export interface ToolFlags {
  root?: string;
  json?: boolean;
}

export interface ToolIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

const defaultIO: ToolIO = { stdout: process.stdout, stderr: process.stderr };

async function withConnection(flags: ToolFlags, fn: (connection: DevhotConnection) => Promise<number>): Promise<number> {
  const connection = await connect({ root: flags.root });
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

export function statusCommand(flags: ToolFlags, io: ToolIO = defaultIO): Promise<number> {
  return withConnection(flags, async (connection) => {
    const state = await connection.status();
    if (flags.json) {
      io.stdout.write(
        `${JSON.stringify({ version: connection.connected.version, url: connection.session.url, pid: connection.session.pid, root: connection.session.root, state })}\n`,
      );
    } else {
      io.stdout.write(formatStatus(connection, state));
    }
    return 0;
  });
}

function formatStatus(connection: DevhotConnection, state: AppState): string {
  const { session, connected } = connection;
  const colour = state.status === 'running' ? pc.green : state.status === 'error' ? pc.red : pc.yellow;
  const lines = [
    `${pc.bold('devhot')} ${connected.version} (pid ${session.pid}) in ${session.root}`,
    `  app:     ${colour(state.status)}${state.pid === undefined ? '' : ` (pid ${state.pid})`}`,
    `  urls:    ${state.urls.length > 0 ? state.urls.join(', ') : pc.dim('none yet')}`,
    `  channel: ${session.url}`,
  ];
  const error = state.error;
  if (error) {
    const where = error.file
      ? ` at ${error.file}${error.line === undefined ? '' : `:${error.line}${error.column === undefined ? '' : `:${error.column}`}`}`
      : '';
    lines.push(`  error:   ${pc.red(error.message)}${where}`);
    if (error.frame) lines.push(...error.frame.split('\n').map((l) => `    ${l}`));
    if (error.fix) lines.push(`  fix:     ${error.fix}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface EventsFlags extends ToolFlags {
  /** Also print the app's output ('log' messages). */
  logs?: boolean;
}

/**
 * One JSON line per server message, starting with the greeting, until SIGINT (exit 0) or until
 * devhot goes away (exit 1, with a note on stderr).
 */
export async function eventsCommand(flags: EventsFlags, io: ToolIO = defaultIO): Promise<number> {
  const connection = await connect({ root: flags.root });
  const print = (message: ServerMessage) => io.stdout.write(`${JSON.stringify(message)}\n`);
  print(connection.connected);
  connection.on('*', print);
  if (flags.logs) connection.subscribeLogs();
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    void connection.close();
  };
  process.once('SIGINT', onSignal);
  try {
    const { code } = await connection.closed;
    if (interrupted) return 0;
    io.stderr.write(`devhot: the session ended (connection closed, code ${code}).\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
  }
}

export interface ReloadFlags extends ToolFlags {
  /** Re-run every module, not only the entry. */
  all?: boolean;
}

export function reloadCommand(flags: ReloadFlags, io: ToolIO = defaultIO): Promise<number> {
  return requestCommand(flags, io, 'reload', (c) => c.reload(flags.all === true));
}

export function restartCommand(flags: ToolFlags, io: ToolIO = defaultIO): Promise<number> {
  return requestCommand(flags, io, 'restart', (c) => c.restart());
}

function requestCommand(flags: ToolFlags, io: ToolIO, what: string, call: (c: DevhotConnection) => Promise<unknown>): Promise<number> {
  return withConnection(flags, async (connection) => {
    let result: unknown;
    try {
      result = await call(connection);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (flags.json) io.stdout.write(`${JSON.stringify({ ok: false, error: message })}\n`);
      io.stderr.write(`${pc.red(pc.bold('devhot'))} ${pc.red(`${what} failed: ${message}`)}\n`);
      return 1;
    }
    if (flags.json) io.stdout.write(`${JSON.stringify({ ok: true, result: result ?? null })}\n`);
    else io.stdout.write(`${what}: done${result === undefined || result === null ? '' : `\n${JSON.stringify(result, null, 2)}`}\n`);
    return 0;
  });
}
