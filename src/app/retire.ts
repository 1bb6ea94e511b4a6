/**
 * How a server that no longer accepts on its socket winds down (listen.ts decides when): gently,
 * so that no client of its open connections sees a reset. Whoever closes it afterwards (a NestJS
 * app devhot closes once its successor took over) closes it as gently.
 */
import http from 'node:http';
import net from 'node:net';
import { SERVER_RETIRED } from '../shared/server-retired.js';
import { closeUpgraded } from './upgraded.js';

export interface RetireOptions {
  /** The server that answers in its place now (in-process), looked up at each request. */
  successor?: (() => net.Server | undefined) | undefined;
  /** Where a request reaches whoever accepts on the socket now (another process). */
  forwardTo?: Target | undefined;
  /** The close code for its websockets, or null to keep them. */
  websockets: number | null;
}

const retiredServers = new WeakSet<net.Server>();

/** Whether retire() retired the server (its close() must then not close idle connections). */
export function isRetired(server: net.Server): boolean {
  return retiredServers.has(server);
}

/**
 * Retire a server that no longer owns its socket. It accepts nothing new. Its idle keep-alive
 * connections are NOT closed from this side: a client may be sending on one at that instant,
 * and it would see a reset. Instead the next request on such a connection is answered by the
 * successor's handlers (in-process: the new code) with `Connection: close`, so the client
 * moves to a new connection by itself; the server closes once its connections are done. Its
 * websockets are closed with `websockets` (1012 for a reload, or kept with --keep-websockets):
 * how many is returned.
 */
export function retire(server: net.Server, how: RetireOptions): number {
  const { successor, forwardTo, websockets } = how;
  retiredServers.add(server);
  server.emit(SERVER_RETIRED);
  const closed = websockets === null ? 0 : closeUpgraded(server, websockets);
  if (!(server instanceof http.Server)) {
    server.close();
    return closed;
  }
  // http.Server#close() closes idle connections too (Node ≥ 19); net.Server#close() does not.
  net.Server.prototype.close.call(server);
  const checking = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connectionsCheckingInterval');
  server.once('close', () => {
    // What http.Server#close() would have cleared; left running it would pin the old server.
    if (checking) clearInterval((server as unknown as Record<symbol, NodeJS.Timeout>)[checking]);
  });
  const previous = server.listeners('request') as Array<(req: http.IncomingMessage, res: http.ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.shouldKeepAlive = false;
    const next = successor?.();
    if (next && next !== server && next.listenerCount('request') > 0) next.emit('request', req, res);
    else if (forwardTo)
      forward(req, res, forwardTo, () => {
        for (const l of previous) l.call(server, req, res);
      });
    else for (const listener of previous) listener.call(server, req, res);
  });
  return closed;
}

export interface Target {
  host: string;
  port: number;
}

/** Headers that belong to one connection, not to the message (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

/**
 * A process being replaced answers a request that arrives on one of its old keep-alive
 * connections by passing it to the listening socket, which the new process now accepts on: the
 * client gets the new code's response (a browser reloading right after a restart must not get
 * the old page), then `Connection: close` moves it to a new connection. If nothing answers
 * there, the old handlers answer, as they would have anyway.
 */
function forward(req: http.IncomingMessage, res: http.ServerResponse, target: Target, fallback: () => void): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  }
  const upstream = http.request(
    { host: target.host, port: target.port, method: req.method, path: req.url, headers, agent: false },
    (answer) => {
      const raw: string[] = [];
      for (let i = 0; i < answer.rawHeaders.length; i += 2) {
        if (!HOP_BY_HOP.has(answer.rawHeaders[i]!.toLowerCase())) raw.push(answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!);
      }
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, raw);
      answer.pipe(res);
    },
  );
  upstream.once('error', () => {
    if (!res.headersSent) fallback();
    else res.destroy();
  });
  req.pipe(upstream);
}
