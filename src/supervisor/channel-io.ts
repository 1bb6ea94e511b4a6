/**
 * The channel's plumbing on raw sockets and files: refusing an upgrade with a plain HTTP
 * response, small text/JSON responses, listening with errors users can act on, and the session
 * file (mode 0600, written atomically, removed only by its owner).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { DevhotError, ErrorCodes } from '../errors.js';
import type { SessionFile } from '../shared/protocol.js';
import { stripControls, withoutControls } from '../shared/controls.js';

export function refuseSocket(socket: Duplex, status: number, message: string): void {
  const body = `${stripControls(message)}\n`;
  const head = [
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  try {
    if (!socket.writable) return void socket.destroy();
    socket.once('finish', () => socket.destroy());
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
    // A peer that does not read its refusal must not keep the socket.
    setTimeout(() => socket.destroy(), 1000).unref();
  } catch {
    socket.destroy();
  }
}

export function text(res: http.ServerResponse, status: number, message: string, headers: http.OutgoingHttpHeaders = {}): void {
  const body = `${stripControls(message)}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

export function json(res: http.ServerResponse, status: number, value: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify(withoutControls(value));
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

/** A failure to listen, as an error that names the host or port and what to do. */
function listenError(error: NodeJS.ErrnoException, port: number, host: string): Error {
  if (error.code === 'EADDRINUSE') {
    return new DevhotError(ErrorCodes.PORT_IN_USE, `devhot's channel cannot listen on ${host}:${port}: the port is already in use.`, {
      fix: `stop the process holding port ${port}, or choose another channel port (0 picks a free one).`,
      cause: error,
    });
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
    return new DevhotError(
      ErrorCodes.BAD_OPTION,
      `devhot's channel cannot listen on host '${host}': it is not an address of this machine.`,
      {
        fix: 'pass --host with a local address or name (127.0.0.1, localhost, 0.0.0.0 to expose).',
        cause: error,
      },
    );
  }
  if (error.code === 'EACCES') {
    return new DevhotError(ErrorCodes.BAD_OPTION, `devhot's channel may not listen on ${host}:${port} (permission denied).`, {
      fix: 'choose a port above 1023, or 0 for a free one.',
      cause: error,
    });
  }
  return error;
}

/** `onError`: what happens to errors once it listens (EMFILE on accept); never fatal. */
export function listen(server: http.Server, port: number, host: string, onError: (error: Error) => void = () => {}): Promise<void> {
  return new Promise((resolve, reject) => {
    // One handler for both outcomes ('listening' passes no argument), removed by whichever comes.
    const done = (error?: NodeJS.ErrnoException) => {
      server.off('error', done);
      server.off('listening', done);
      if (error) return reject(listenError(error, port, host));
      // From here on a server error (EMFILE on accept) is not fatal to the supervisor.
      server.on('error', onError);
      resolve();
    };
    server.once('error', done);
    server.once('listening', done);
    server.listen(port, host);
  });
}

/** Written to a temp file with mode 0600 and renamed into place, so a reader never sees half of it. */
export function writeSessionFile(file: string, session: SessionFile): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/** Removes the file only if it is still ours: a second devhot in the same root may have replaced it. */
export function removeSessionFile(file: string, token: string): void {
  try {
    const current = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<SessionFile>;
    if (current.token === token) fs.rmSync(file, { force: true });
  } catch {
    // Already gone, or not ours to judge: leave it.
  }
}
