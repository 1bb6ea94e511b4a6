/**
 * Listening sockets that survive reloads. `net.Server.prototype.listen` is wrapped so that:
 *
 * - in-process (the entry re-executes): a new `listen(port)` takes the listening handle from the
 *   server of the previous version, which stops accepting and closes once its connections end.
 *   Nothing is re-bound, so no connection is refused. If the update fails, the handle goes back.
 * - across processes (a restart): the first bind sends a copy of the handle to the supervisor;
 *   the next process receives it before user code runs and listens on it. While no process
 *   accepts, connections wait in the kernel's backlog instead of being refused.
 *
 * Only TCP listens on a fixed port take part; port 0, pipes and handles pass straight through.
 *
 * Every server that listens also has its `emit` watched (watchServer): a request handler that
 * throws synchronously gets a 500 instead of a hanging request (request-errors.ts), and upgraded
 * connections are recorded, so that a retired server's websockets can be closed with 1012 and
 * reconnect to the new code (upgraded.ts).
 */
import http from 'node:http';
import net from 'node:net';
import { listenKey, parseListenKey, type ListenKey } from '../shared/ipc.js';
import { answerThrow } from './request-errors.js';
import { claimParked, type ListenHandle, park } from './park.js';
import { isRetired, retire, type Target } from './retire.js';
import { GOING_AWAY, SERVICE_RESTART, trackUpgrade } from './upgraded.js';

type Handle = object;
interface ListenRequest {
  port: number;
  host: string | undefined;
  backlog: number | undefined;
  callback: (() => void) | undefined;
}
interface Takeover {
  key: ListenKey;
  from: net.Server;
  to: net.Server;
}

export interface ListenHost {
  /** Keep a copy of a freshly bound listening handle (the supervisor). */
  keep?(key: ListenKey, handle: Handle, url: string): void;
  /** A bind failed (EADDRINUSE...): tell the user which port. */
  failed?(key: ListenKey, port: number, error: NodeJS.ErrnoException): void;
  /** A request handler threw synchronously (the request got a 500): report it. */
  requestError?(error: unknown): void;
  /** Websockets of retired servers were closed with 1012 (for an update, or a process restart). */
  closedUpgraded?(count: number, why: 'update' | 'restart'): void;
  /** A server answered its first HTTP request, on this port (said once per server). */
  httpPort?(port: number): void;
  /** Ask the supervisor for its copy of `key`'s socket again; it comes through `inheritHandle` or `noHandle`. */
  want?(key: ListenKey): void;
}

export interface ListenOptions {
  /** Close a retired server's websockets with 1012 so clients reconnect to the new code. Default: true. */
  closeUpgraded?: boolean;
}

const original = net.Server.prototype.listen;
/** Handles received from the supervisor, by key, waiting for the app to listen on them. */
const inherited = new Map<ListenKey, Handle>();
/** The server currently accepting on each key. */
const owners = new Map<ListenKey, net.Server>();
let takeovers: Takeover[] = [];
let inUpdate = false;
let host: ListenHost = {};
let closeRetiredUpgraded = true;
/** What a reload does to a retired server's websockets: close them with 1012, or keep them. */
const reloadClose = (): number | null => (closeRetiredUpgraded ? SERVICE_RESTART : null);
/** Servers whose emit is watched (a server that listens again must not be wrapped twice). */
const watched = new WeakSet<net.Server>();
/** Binds under way (a host name is looked up first), so `started` can wait for the URLs. */
const binding = new Set<Promise<void>>();
/** Keys whose socket the supervisor holds a copy of: a bind there would fail with EADDRINUSE. */
const held = new Set<ListenKey>();
/** Listens waiting for the supervisor's copy of their socket (`want`), by key, oldest first. */
const waiting = new Map<ListenKey, Array<(handle: Handle | undefined) => void>>();

export function installListenHandover(listenHost: ListenHost, options: ListenOptions = {}): void {
  host = listenHost;
  closeRetiredUpgraded = options.closeUpgraded ?? true;
  net.Server.prototype.listen = function devhotListen(this: net.Server, ...args: unknown[]) {
    watchServer(this);
    const request = parseListenArgs(args);
    if (!request) return original.apply(this, args as Parameters<typeof original>);
    return listenWithHandover(this, request, args);
  } as typeof original;
}

export function inheritHandle(key: ListenKey, handle: Handle): void {
  held.add(key);
  const waiter = waiting.get(key)?.shift();
  if (waiter) waiter(handle);
  else inherited.set(key, handle);
}

/** The supervisor holds no socket for `key` after all: the listens waiting for one bind. */
export function noHandle(key: ListenKey): void {
  held.delete(key);
  const waiters = waiting.get(key) ?? [];
  waiting.delete(key);
  for (const waiter of waiters) waiter(undefined);
}

/** An update is starting: servers that take over from now on may have to give the socket back. */
export function beginUpdate(): void {
  inUpdate = true;
  takeovers = [];
}

/** The update applied: the servers that handed their socket over close (after their requests). */
export function commitUpdate(): void {
  inUpdate = false;
  let closed = 0;
  for (const { from, to } of takeovers) closed += retire(from, { successor: () => to, websockets: reloadClose() });
  takeovers = [];
  // After the update's result has gone out (main.ts sends it once this returns), so the
  // terminal says what happened in order.
  if (closed > 0) setImmediate(() => host.closedUpgraded?.(closed, 'update'));
}

/** The update failed: each socket goes back to the server that had it. */
export function rollbackUpdate(): void {
  inUpdate = false;
  for (const { key, from, to } of takeovers.reverse()) {
    const handle = (to as unknown as { _handle: Handle | null })._handle;
    if (!handle) continue;
    (to as unknown as { _handle: Handle | null })._handle = null;
    to.close();
    owners.set(key, from);
    original.call(from, handle as never);
  }
  takeovers = [];
}

function listenWithHandover(server: net.Server, request: ListenRequest, args: unknown[]): net.Server {
  const key = listenKey(request.host, request.port);
  const owner = owners.get(key);
  const ownerHandle = owner ? (owner as unknown as { _handle: Handle | null })._handle : null;
  if (owner && owner !== server && ownerHandle) {
    // The previous version's server stops accepting; the new one accepts on the same socket.
    (owner as unknown as { _handle: Handle | null })._handle = null;
    track(server, key);
    const takeover = { key, from: owner, to: server };
    if (inUpdate) takeovers.push(takeover);
    else {
      const closed = retire(owner, { successor: () => server, websockets: reloadClose() });
      if (closed > 0) host.closedUpgraded?.(closed, 'update');
    }
    return listenOnHandle(server, ownerHandle, request);
  }
  const unparked = unpark(server, key, request);
  if (unparked) return unparked;
  const handle = inherited.get(key);
  if (handle) {
    inherited.delete(key);
    track(server, key);
    return listenOnHandle(server, handle, request);
  }
  track(server, key);
  if (held.has(key) && host.want) {
    // Its socket here was closed for real, not parked by close() (a cluster primary's round-robin
    // handle takes the socket from its server and closes it itself), and the supervisor's copy
    // holds the port: listen on a copy of that (one IPC round trip), where under node the port
    // is free and the bind succeeds.
    const answered = new Promise<void>((resolve) => {
      const queue = waiting.get(key) ?? [];
      waiting.set(key, queue);
      queue.push((handle) => {
        if (handle) listenOnHandle(server, handle, request);
        else bind(server, key, request, args);
        resolve();
      });
    });
    settles(answered);
    host.want(key);
    return server;
  }
  return bind(server, key, request, args);
}

/** Bind the address itself (the first listen on it): the supervisor keeps a copy of the socket. */
function bind(server: net.Server, key: ListenKey, request: ListenRequest, args: unknown[]): net.Server {
  settles(
    new Promise<void>((resolve) => {
      server.once('listening', () => resolve());
      server.once('error', () => resolve());
    }),
  );
  server.once('listening', () => {
    const address = server.address();
    const handle = (server as unknown as { _handle: Handle | null })._handle;
    if (handle && address && typeof address === 'object') {
      held.add(key);
      host.keep?.(key, handle, urlOf(address));
    }
  });
  server.once('error', (error: NodeJS.ErrnoException) => {
    if (owners.get(key) === server) owners.delete(key);
    host.failed?.(key, request.port, error);
  });
  return original.apply(server, args as Parameters<typeof original>);
}

/** `started` waits for `bound` (see settleBinds). */
function settles(bound: Promise<void>): void {
  binding.add(bound);
  void bound.then(() => binding.delete(bound));
}

function listenOnHandle(server: net.Server, handle: Handle, request: ListenRequest): net.Server {
  const listen = original as (this: net.Server, ...args: unknown[]) => net.Server;
  return listen.call(server, handle, request.backlog, request.callback);
}

function track(server: net.Server, key: ListenKey): void {
  owners.set(key, server);
  keepSocketOnClose(server, key);
  server.once('close', () => {
    if (owners.get(key) === server) owners.delete(key);
  });
}

/** Servers whose close() is wrapped (a server that listens again must not be wrapped twice). */
const closeWrapped = new WeakSet<net.Server>();
/** The process is draining for a restart or exit: a close() closes for real. */
let draining = false;

/**
 * A server's close() keeps the listening socket for the next listen on its port. The supervisor
 * holds a copy of it, so closing it here would not free the port anyway: the next listen() would
 * fail with EADDRINUSE. That was what the webpack-style recipe `module.hot.dispose(() =>
 * app.close())` met on every save, the NestJS docs' among them: the dispose handler closes the
 * server before the re-executed entry listens. Connections the socket accepts meanwhile are held
 * and given to the next server that listens on it, as the backlog would hold them (park.ts).
 *
 * Neither that close() nor a retired server's (a NestJS app devhot closes once its successor took
 * over) closes idle keep-alive connections, as http.Server#close() does: a client may be sending
 * on one at that instant (retire.ts). They end after their next request, or idle.
 */
function keepSocketOnClose(server: net.Server, key: ListenKey): void {
  if (closeWrapped.has(server)) return;
  closeWrapped.add(server);
  const close = server.close;
  server.close = function devhotClose(this: net.Server, ...args: unknown[]) {
    const self = this as unknown as { _handle: ListenHandle | null };
    if (!draining && owners.get(key) === this && self._handle) {
      park(key, self._handle);
      owners.delete(key);
      // Closed in place of the socket, which stays open for the next listen on this key.
      self._handle = { close() {}, onconnection() {} };
      // Its connections end as a retired server's do: their next request goes to whoever
      // listens on the key by then, with `Connection: close`.
      retire(this, { successor: () => owners.get(key), websockets: reloadClose() });
      const callback = args[0];
      if (typeof callback === 'function') this.once('close', () => callback());
      return this;
    }
    if (isRetired(this)) return net.Server.prototype.close.apply(this, args as Parameters<net.Server['close']>);
    return close.apply(this, args as Parameters<net.Server['close']>);
  } as typeof server.close;
}

/** A socket parked by a close(): `server` listens on it, and gets what it accepted meanwhile. */
function unpark(server: net.Server, key: ListenKey, request: ListenRequest): net.Server | undefined {
  const socket = claimParked(key);
  if (!socket) return undefined;
  track(server, key);
  listenOnHandle(server, socket.handle, request);
  // listen() made the server the handle's owner (net's onconnection): deliver as the socket would have.
  server.once('listening', () => {
    for (const client of socket.held) socket.handle.onconnection(0, client as object);
  });
  return server;
}

/**
 * Watch a server's emit: a 'request' whose handler throws synchronously is answered (500) and
 * reported instead of left hanging; the first request says the port speaks HTTP; an 'upgrade' is
 * recorded. On the request path this costs one
 * call, a comparison and a try block, which V8 runs at full speed when nothing throws: emit
 * ('request') took a median 31 ns wrapped against 21 ns unwrapped (15 runs of 5 M emits, Node
 * 20, 2 shared cores), next to the ~150–400 µs a keep-alive request takes end to end there.
 */
function watchServer(server: net.Server): void {
  if (watched.has(server)) return;
  watched.add(server);
  const emit = server.emit as (this: net.Server, event: string | symbol, ...args: unknown[]) => boolean;
  let spokeHttp = false;
  server.emit = function devhotEmit(this: net.Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'request') {
      if (!spokeHttp) {
        spokeHttp = true;
        const port = (args[0] as http.IncomingMessage).socket?.localPort;
        if (port !== undefined) host.httpPort?.(port);
      }
      try {
        return emit.call(this, event, ...args);
      } catch (error) {
        answerThrow(args[0] as http.IncomingMessage, args[1] as http.ServerResponse, error);
        host.requestError?.(error);
        return true;
      }
    }
    if (event === 'upgrade') trackUpgrade(this, args[0] as http.IncomingMessage, args[1] as net.Socket);
    return emit.call(this, event, ...args);
  } as typeof server.emit;
}

export function urlOf(address: net.AddressInfo): string {
  const hostName =
    address.address === '::' || address.address === '0.0.0.0'
      ? 'localhost'
      : address.family === 'IPv6'
        ? `[${address.address}]`
        : address.address;
  return `http://${hostName}:${address.port}/`;
}

/** Node's listen() overloads, narrowed to a TCP port; undefined for what passes through. */
function parseListenArgs(args: unknown[]): ListenRequest | undefined {
  const callback = typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as () => void) : undefined;
  const rest = callback ? args.slice(0, -1) : args;
  const first = rest[0];
  let port: number | undefined;
  let hostName: string | undefined;
  let backlog: number | undefined;
  if (first !== null && typeof first === 'object') {
    const o = first as { port?: unknown; host?: unknown; backlog?: unknown; path?: unknown; fd?: unknown; _handle?: unknown };
    if (o.path !== undefined || o.fd !== undefined || o._handle !== undefined || !('port' in o)) return undefined;
    port = toPort(o.port);
    hostName = typeof o.host === 'string' ? o.host : undefined;
    backlog = typeof o.backlog === 'number' ? o.backlog : undefined;
  } else {
    port = toPort(first);
    if (typeof rest[1] === 'string') {
      hostName = rest[1];
      backlog = typeof rest[2] === 'number' ? rest[2] : undefined;
    } else if (typeof rest[1] === 'number') {
      backlog = rest[1];
    }
  }
  if (!port) return undefined;
  return { port, host: hostName, backlog, callback };
}

function toPort(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

/** Wait (bounded) for the binds started so far, so the banner can show every URL. */
export async function settleBinds(timeout: number): Promise<void> {
  if (binding.size === 0) return;
  await Promise.race([Promise.all(binding), new Promise<void>((resolve) => setTimeout(resolve, timeout).unref())]);
}

/**
 * Stop every server devhot knows of and wait (bounded) for their requests to finish. For a
 * restart the connections are retired gently (see retire()); on exit idle ones close at once.
 */
export async function drainServers(timeout: number, exiting: boolean): Promise<void> {
  draining = true;
  const servers = new Map<net.Server, Target | undefined>();
  for (const [key, server] of owners) servers.set(server, exiting ? undefined : targetOf(key));
  let closed = 0;
  const drained = [...servers].map(
    ([server, target]) =>
      new Promise<void>((resolve) => {
        server.once('close', () => resolve());
        // devhot exits: nobody will serve these websockets again (1001), whatever the option.
        closed += retire(server, { forwardTo: target, websockets: exiting ? GOING_AWAY : reloadClose() });
        if (exiting && server instanceof http.Server) server.closeIdleConnections();
      }),
  );
  if (closed > 0 && !exiting) host.closedUpgraded?.(closed, 'restart');
  await Promise.race([Promise.all(drained), new Promise<void>((resolve) => setTimeout(resolve, timeout).unref())]);
}

/** Where a request for `key` reaches whoever accepts on that socket now (loopback for wildcards). */
function targetOf(key: ListenKey): Target {
  const { host, port } = parseListenKey(key);
  if (host === '' || host === '0.0.0.0') return { host: '127.0.0.1', port };
  if (host === '::') return { host: '::1', port };
  return { host, port };
}
