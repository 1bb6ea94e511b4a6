/**
 * The channel's open websockets: how many may connect, what each is told on connecting (the
 * state, the standing error), how its messages are answered, who gets broadcasts and app
 * output, and how dead or unread peers are dropped. Every socket handler ends in a catch: a bad
 * peer can lose its own connection, never the supervisor.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, type RawData, type WebSocketServer } from 'ws';
import { PROTOCOL_VERSION, parseClientMessage, type AppState, type ServerMessage } from '../shared/protocol.js';
import { errorText, serve, type ChannelHandlers } from './channel-methods.js';
import { refuseSocket } from './channel-io.js';
import type { Role } from './channel-gate.js';
import { withoutControls } from '../shared/controls.js';

/**
 * The text of a message: strings without control characters (they reach terminals through
 * tools), except the app's own output, which goes out as the app wrote it.
 */
function serialize(message: ServerMessage): string {
  return JSON.stringify(message.type === 'log' ? message : withoutControls(message));
}

/** A client that lets this much pile up unread is not reading: drop it rather than grow memory. */
const MAX_BUFFERED = 16 * 1024 * 1024;

export interface PeersOptions {
  version: string;
  handlers: ChannelHandlers;
  /** Open sockets at most, those still upgrading included. */
  maxClients: number;
}

interface Peer {
  alive: boolean;
  logs: boolean;
  /** What its token lets it do: a browser peer only receives events. */
  role: Role;
}

const EVENTS_ONLY = "this connection's token may only receive events; requests and custom events need the session file's token";

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

export class ChannelPeers {
  private readonly peers = new Map<WebSocket, Peer>();
  /** Upgrades accepted by the gate and not yet open: they count against maxClients too. */
  private upgrading = 0;
  private standingError: Extract<ServerMessage, { type: 'error' }> | undefined;
  private closed = false;

  constructor(private readonly options: PeersOptions) {}

  /** Complete an upgrade that passed the gate, unless the channel is closing or full. */
  admit(wss: WebSocketServer, req: http.IncomingMessage, socket: Duplex, head: Buffer, role: Role): void {
    if (this.closed) {
      refuseSocket(socket, 503, 'devhot: the channel is closing.');
      return;
    }
    if (this.peers.size + this.upgrading >= this.options.maxClients) {
      refuseSocket(socket, 503, `devhot: too many channel clients (at most ${this.options.maxClients}).`);
      return;
    }
    this.upgrading++;
    let counted = true;
    const uncount = () => {
      if (!counted) return;
      counted = false;
      this.upgrading--;
    };
    socket.once('close', uncount);
    wss.handleUpgrade(req, socket, head, (ws) => {
      uncount();
      this.connect(ws, role);
    });
  }

  /** To every open socket. Remembers an 'error' and replays it to late clients until 'error-cleared' or an 'update'. */
  broadcast(message: ServerMessage): void {
    // An error stands while the code it is about still runs; one thrown by a request handler
    // (source 'uncaught') is an event, not a state, so it is not replayed to later pages.
    if (message.type === 'error' && message.source !== 'uncaught') this.standingError = message;
    else if (message.type === 'error-cleared' || message.type === 'update') this.standingError = undefined;
    const text = serialize(message);
    for (const ws of this.peers.keys()) this.send(ws, message, text);
  }

  /** App output, only to clients that subscribed to logs. */
  log(stream: 'stdout' | 'stderr', chunk: string): void {
    const message: ServerMessage = { type: 'log', stream, text: chunk };
    let text: string | undefined;
    for (const [ws, peer] of this.peers) if (peer.logs) this.send(ws, message, (text ??= serialize(message)));
  }

  /** One heartbeat round: a peer that did not pong since the last ping is terminated. */
  ping(): void {
    for (const [ws, peer] of this.peers) {
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
  }

  /** Drop every peer; none is admitted afterwards. */
  close(): void {
    this.closed = true;
    for (const ws of this.peers.keys()) ws.terminate();
    this.peers.clear();
  }

  private connect(ws: WebSocket, role: Role): void {
    if (this.closed) return void ws.terminate();
    const peer: Peer = { alive: true, logs: false, role };
    this.peers.set(ws, peer);
    // ws reports protocol violations (a message over maxPayload, bad frames) as 'error' and closes
    // the socket itself (1009, 1002): nothing to do here but not crash.
    ws.on('error', () => {});
    ws.on('close', () => this.peers.delete(ws));
    ws.on('pong', () => (peer.alive = true));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      try {
        if (isBinary) return;
        this.receive(ws, peer, rawText(data));
      } catch {
        // A message that cannot be handled is dropped; the socket stays.
      }
    });
    let state: AppState | undefined;
    try {
      state = this.options.handlers.state();
    } catch {
      state = { status: 'stopped', pid: undefined, urls: [], error: undefined };
    }
    this.send(ws, { type: 'connected', protocol: PROTOCOL_VERSION, version: this.options.version, urls: state.urls, state });
    if (this.standingError) this.send(ws, this.standingError);
  }

  private receive(ws: WebSocket, peer: Peer, text: string): void {
    const message = parseClientMessage(text);
    if (!message) {
      // Unparsable JSON is ignored; a request we cannot serve but can answer gets an error reply.
      const id = requestIdOf(text);
      if (id !== undefined) this.send(ws, { type: 'reply', id, ok: false, error: 'unknown method or malformed request' });
      return;
    }
    if (peer.role !== 'control') {
      // Events only: a request gets an error reply, anything else is dropped.
      if (message.type === 'request') this.send(ws, { type: 'reply', id: message.id, ok: false, error: EVENTS_ONLY });
      return;
    }
    switch (message.type) {
      case 'request':
        void serve(this.options.handlers, message.method, message.method === 'reload' && message.all === true).then(
          (result) => this.replyTo(ws, message.id, { ok: true, result }),
          (error: unknown) => this.replyTo(ws, message.id, { ok: false, error: errorText(error) }),
        );
        return;
      case 'subscribe':
        peer.logs = message.logs;
        return;
      case 'custom':
        this.options.handlers.custom(message.event, message.data);
        return;
      default: {
        const unknown: never = message;
        void unknown;
        return;
      }
    }
  }

  private replyTo(ws: WebSocket, id: string, reply: { ok: true; result: unknown } | { ok: false; error: string }): void {
    try {
      this.send(ws, { type: 'reply', id, ...reply });
    } catch (error) {
      // The result could not be serialised (a cycle, a BigInt): say so instead of going silent.
      this.send(ws, { type: 'reply', id, ok: false, error: `the result could not be sent: ${errorText(error)}` });
    }
  }

  private send(ws: WebSocket, message: ServerMessage, text = serialize(message)): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED) return void ws.terminate();
    ws.send(text);
  }
}
