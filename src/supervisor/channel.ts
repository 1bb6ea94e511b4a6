/**
 * The channel: one websocket endpoint on the supervisor for browsers and tools, plus a few HTTP
 * control endpoints and the browser client script, all on one `http` server. This file wires
 * the parts and owns the lifetime (listen, session file, close):
 *
 * - channel-gate.ts: who may pass. Nothing upgrades before it passes the gate: the path, the
 *   Host, the Origin and the token are checked on the raw 'upgrade' event (`noServer`), and a
 *   refusal is a plain HTTP response written on the socket, which is then closed;
 * - channel-peers.ts: the open websockets (client limit, replies, broadcasts, heartbeat);
 * - channel-http.ts: the client script and the control endpoints;
 * - channel-methods.ts: what a client may ask, the same over both.
 */
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { CHANNEL_PATH, CLIENT_PATH, PROTOCOL_VERSION, type ServerMessage, type SessionFile } from '../shared/protocol.js';
import { listen, refuseSocket, removeSessionFile, writeSessionFile } from './channel-io.js';
import { ChannelGate, requestUrl, urlHost } from './channel-gate.js';
import { ChannelPeers } from './channel-peers.js';
import { httpHandler } from './channel-http.js';
import type { ChannelHandlers } from './channel-methods.js';

export type { ChannelHandlers } from './channel-methods.js';

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
  handlers: ChannelHandlers;
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

interface SessionKeeper {
  remove(): void;
}

/**
 * Write the session file (none when `file` is false) and remove it on remove(), or when the
 * process exits without close() (process.exit in a test). Throws when it cannot be written.
 */
function keepSessionFile(file: string | false, session: SessionFile): SessionKeeper {
  if (!file) return { remove: () => {} };
  const removeSync = () => removeSessionFile(file, session.token);
  writeSessionFile(file, session);
  process.on('exit', removeSync);
  return {
    remove() {
      process.off('exit', removeSync);
      removeSync();
    },
  };
}

export async function createChannel(options: ChannelOptions): Promise<Channel> {
  const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  const token = randomBytes(24).toString('base64url');
  const gate = new ChannelGate({ token, host: options.host, allowedHosts: options.allowedHosts, appOrigins: () => options.appOrigins() });
  const peers = new ChannelPeers({
    version: options.version,
    handlers: options.handlers,
    maxClients: options.maxClients ?? DEFAULT_MAX_CLIENTS,
  });
  let closing: Promise<void> | undefined;

  const server = createServer();
  // Slow or idle peers must not hold connections open for minutes.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const wss = new WebSocketServer({ noServer: true, maxPayload, clientTracking: false, perMessageDeflate: false });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const url = requestUrl(req);
      if (url.pathname !== CHANNEL_PATH)
        return refuseSocket(socket, 404, `devhot: no websocket at ${url.pathname}; the channel is at ${CHANNEL_PATH}.`);
      const refused = gate.refusal(req, url, true);
      if (refused) return refuseSocket(socket, ...refused);
      peers.admit(wss, req, socket, head);
    } catch {
      socket.destroy();
    }
  });
  server.on('request', httpHandler({ gate, handlers: options.handlers, clientFile: options.clientFile }));

  const heartbeat = setInterval(() => peers.ping(), options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
  heartbeat.unref();

  try {
    await listen(server, options.port, options.host);
  } catch (error) {
    clearInterval(heartbeat);
    wss.close();
    throw error;
  }
  const port = (server.address() as { port: number }).port;
  gate.port = port;
  const url = `ws://${urlHost(options.host)}:${port}${CHANNEL_PATH}`;

  let session: SessionKeeper;
  try {
    session = keepSessionFile(options.sessionFile, {
      protocol: PROTOCOL_VERSION,
      version: options.version,
      pid: process.pid,
      url,
      token,
      root: options.root,
    });
  } catch (error) {
    clearInterval(heartbeat);
    wss.close();
    server.close();
    throw error;
  }

  return {
    port,
    url,
    token,
    scriptTag: () => `<script type="module" src="http://${urlHost(options.host)}:${port}${CLIENT_PATH}?token=${token}"></script>`,
    broadcast: (message: ServerMessage) => peers.broadcast(message),
    log: (stream, chunk) => peers.log(stream, chunk),
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        peers.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await Promise.allSettled([closed, new Promise<void>((resolve) => wss.close(() => resolve()))]);
        session.remove();
      })();
      return closing;
    },
  };
}
