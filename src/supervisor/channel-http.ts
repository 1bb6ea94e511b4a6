/**
 * The channel's HTTP side: the browser client script (no token: it holds no secret) and the
 * control endpoints tools without a websocket use (`status`, `reload`, `restart`), each behind
 * the gate. A handler that throws answers 500 with the message; it never reaches the server.
 */
import fs from 'node:fs';
import type http from 'node:http';
import { CLIENT_PATH } from '../shared/protocol.js';
import { json, text } from './channel-io.js';
import { requestUrl, type ChannelGate } from './channel-gate.js';
import { errorText, serve, type ChannelHandlers } from './channel-methods.js';

const ROUTES: Record<string, { method: 'GET' | 'POST'; name: 'status' | 'reload' | 'restart' }> = {
  '/@devhot/status': { method: 'GET', name: 'status' },
  '/@devhot/reload': { method: 'POST', name: 'reload' },
  '/@devhot/restart': { method: 'POST', name: 'restart' },
};

export interface HttpOptions {
  gate: ChannelGate;
  /** A request passed the gate with the control token: its connection is trusted. */
  trust(req: http.IncomingMessage): void;
  handlers: ChannelHandlers;
  /** The built browser client, served at CLIENT_PATH. */
  clientFile: string;
}

async function serveClient(clientFile: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  let body: Buffer;
  try {
    body = await fs.promises.readFile(clientFile);
  } catch {
    return text(res, 404, `devhot: the browser client is not built: ${clientFile} is missing. Run \`npm run build\` in devhot.`);
  }
  const headers: http.OutgoingHttpHeaders = {
    'Content-Type': 'text/javascript; charset=utf-8',
    'Content-Length': body.length,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    Vary: 'Origin',
  };
  // A module script from another origin is fetched in CORS mode. The app's page (an allowed
  // origin, already checked by the gate) gets its own origin echoed; nobody ever gets '*'.
  const origin = req.headers.origin;
  if (origin !== undefined) headers['Access-Control-Allow-Origin'] = origin;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function handleHttp(
  { gate, handlers, clientFile, trust }: HttpOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  req.on('error', () => {});
  res.on('error', () => {});
  // Bodies are not used (reload takes `?all=1`); drain so keep-alive works.
  req.resume();
  const url = requestUrl(req);
  const route = ROUTES[url.pathname];
  if (url.pathname === CLIENT_PATH) {
    const refused = gate.refusal(req, url, 'none');
    if (refused) return text(res, ...refused);
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'devhot: use GET.', { Allow: 'GET, HEAD' });
    return serveClient(clientFile, req, res);
  }
  if (!route) return text(res, 404, `devhot: nothing at ${url.pathname}.`);
  const refused = gate.refusal(req, url, 'control');
  if (refused) return json(res, refused[0], { ok: false, error: refused[1] });
  trust(req);
  if (req.method !== route.method) {
    return json(res, 405, { ok: false, error: `use ${route.method} ${url.pathname}` }, { Allow: route.method });
  }
  const all = url.searchParams.get('all');
  try {
    const result = await serve(handlers, route.name, all === '1' || all === 'true');
    json(res, 200, { ok: true, result });
  } catch (error) {
    json(res, 500, { ok: false, error: errorText(error) });
  }
}

/** The server's 'request' listener. */
export function httpHandler(options: HttpOptions): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    handleHttp(options, req, res).catch((error: unknown) => {
      try {
        if (!res.headersSent) json(res, 500, { ok: false, error: errorText(error) });
        else res.destroy();
      } catch {
        res.destroy();
      }
    });
  };
}
