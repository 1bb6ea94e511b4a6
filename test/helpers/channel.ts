/**
 * Helpers for the channel and tool tests: a channel on 127.0.0.1 with fake handlers and a temp
 * session file, a `ws` client that records messages and waits for them with deadlines, and raw
 * upgrade / HTTP requests that report the status a refusal got.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { WebSocket, type ClientOptions } from 'ws';
import { createChannel, type Channel, type ChannelOptions } from '../../src/supervisor/channel.js';
import { CHANNEL_PATH, type AppState, type ModuleInfo, type ServerMessage } from '../../src/shared/protocol.js';
import { poll, type After } from './poll.js';

export function tempDir(t: After): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-channel-')));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Calls {
  reload: boolean[];
  restart: number;
  custom: Array<{ event: string; data: unknown }>;
}

export interface TestChannel {
  channel: Channel;
  root: string;
  sessionFile: string;
  clientFile: string;
  calls: Calls;
  state: AppState;
}

export const GRAPH: ModuleInfo[] = [
  { file: 'src/server.ts', importers: [], imports: ['src/db.ts'] },
  { file: 'src/db.ts', importers: ['src/server.ts'], imports: [] },
];

/** A channel with recording fake handlers; closed after the test. */
export async function startChannel(t: After, overrides: Partial<ChannelOptions> = {}): Promise<TestChannel> {
  const root = tempDir(t);
  const sessionFile = path.join(root, 'node_modules', '.devhot', 'session.json');
  const clientFile = path.join(root, 'client.js');
  fs.writeFileSync(clientFile, 'export const devhotClient = true;\n');
  const calls: Calls = { reload: [], restart: 0, custom: [] };
  const state: AppState = { status: 'running', pid: 4242, urls: ['http://localhost:3000'], error: undefined };
  const channel = await createChannel({
    root,
    version: '9.9.9-test',
    host: '127.0.0.1',
    port: 0,
    allowedHosts: [],
    appOrigins: () => ['http://localhost:3000'],
    sessionFile,
    clientFile,
    handlers: {
      state: () => state,
      graph: async () => GRAPH,
      reload: async (all) => {
        calls.reload.push(all);
        return { rung: 'entry-reexecuted', all };
      },
      restart: async () => {
        calls.restart++;
        return { restarted: true };
      },
      custom: (event, data) => void calls.custom.push({ event, data }),
    },
    ...overrides,
  });
  t.after(() => channel.close());
  return { channel, root, sessionFile, clientFile, calls, state };
}

export interface TestClient {
  ws: WebSocket;
  messages: ServerMessage[];
  /** The first recorded message (from `from` on) matching `match`, waiting up to `timeout`. */
  next<T extends ServerMessage['type']>(
    type: T,
    match?: (m: Extract<ServerMessage, { type: T }>) => boolean,
    timeout?: number,
  ): Promise<Extract<ServerMessage, { type: T }>>;
  sendJson(value: unknown): void;
  request(method: string, extra?: Record<string, unknown>): Promise<Extract<ServerMessage, { type: 'reply' }>>;
  closed: Promise<{ code: number }>;
}

let ids = 0;

/** A connected `ws` client (the token in the query unless `token: null`), closed after the test. */
export async function openClient(
  t: After,
  channel: Channel,
  options: ClientOptions & { token?: string | null; bearer?: boolean } = {},
): Promise<TestClient> {
  const { token = channel.token, bearer = false, ...wsOptions } = options;
  const url = token === null || bearer ? channel.url : `${channel.url}?token=${encodeURIComponent(token)}`;
  if (bearer && token !== null) wsOptions.headers = { ...wsOptions.headers, Authorization: `Bearer ${token}` };
  const ws = new WebSocket(url, wsOptions);
  const messages: ServerMessage[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as ServerMessage));
  const closed = new Promise<{ code: number }>((resolve) => ws.on('close', (code) => resolve({ code })));
  ws.on('error', () => {});
  t.after(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
  const client: TestClient = {
    ws,
    messages,
    closed,
    async next(type, match, timeout = 5000) {
      const found = await poll(
        () => messages.find((m) => m.type === type && (!match || match(m as never))),
        `a '${type}' message`,
        timeout,
        10,
      );
      return found as never;
    },
    sendJson(value) {
      ws.send(typeof value === 'string' ? value : JSON.stringify(value));
    },
    async request(method, extra = {}) {
      const id = `r${++ids}`;
      client.sendJson({ type: 'request', id, method, ...extra });
      return client.next('reply', (m) => m.id === id);
    },
  };
  return client;
}

/** A websocket upgrade by hand: the status code the server answered (101 when it upgraded). */
export function upgradeStatus(
  port: number,
  options: { path?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: options.path ?? CHANNEL_PATH,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        'Sec-WebSocket-Version': '13',
        ...options.headers,
      },
      agent: false,
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '', headers: res.headers });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A plain HTTP request to the channel server. */
export function httpRequest(
  port: number,
  method: string,
  pathname: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: pathname, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `promise`, or a failure naming `what` after `timeout` ms. */
export function within<T>(promise: Promise<T>, what: string, timeout = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
