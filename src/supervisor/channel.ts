/**
 * The channel: one websocket endpoint on the supervisor for browsers and tools, plus a few HTTP
 * control endpoints and the browser client script, all on one `http` server. This file wires
 * the parts and owns the lifetime (listen, session file, close):
 *
 * - channel-gate.ts: who may pass. Nothing upgrades before it passes the gate: the path, the
 *   Host, the Origin and the token are checked on the raw 'upgrade' event (`noServer`), and a
 *   refusal is a plain HTTP response written on the socket, which is then closed;
 * - channel-server.ts: the connections: admission, the upgrade past the gate, requests;
 * - channel-peers.ts: the open websockets (client limit, replies, broadcasts, heartbeat);
 * - channel-http.ts: the client script and the control endpoints;
 * - channel-methods.ts: what a client may ask, the same over both;
 * - channel-session.ts: the session file, which exists while the channel listens.
 */
import { randomBytes } from 'node:crypto';
import { CHANNEL_PATH, CLIENT_PATH, PROTOCOL_VERSION, type ServerMessage } from '../shared/protocol.js';
import { listen } from './channel-io.js';
import { ChannelGate, urlHost } from './channel-gate.js';
import { ChannelPeers } from './channel-peers.js';
import { ChannelAdmission } from './channel-admission.js';
import { channelServer, closeServer } from './channel-server.js';
import { keepSessionFile, type SessionKeeper } from './channel-session.js';
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
  /** Connections without a token yet, at most (channel-admission.ts). Default 32. */
  maxUntrusted?: number;
  /** How long a connection may take to show a token (ms). Default 3000. */
  handshakeMs?: number;
  /**
   * The server failed to accept a connection: devhot goes on; the wiring reports it. (Out of
   * descriptors, libuv accepts and closes the connection with a descriptor it keeps in reserve,
   * and reports EMFILE only when that fails too.)
   */
  onAcceptError?(error: NodeJS.ErrnoException): void;
}

export interface Channel {
  readonly port: number;
  /** ws://127.0.0.1:PORT/@devhot/ws (the host as bound; 'localhost' for 0.0.0.0 / ::). */
  readonly url: string;
  /** The control token: in the session file only, never printed. */
  readonly token: string;
  /** The browser token: in the script tag; it may only receive events (channel-gate.ts). */
  readonly browserToken: string;
  /** The <script> tag to inject into HTML pages (it carries the browser token). */
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
const DEFAULT_MAX_UNTRUSTED = 32;
const DEFAULT_HANDSHAKE_MS = 3000;

export async function createChannel(options: ChannelOptions): Promise<Channel> {
  const token = randomBytes(24).toString('base64url');
  const browserToken = randomBytes(24).toString('base64url');
  const gate = new ChannelGate({
    token,
    browserToken,
    host: options.host,
    allowedHosts: options.allowedHosts,
    appOrigins: () => options.appOrigins(),
  });
  const peers = new ChannelPeers({
    version: options.version,
    handlers: options.handlers,
    maxClients: options.maxClients ?? DEFAULT_MAX_CLIENTS,
  });
  const admission = new ChannelAdmission({
    max: options.maxUntrusted ?? DEFAULT_MAX_UNTRUSTED,
    handshakeMs: options.handshakeMs ?? DEFAULT_HANDSHAKE_MS,
  });
  let closing: Promise<void> | undefined;
  const { server, wss } = channelServer({ ...options, gate, peers, admission, maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD });

  const heartbeat = setInterval(() => peers.ping(), options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
  heartbeat.unref();

  try {
    await listen(server, options.port, options.host, (error) => options.onAcceptError?.(error));
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
    browserToken,
    scriptTag: () => `<script type="module" src="http://${urlHost(options.host)}:${port}${CLIENT_PATH}?token=${browserToken}"></script>`,
    broadcast: (message: ServerMessage) => peers.broadcast(message),
    log: (stream, chunk) => peers.log(stream, chunk),
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        peers.close();
        admission.close();
        await closeServer({ server, wss });
        session.remove();
      })();
      return closing;
    },
  };
}
