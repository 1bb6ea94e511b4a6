/**
 * The channel's connections: one `http` server for websockets and HTTP alike. Every connection
 * is counted by the admission first (channel-admission.ts), since any local process can open
 * one. Nothing upgrades before it passes the gate: the path, the Host, the Origin and the token
 * are checked on the raw 'upgrade' event (`noServer`), and a refusal is a plain HTTP response
 * written on the socket, which is then closed. Requests go to channel-http.ts.
 */
import type http from 'node:http';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { CHANNEL_PATH } from '../shared/protocol.js';
import { refuseSocket } from './channel-io.js';
import { requestUrl, type ChannelGate } from './channel-gate.js';
import type { ChannelPeers } from './channel-peers.js';
import { httpHandler } from './channel-http.js';
import type { ChannelAdmission } from './channel-admission.js';
import type { ChannelHandlers } from './channel-methods.js';

export interface ServerParts {
  gate: ChannelGate;
  peers: ChannelPeers;
  admission: ChannelAdmission;
  handlers: ChannelHandlers;
  /** The built browser client (channel-http.ts). */
  clientFile: string;
  /** Largest message a client may send, in bytes; a larger one closes that socket with 1009. */
  maxPayload: number;
}

export interface ChannelServer {
  server: http.Server;
  /** Without a server of its own: it only completes the upgrades the gate let pass. */
  wss: WebSocketServer;
}

/** The server, not listening yet. */
export function channelServer({ gate, peers, admission, handlers, clientFile, maxPayload }: ServerParts): ChannelServer {
  const server = createServer();
  // Slow or idle peers must not hold connections open for minutes.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('connection', (socket: Socket) => admission.admit(socket));
  const wss = new WebSocketServer({ noServer: true, maxPayload, clientTracking: false, perMessageDeflate: false });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const url = requestUrl(req);
      if (url.pathname !== CHANNEL_PATH)
        return refuseSocket(socket, 404, `devhot: no websocket at ${url.pathname}; the channel is at ${CHANNEL_PATH}.`);
      const refused = gate.refusal(req, url, 'browser');
      if (refused) return refuseSocket(socket, ...refused);
      admission.trust(req.socket);
      peers.admit(wss, req, socket, head, gate.roleOf(req, url) ?? 'browser');
    } catch {
      socket.destroy();
    }
  });
  server.on('request', httpHandler({ gate, handlers, clientFile, trust: (req) => admission.trust(req.socket) }));
  return { server, wss };
}

/** Stop listening, cut every open connection, and close the websocket server. */
export async function closeServer({ server, wss }: ChannelServer): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await Promise.allSettled([closed, new Promise<void>((resolve) => wss.close(() => resolve()))]);
}
