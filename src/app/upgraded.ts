/**
 * Upgraded connections (websockets) of the app's servers, and closing them when their server is
 * retired (issue #10.8). After a save that re-ran the entry, the new server takes the listening
 * socket, but a websocket opened before keeps talking to the old instance's handlers and state
 * forever: the developer edits a message handler and sees no change. Closing those connections
 * with 1012 (Service Restart, RFC 6455 §7.4 as registered by IANA) makes socket.io, ws and
 * graphql-ws clients reconnect, to the new code.
 *
 * A connection is recorded when its server emits 'upgrade' (listen.ts sees every emit of the
 * servers it hands sockets over for). The server side of nearly every Node websocket library is
 * `ws` (socket.io through engine.io, express-ws, @fastify/websocket, graphql-ws, tRPC), which
 * keeps its WebSocket on the socket under a symbol described 'websocket': that one is asked to
 * close, so its state stays consistent. Any other websocket gets a close frame written after
 * the frames already queued, then the end of the stream. Upgrades to other protocols are left
 * alone: devhot cannot speak them.
 */
import type { IncomingMessage } from 'node:http';
import type net from 'node:net';

/** RFC 6455 close codes: the server restarts (clients should reconnect), or goes away for good. */
export const SERVICE_RESTART = 1012;
export const GOING_AWAY = 1001;

interface Upgraded {
  socket: net.Socket;
  websocket: boolean;
}

/** What ws puts on the socket: its WebSocket, whose close() does the closing handshake. */
interface WsLike {
  close(code: number, reason: string): void;
}

const connections = new WeakMap<net.Server, Set<Upgraded>>();

/** Record an upgraded connection of `server` until it closes. */
export function trackUpgrade(server: net.Server, req: IncomingMessage, socket: net.Socket): void {
  let set = connections.get(server);
  if (!set) {
    set = new Set();
    connections.set(server, set);
  }
  const entry: Upgraded = { socket, websocket: /\bwebsocket\b/i.test(String(req.headers.upgrade ?? '')) };
  set.add(entry);
  socket.once('close', () => set.delete(entry));
}

/** Close `server`'s websocket connections with `code`; how many were closed. */
export function closeUpgraded(server: net.Server, code: number): number {
  const set = connections.get(server);
  if (!set) return 0;
  let closed = 0;
  for (const { socket, websocket } of set) {
    if (!websocket || socket.destroyed || !socket.writable) continue;
    const reason = code === SERVICE_RESTART ? 'Service Restart' : 'Going Away';
    const ws = wsOf(socket);
    if (ws) ws.close(code, reason);
    else socket.end(closeFrame(code, reason));
    closed++;
  }
  return closed;
}

function wsOf(socket: net.Socket): WsLike | undefined {
  for (const symbol of Object.getOwnPropertySymbols(socket)) {
    if (symbol.description !== 'websocket') continue;
    const value = (socket as unknown as Record<symbol, unknown>)[symbol];
    if (value && typeof (value as WsLike).close === 'function') return value as WsLike;
  }
  return undefined;
}

/** A server's close frame (RFC 6455 §5.5.1): FIN + opcode 8, unmasked, the code and a short reason. */
function closeFrame(code: number, reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8');
  const frame = Buffer.alloc(4 + text.length);
  frame[0] = 0x88;
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(code, 2);
  text.copy(frame, 4);
  return frame;
}
