/**
 * The channel's websocket server, made when the first upgrade has passed the gate. Loading ws
 * (its modules, which Node 20 lexes for their CommonJS exports, and the built-ins they load:
 * https, tls, zlib, crypto) took ~50 ms of the supervisor's start in its CPU profile, and a
 * channel nobody connects to (a terminal session, the CLI bench) kept it all the same: the
 * supervisor's RSS after the CLI bench's edits at 3,000 modules 52.4 -> 51.4 MB (memory-pairs, 3
 * rounds, Node 20, 2026-12-02). The start was no faster: the supervisor hands the early app
 * process its configuration sooner, but the app's first response came at the same time
 * (start-pairs, 14 pairs twice: 1,461 against 1,463 ms, 1,257 against 1,248 ms). The first
 * client waits for the load once.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServerOptions, WebSocket, WebSocketServer } from 'ws';

export class LazyWebSocketServer {
  #server: Promise<WebSocketServer> | undefined;
  #closed = false;

  constructor(private readonly options: Readonly<ServerOptions>) {}

  /**
   * ws's `handleUpgrade`, once ws is loaded. A socket that closed meanwhile is let go (ws
   * destroys a socket it can no longer answer), and so is one that comes after `close()`.
   */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, done: (ws: WebSocket) => void): void {
    this.#load().then(
      (wss) => {
        if (this.#closed) socket.destroy();
        else wss.handleUpgrade(req, socket, head, done);
      },
      () => socket.destroy(),
    );
  }

  /** Close the server if it was made; upgrades still loading are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    const wss = await this.#server?.catch(() => undefined);
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  #load(): Promise<WebSocketServer> {
    this.#server ??= import('ws').then(({ WebSocketServer }) => new WebSocketServer({ ...this.options, noServer: true }));
    return this.#server;
  }
}
