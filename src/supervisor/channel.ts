/**
 * The channel: one websocket endpoint on the supervisor for browsers and tools, plus a few HTTP
 * control endpoints and the browser client script, all on one `http` server.
 *
 * Nothing upgrades before it passes the gate (channel-guard.ts): the path, the Host, the Origin,
 * the token and the client limit are checked on the raw 'upgrade' event (`noServer`), and a
 * refusal is a plain HTTP response written on the socket, which is then closed. Every socket and
 * request handler ends in a catch: a bad peer can lose its own connection, never the supervisor.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import {
  CHANNEL_PATH,
  CLIENT_PATH,
  PROTOCOL_VERSION,
  parseClientMessage,
  type AppState,
  type ModuleInfo,
  type RequestMethod,
  type ServerMessage,
} from '../shared/protocol.js';
import { json, listen, refuseSocket, removeSessionFile, text, writeSessionFile } from './channel-io.js';
import { bareHost, hostAllowed, hostnameOf, isExposed, originAllowed, tokenMatches, tokenOf, type HostRule } from './channel-guard.js';

export interface ChannelOptions {
  root: string;
  version: string;
  /** Bind address. Default in the CLI: '127.0.0.1'. */
  host: string;
  /** 0 = a random free port. */
  port: number;
  /** Extra Host names allowed (from --host), besides localhost, *.localhost, 127.0.0.0/8, ::1. A leading '.' allows subdomains. */
  allowedHosts: readonly string[];
  /** Origins of the app's URLs (e.g. 'http://localhost:3000'); pages there may connect. */
  appOrigins(): string[];
  /** Where to write the SessionFile JSON (mode 0600); removed on close(). false: none. */
  sessionFile: string | false;
  /** The built browser client, served at CLIENT_PATH without a token (it holds no secret). */
  clientFile: string;
  handlers: {
    state(): AppState;
    graph(): Promise<ModuleInfo[]>;
    reload(all: boolean): Promise<unknown>;
    restart(): Promise<unknown>;
    /** A tool's custom event, forwarded to the app (`import.meta.hot.on`). */
    custom(event: string, data: unknown): void;
  };
  /** Largest message a client may send, in bytes; a larger one closes that socket with 1009. Default 1 MiB. */
  maxPayload?: number;
  /** Open sockets at most; further upgrades are refused with 503. Default 100. */
  maxClients?: number;
  /** Ping interval; a peer that did not pong since the last ping is terminated. Default 30000. */
  heartbeatMs?: number;
}

export interface Channel {
  readonly port: number;
  /** ws://127.0.0.1:PORT/@devhot/ws (the host as bound; 'localhost' for 0.0.0.0 / ::). */
  readonly url: string;
  readonly token: string;
  /** The <script> tag to inject into HTML pages. */
  scriptTag(): string;
  /** To every open socket. Remembers an 'error' and replays it to late clients until 'error-cleared' or an 'update'. */
  broadcast(message: ServerMessage): void;
  /** App output, only to clients that subscribed to logs. */
  log(stream: 'stdout' | 'stderr', text: string): void;
  /** Idempotent: terminate clients, close the server, remove the session file. */
  close(): Promise<void>;
}

const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
const DEFAULT_MAX_CLIENTS = 100;
const DEFAULT_HEARTBEAT_MS = 30_000;
/** A client that lets this much pile up unread is not reading: drop it rather than grow memory. */
const MAX_BUFFERED = 16 * 1024 * 1024;

interface Peer {
  alive: boolean;
  logs: boolean;
}

type Handlers = ChannelOptions['handlers'];

export async function createChannel(options: ChannelOptions): Promise<Channel> {
  const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  const maxClients = options.maxClients ?? DEFAULT_MAX_CLIENTS;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const { handlers } = options;
  const token = randomBytes(24).toString('base64url');
  const hostRule: HostRule = {
    extra: options.allowedHosts.map(bareHost),
    exposed: isExposed(options.host),
  };
  const peers = new Map<WebSocket, Peer>();
  let upgrading = 0;
  let standingError: Extract<ServerMessage, { type: 'error' }> | undefined;
  let port = 0;
  let closing: Promise<void> | undefined;

  const server = createServer();
  // Slow or idle peers must not hold connections open for minutes.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const wss = new WebSocketServer({ noServer: true, maxPayload, clientTracking: false, perMessageDeflate: false });

  // devhot's own pages: any loopback name (originAllowed treats them as one), the bound host and
  // the names --host added, on the channel's port.
  const ownOrigins = (): string[] => [
    `http://localhost:${port}`,
    `http://${urlHost(options.host)}:${port}`,
    ...hostRule.extra.filter((h) => !h.startsWith('.')).map((h) => `http://${urlHost(h)}:${port}`),
  ];
  const allowedOrigins = (): string[] => {
    let app: string[] = [];
    try {
      app = options.appOrigins();
    } catch {
      // A failing getter must not open the gate or crash it: only devhot's own origin then.
    }
    return [...app, ...ownOrigins()];
  };

  /** The gate shared by upgrades and HTTP requests; returns the refusal, or undefined to let it pass. */
  const refusal = (req: http.IncomingMessage, url: URL, needsToken: boolean): [number, string] | undefined => {
    if (!hostAllowed(hostnameOf(req.headers.host), hostRule)) {
      return [403, `devhot: Host '${req.headers.host ?? ''}' is not allowed (DNS rebinding protection). Pass --host <name> to allow it.`];
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin, allowedOrigins())) {
      return [403, `devhot: Origin '${origin}' is not allowed: only the app's pages and devhot's own may connect.`];
    }
    if (needsToken && !tokenMatches(tokenOf(req.headers, url), token)) {
      return [401, 'devhot: missing or wrong token. Tools read it from node_modules/.devhot/session.json.'];
    }
    return undefined;
  };

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const url = requestUrl(req);
      if (url.pathname !== CHANNEL_PATH) return refuseSocket(socket, 404, `devhot: no websocket at ${url.pathname}; the channel is at ${CHANNEL_PATH}.`);
      const refused = refusal(req, url, true);
      if (refused) return refuseSocket(socket, ...refused);
      if (closing) return refuseSocket(socket, 503, 'devhot: the channel is closing.');
      if (peers.size + upgrading >= maxClients) {
        return refuseSocket(socket, 503, `devhot: too many channel clients (at most ${maxClients}).`);
      }
      upgrading++;
      let counted = true;
      const uncount = () => {
        if (!counted) return;
        counted = false;
        upgrading--;
      };
      socket.once('close', uncount);
      wss.handleUpgrade(req, socket, head, (ws) => {
        uncount();
        onConnection(ws);
      });
    } catch {
      socket.destroy();
    }
  });

  function onConnection(ws: WebSocket): void {
    if (closing) return void ws.terminate();
    const peer: Peer = { alive: true, logs: false };
    peers.set(ws, peer);
    // ws reports protocol violations (a message over maxPayload, bad frames) as 'error' and closes
    // the socket itself (1009, 1002): nothing to do here but not crash.
    ws.on('error', () => {});
    ws.on('close', () => peers.delete(ws));
    ws.on('pong', () => (peer.alive = true));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      try {
        if (isBinary) return;
        onMessage(ws, peer, rawText(data));
      } catch {
        // A message that cannot be handled is dropped; the socket stays.
      }
    });
    let state: AppState | undefined;
    try {
      state = handlers.state();
    } catch {
      state = { status: 'stopped', pid: undefined, urls: [], error: undefined };
    }
    send(ws, { type: 'connected', protocol: PROTOCOL_VERSION, version: options.version, urls: state.urls, state });
    if (standingError) send(ws, standingError);
  }

  function onMessage(ws: WebSocket, peer: Peer, text: string): void {
    const message = parseClientMessage(text);
    if (!message) {
      // Unparsable JSON is ignored; a request we cannot serve but can answer gets an error reply.
      const id = requestIdOf(text);
      if (id !== undefined) send(ws, { type: 'reply', id, ok: false, error: 'unknown method or malformed request' });
      return;
    }
    switch (message.type) {
      case 'request':
        void serve(handlers, message.method, message.method === 'reload' && message.all === true).then(
          (result) => replyTo(ws, message.id, { ok: true, result }),
          (error: unknown) => replyTo(ws, message.id, { ok: false, error: errorText(error) }),
        );
        return;
      case 'subscribe':
        peer.logs = message.logs;
        return;
      case 'custom':
        handlers.custom(message.event, message.data);
        return;
      default: {
        const never: never = message;
        return never;
      }
    }
  }

  function replyTo(ws: WebSocket, id: string, reply: { ok: true; result: unknown } | { ok: false; error: string }): void {
    try {
      send(ws, { type: 'reply', id, ...reply });
    } catch (error) {
      // The result could not be serialised (a cycle, a BigInt): say so instead of going silent.
      send(ws, { type: 'reply', id, ok: false, error: `the result could not be sent: ${errorText(error)}` });
    }
  }

  function send(ws: WebSocket, message: ServerMessage, text = JSON.stringify(message)): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED) return void ws.terminate();
    ws.send(text);
  }

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    handleHttp(req, res).catch((error: unknown) => {
      try {
        if (!res.headersSent) json(res, 500, { ok: false, error: errorText(error) });
        else res.destroy();
      } catch {
        res.destroy();
      }
    });
  });

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    req.on('error', () => {});
    res.on('error', () => {});
    // Bodies are not used (reload takes `?all=1`); drain so keep-alive works.
    req.resume();
    const url = requestUrl(req);
    const route = ROUTES[url.pathname];
    if (url.pathname === CLIENT_PATH) {
      const refused = refusal(req, url, false);
      if (refused) return text(res, ...refused);
      if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'devhot: use GET.', { Allow: 'GET, HEAD' });
      return serveClient(req, res);
    }
    if (!route) return text(res, 404, `devhot: nothing at ${url.pathname}.`);
    const refused = refusal(req, url, true);
    if (refused) return json(res, refused[0], { ok: false, error: refused[1] });
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

  async function serveClient(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body: Buffer;
    try {
      body = await fs.promises.readFile(options.clientFile);
    } catch {
      return text(res, 404, `devhot: the browser client is not built: ${options.clientFile} is missing. Run \`npm run build\` in devhot.`);
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

  const heartbeat = setInterval(() => {
    for (const [ws, peer] of peers) {
      if (!peer.alive) {
        ws.terminate();
        continue;
      }
      peer.alive = false;
      try {
        ws.ping();
      } catch {
        ws.terminate();
      }
    }
  }, heartbeatMs);
  heartbeat.unref();

  try {
    await listen(server, options.port, options.host);
  } catch (error) {
    clearInterval(heartbeat);
    wss.close();
    throw error;
  }
  port = (server.address() as { port: number }).port;
  const url = `ws://${urlHost(options.host)}:${port}${CHANNEL_PATH}`;

  // Remove the session file even when the process exits without close() (process.exit in a test).
  const sessionFile = options.sessionFile;
  const removeSessionSync = () => {
    if (sessionFile) removeSessionFile(sessionFile, token);
  };
  if (sessionFile) {
    try {
      writeSessionFile(sessionFile, { protocol: PROTOCOL_VERSION, version: options.version, pid: process.pid, url, token, root: options.root });
    } catch (error) {
      clearInterval(heartbeat);
      wss.close();
      server.close();
      throw error;
    }
    process.on('exit', removeSessionSync);
  }

  return {
    port,
    url,
    token,
    scriptTag: () => `<script type="module" src="http://${urlHost(options.host)}:${port}${CLIENT_PATH}?token=${token}"></script>`,
    broadcast(message) {
      // An error stands while the code it is about still runs; one thrown by a request handler
      // (source 'uncaught') is an event, not a state, so it is not replayed to later pages.
      if (message.type === 'error' && message.source !== 'uncaught') standingError = message;
      else if (message.type === 'error-cleared' || message.type === 'update') standingError = undefined;
      const text = JSON.stringify(message);
      for (const ws of peers.keys()) send(ws, message, text);
    },
    log(stream, chunk) {
      const message: ServerMessage = { type: 'log', stream, text: chunk };
      let text: string | undefined;
      for (const [ws, peer] of peers) if (peer.logs) send(ws, message, (text ??= JSON.stringify(message)));
    },
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        for (const ws of peers.keys()) ws.terminate();
        peers.clear();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await Promise.allSettled([closed, new Promise<void>((resolve) => wss.close(() => resolve()))]);
        if (sessionFile) {
          process.off('exit', removeSessionSync);
          removeSessionSync();
        }
      })();
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------

const ROUTES: Record<string, { method: 'GET' | 'POST'; name: 'status' | 'reload' | 'restart' }> = {
  '/@devhot/status': { method: 'GET', name: 'status' },
  '/@devhot/reload': { method: 'POST', name: 'reload' },
  '/@devhot/restart': { method: 'POST', name: 'restart' },
};

async function serve(handlers: Handlers, method: RequestMethod, all: boolean): Promise<unknown> {
  switch (method) {
    case 'status':
      return handlers.state();
    case 'graph':
      return await handlers.graph();
    case 'reload':
      return await handlers.reload(all);
    case 'restart':
      return await handlers.restart();
    default: {
      const never: never = method;
      throw new Error(`unknown method ${String(never)}`);
    }
  }
}

/** The id of something shaped like a request that parseClientMessage refused (unknown method). */
function requestIdOf(text: string): string | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object') return undefined;
    const m = value as Record<string, unknown>;
    if (m.type !== 'request' || typeof m.id !== 'string' || m.id.length === 0 || m.id.length > 200) return undefined;
    return m.id;
  } catch {
    return undefined;
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function requestUrl(req: http.IncomingMessage): URL {
  // Only the path and query matter; the base is never used for anything else.
  return new URL(req.url ?? '/', 'http://devhot.invalid');
}

/** How the bound host appears in URLs: wildcard addresses become 'localhost', IPv6 gets brackets. */
function urlHost(host: string): string {
  const bare = bareHost(host);
  if (bare === '0.0.0.0' || bare === '::' || bare === '') return 'localhost';
  return bare.includes(':') ? `[${bare}]` : bare;
}
