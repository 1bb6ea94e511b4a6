/**
 * While no app process can answer (it exited or crashed, its start failed or hung), the
 * supervisor answers HTTP requests on the app's ports itself: a 503 page that says what happened
 * and that a save restarts the app. The page carries the browser client, which reloads it when
 * the app is back, and a meta refresh for when the script cannot run.
 *
 * Only ports an HTTP server of the app has answered on (the app reports them) get the page;
 * connections to other ports wait in the backlog as before. The page listens on spare copies of
 * the sockets (app-slot.ts) and closes them when it stops, which happens before a new app process
 * starts: from then on every connection waits for the app again.
 */
import http from 'node:http';
import type { ListenKey } from '../shared/ipc.js';
import { stripControls } from '../shared/controls.js';
import { escapeHtml } from '../shared/escape-html.js';

export interface FallbackOptions {
  /** The browser client's tag (browser token), so the page reloads when the app is back. */
  clientTag: string;
  /** A server error (EMFILE on accept): reported by the wiring, never fatal. */
  onError(error: NodeJS.ErrnoException): void;
}

/** What the page says, escaped, without control characters (a path or a message from the app). */
function text(value: string): string {
  return escapeHtml(stripControls(value));
}

function page(reason: string, clientTag: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="5">
<title>devhot: the app is not running</title>
</head>
<body style="font-family: system-ui, sans-serif; max-width: 42em; margin: 3em auto; line-height: 1.5">
<h1>The app is not running</h1>
<p>${text(reason)}</p>
<p>Save a file to restart it. This page reloads when the app is back.</p>
<p style="color: #666">Answered by devhot, which holds the app's port meanwhile.</p>
${clientTag}
</body>
</html>
`;
}

export class FallbackPage {
  private readonly servers = new Map<ListenKey, http.Server>();
  private reason = '';

  constructor(private readonly options: FallbackOptions) {}

  /** Answer on these sockets (spare copies, closed by stop()), saying `reason`. */
  serve(sockets: ReadonlyMap<ListenKey, object>, reason: string): void {
    this.reason = reason;
    for (const [key, handle] of sockets) {
      if (this.servers.has(key)) {
        (handle as { close?: () => void }).close?.();
        continue;
      }
      const server = http.createServer((req, res) => this.answer(req, res));
      server.headersTimeout = 5000;
      server.requestTimeout = 10_000;
      server.on('error', (error: NodeJS.ErrnoException) => this.options.onError(error));
      server.listen(handle as never);
      this.servers.set(key, server);
    }
  }

  /**
   * Stop answering; the spare sockets close (the held copies keep the ports). A request the page
   * has accepted still gets its answer (it is sent at once, with `Connection: close`): only idle
   * connections are cut.
   */
  stop(): void {
    for (const server of this.servers.values()) {
      server.close();
      server.closeIdleConnections();
    }
    this.servers.clear();
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.on('error', () => {});
    res.on('error', () => {});
    const body = page(this.reason, this.options.clientTag);
    res.writeHead(503, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
      'Retry-After': '2',
      'X-Content-Type-Options': 'nosniff',
      // The request body is not read: the connection ends with the answer.
      Connection: 'close',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
