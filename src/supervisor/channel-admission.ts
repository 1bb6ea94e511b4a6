/**
 * Connections to the channel that have not shown a token yet. Each costs the supervisor a file
 * descriptor, and any local process can open them: 1,500 silent connections once exhausted the
 * supervisor's descriptors, and its next restart failed. So they are few and short-lived:
 *
 * - at most `max` at a time; one more evicts the oldest. A real client (a browser, a tool) sends
 *   its request within milliseconds of connecting, so it is done before a flood can evict it,
 *   while a slow-loris holding idle connections cannot lock new clients out;
 * - each gets `handshakeMs` to show a token (a websocket upgrade or a control request that passes
 *   the gate); then it is closed. The client script (no token) is served within that time.
 *
 * Trusted connections (websockets, bounded by the peers' maxClients; control requests) are not
 * counted here.
 */
import type { Socket } from 'node:net';

export interface AdmissionOptions {
  /** Untrusted connections at once. */
  max: number;
  /** How long an untrusted connection may stay open (ms). */
  handshakeMs: number;
}

export class ChannelAdmission {
  /** Untrusted connections, oldest first, with their deadline timer. */
  private readonly pending = new Map<Socket, NodeJS.Timeout>();

  constructor(private readonly options: AdmissionOptions) {}

  /** A new connection: counted, with its deadline; the oldest goes if there are too many. */
  admit(socket: Socket): void {
    if (this.pending.size >= this.options.max) {
      const [oldest] = this.pending.keys();
      if (oldest) this.drop(oldest);
    }
    const timer = setTimeout(() => this.drop(socket), this.options.handshakeMs);
    timer.unref();
    this.pending.set(socket, timer);
    socket.once('close', () => this.forget(socket));
  }

  /** The connection showed a token: it stays as long as its protocol keeps it. */
  trust(socket: Socket | null | undefined): void {
    if (socket) this.forget(socket);
  }

  close(): void {
    for (const socket of [...this.pending.keys()]) this.drop(socket);
  }

  private drop(socket: Socket): void {
    this.forget(socket);
    socket.destroy();
  }

  private forget(socket: Socket): void {
    const timer = this.pending.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.pending.delete(socket);
  }
}
