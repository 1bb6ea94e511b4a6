/**
 * Listening sockets parked by a server's close() (listen.ts, keepSocketOnClose), waiting for the
 * next listen on their address, with the connections they accept meanwhile. One that no listen
 * claims within PARK_MS is closed for real, with what it held: the address then waits in the
 * supervisor's copy of the socket, and a later listen asks for that (listen.ts, `want`), so a
 * server closed for good (a test server, a feature switched off) does not hold connections and
 * their descriptors forever.
 */
import type { ListenKey } from '../shared/ipc.js';

export interface ListenHandle {
  close(): void;
  onconnection: (this: ListenHandle, status: number, client?: object) => void;
}

export interface Parked {
  handle: ListenHandle;
  /** Connections accepted while parked, for the server that claims the socket. */
  held: Array<{ close?(): void }>;
}

/** Time for the re-executed code to listen again: an app's start (a Nest app, a DB connection) well within it. */
const PARK_MS = 30_000;

const parked = new Map<ListenKey, Parked & { timer: NodeJS.Timeout }>();

export function park(key: ListenKey, handle: ListenHandle, unclaimedAfter = PARK_MS): void {
  const held: Parked['held'] = [];
  handle.onconnection = (status, client) => {
    if (status === 0 && client) held.push(client);
  };
  const timer = setTimeout(() => {
    if (parked.get(key)?.handle !== handle) return;
    parked.delete(key);
    for (const client of held) client.close?.();
    handle.close();
  }, unclaimedAfter);
  timer.unref();
  parked.set(key, { handle, held, timer });
}

/** The socket parked for `key`, if any, now the caller's. */
export function claimParked(key: ListenKey): Parked | undefined {
  const socket = parked.get(key);
  if (!socket) return undefined;
  parked.delete(key);
  clearTimeout(socket.timer);
  return socket;
}
