/**
 * A request handler that throws synchronously (issue #11.11). Under plain node the process dies;
 * devhot keeps the app alive on uncaught errors (the user is editing that handler), so the
 * request used to hang until the client gave up. It gets the answer express's default handler
 * (finalhandler) gives in development instead: 500 (or the error's own 4xx/5xx `status`), the
 * stack in a small HTML page, the same security headers. The error is reported like any
 * uncaught error (listen.ts → main.ts).
 */
import { escapeHtml } from '../shared/escape-html.js';
import http from 'node:http';

/** Answer `res` for the error its handler threw, the way finalhandler does. */
export function answerThrow(req: http.IncomingMessage, res: http.ServerResponse, error: unknown): void {
  if (res.writableEnded) return;
  if (res.headersSent) {
    // Part of another response is out: nothing sensible can follow it on this connection.
    req.socket.destroy();
    return;
  }
  const status = statusOf(error);
  const body = errorPage(process.env.NODE_ENV === 'production' ? (http.STATUS_CODES[status] ?? 'Error') : describe(error));
  for (const name of ['content-encoding', 'content-language', 'content-range']) res.removeHeader(name);
  res.setHeader('Content-Security-Policy', "default-src 'none'");
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body, 'utf8'));
  // writeHead, not statusCode: a writeHead the handler made before throwing may still be held
  // back (inject.ts holds an HTML response's head until end()); this one replaces it.
  res.writeHead(status, http.STATUS_CODES[status]);
  req.resume();
  if (req.method === 'HEAD') res.end();
  else res.end(body, 'utf8');
}

/** An http-errors style `status`/`statusCode` in 400–599, else 500 (finalhandler's rule). */
function statusOf(error: unknown): number {
  const e = error as { status?: unknown; statusCode?: unknown } | null;
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500;
  return Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack || String(error);
  return String(error);
}

function errorPage(message: string): string {
  const escaped = escapeHtml(message).replaceAll('\n', '<br>').replaceAll('  ', ' &nbsp;');
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>${escaped}</pre>\n</body>\n</html>\n`;
}
