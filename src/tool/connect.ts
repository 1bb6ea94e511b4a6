/**
 * The tool client: how editors, scripts and the `devhot status|events|reload|restart` commands
 * talk to a running devhot. It finds the session in node_modules/.devhot/session.json (written
 * by the supervisor with mode 0600), connects with the token, and speaks the channel protocol.
 *
 * ```ts
 * import { connect } from 'devhot';
 * const devhot = await connect({ root: workspaceFolder });
 * devhot.on('error', (m) => showDiagnostic(m.error.file, m.error.line, m.error.message));
 * devhot.on('update', (m) => statusBar(`${m.rung} in ${m.duration} ms`));
 * await devhot.reload();
 * ```
 */
import fs from 'node:fs';
import path from 'node:path';
import { WebSocket } from 'ws';
import { DevhotError, ErrorCodes } from '../errors.js';
import {
  PROTOCOL_VERSION,
  type AppState,
  type ClientMessage,
  type ModuleInfo,
  type RequestMethod,
  type ServerMessage,
  type SessionFile,
} from '../shared/protocol.js';

export interface ConnectOptions {
  /** Project root; the session file is `<root>/node_modules/.devhot/session.json`. Default: cwd. */
  root?: string;
  /** The session file to read instead. */
  sessionFile?: string;
  /** Connect here with `token` instead of reading a session file. */
  url?: string;
  token?: string;
  /** How long to wait for the connection and for each request's reply, in ms. Default 10000 / 30000. */
  connectTimeout?: number;
  requestTimeout?: number;
}

export type ServerMessageType = ServerMessage['type'];
/** The message a listener for `type` receives; '*' receives every message. */
export type MessageOf<T extends ServerMessageType | '*'> = T extends '*' ? ServerMessage : Extract<ServerMessage, { type: T }>;
export type ConnectedMessage = MessageOf<'connected'>;

/** What each request method resolves to. */
export interface RequestResults {
  status: AppState;
  graph: ModuleInfo[];
  reload: unknown;
  restart: unknown;
}
export type RequestParams<M extends RequestMethod> = Omit<Extract<ClientMessage, { type: 'request'; method: M }>, 'type' | 'id' | 'method'>;

export interface DevhotConnection {
  /** The session found (url, token, pid, root, versions). */
  readonly session: SessionFile;
  /** The server's greeting: versions, app URLs and state at connect time. */
  readonly connected: ConnectedMessage;
  /** Listen for one message type ('*': all). Returns a function that removes the listener. */
  on<T extends ServerMessageType | '*'>(type: T, listener: (message: MessageOf<T>) => void): () => void;
  off<T extends ServerMessageType | '*'>(type: T, listener: (message: MessageOf<T>) => void): void;
  /** Send a request and resolve with its result; rejects on an error reply, a timeout or a closed connection. */
  request<M extends RequestMethod>(method: M, params?: RequestParams<M>): Promise<RequestResults[M]>;
  status(): Promise<AppState>;
  graph(): Promise<ModuleInfo[]>;
  /** Re-run the entry (all: every module). */
  reload(all?: boolean): Promise<unknown>;
  restart(): Promise<unknown>;
  /** A custom event for `import.meta.hot.on(event, cb)` in the app. */
  send(event: string, data?: unknown): void;
  /** Receive the app's output as 'log' messages. */
  subscribeLogs(): void;
  close(): Promise<void>;
  /** Resolves when the connection closes, for whatever reason (devhot exited, close()). */
  readonly closed: Promise<{ code: number; reason: string }>;
}

const FIX = 'start devhot first: npx devhot src/server.ts';

export function defaultSessionFile(root: string = process.cwd()): string {
  return path.join(path.resolve(root), 'node_modules', '.devhot', 'session.json');
}

/** The session file's content, or a DEVHOT_ERR_NO_SESSION error saying why there is none. */
export function readSession(file: string): SessionFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new DevhotError(ErrorCodes.NO_SESSION, `no devhot session is running (no ${file}).`, { fix: FIX });
  }
  let session: SessionFile;
  try {
    session = JSON.parse(text) as SessionFile;
  } catch {
    throw new DevhotError(ErrorCodes.NO_SESSION, `the devhot session file ${file} is not valid JSON.`, { fix: `delete it and ${FIX}` });
  }
  if (!session || typeof session.url !== 'string' || typeof session.token !== 'string' || typeof session.pid !== 'number') {
    throw new DevhotError(ErrorCodes.NO_SESSION, `the devhot session file ${file} is incomplete.`, { fix: `delete it and ${FIX}` });
  }
  if (!processAlive(session.pid)) {
    throw new DevhotError(ErrorCodes.NO_SESSION, `no devhot session is running: ${file} is stale (process ${session.pid} is gone).`, { fix: FIX });
  }
  return session;
}

export async function connect(options: ConnectOptions = {}): Promise<DevhotConnection> {
  let session: SessionFile;
  if (options.url !== undefined && options.token !== undefined) {
    session = { protocol: PROTOCOL_VERSION, version: '', pid: 0, url: options.url, token: options.token, root: path.resolve(options.root ?? process.cwd()) };
  } else {
    session = readSession(options.sessionFile ?? defaultSessionFile(options.root));
  }
  const ws = new WebSocket(session.url, { headers: { Authorization: `Bearer ${session.token}` } });
  return open(ws, session, options.connectTimeout ?? 10_000, options.requestTimeout ?? 30_000);
}

type Listener = (message: ServerMessage) => void;
interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Wait for the server's 'connected' greeting, turning every way this can fail into a clear error,
 * then hand out the connection. One 'message' handler serves from the first frame on: the
 * greeting and a standing error often arrive in one TCP chunk, and are emitted synchronously.
 * Messages that arrive before the caller's `await connect()` has resumed are held and delivered
 * on the next turn, so listeners attached right after the await see them.
 */
function open(ws: WebSocket, session: SessionFile, connectTimeout: number, requestTimeout: number): Promise<DevhotConnection> {
  const listeners = new Map<string, Set<Listener>>();
  const pending = new Map<string, Pending>();
  let nextId = 1;
  let greeted: ConnectedMessage | undefined;
  let held: ServerMessage[] | undefined = [];

  const emit = (key: string, message: ServerMessage) => {
    for (const listener of listeners.get(key) ?? []) {
      try {
        listener(message);
      } catch {
        // One listener's exception must not starve the others or the connection.
      }
    }
  };
  const dispatch = (message: ServerMessage) => {
    if (message.type === 'reply') {
      const request = pending.get(message.id);
      if (request) {
        pending.delete(message.id);
        clearTimeout(request.timer);
        if (message.ok) request.resolve(message.result);
        else request.reject(new Error(message.error));
      }
    }
    emit(message.type, message);
    emit('*', message);
  };

  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      for (const [id, request] of pending) {
        clearTimeout(request.timer);
        request.reject(new Error(`devhot closed the connection before replying (code ${code})`));
        pending.delete(id);
      }
      resolve({ code, reason: reason.toString() });
    });
  });

  const sendMessage = (message: ClientMessage) => {
    if (ws.readyState !== WebSocket.OPEN) throw new Error('the connection to devhot is closed');
    ws.send(JSON.stringify(message));
  };

  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      if (greeted) return;
      clearTimeout(timer);
      ws.terminate();
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new DevhotError(ErrorCodes.NO_SESSION, `devhot at ${session.url} did not answer within ${connectTimeout} ms.`, { fix: `check that devhot (pid ${session.pid}) is not hung, or restart it.` })),
      connectTimeout,
    );
    ws.on('error', (error: NodeJS.ErrnoException) => {
      const refused = error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET';
      fail(
        new DevhotError(ErrorCodes.NO_SESSION, refused ? `no devhot session is running: nothing listens at ${session.url} (the session file is stale).` : `cannot connect to devhot at ${session.url}: ${error.message}`, {
          fix: FIX,
          cause: error,
        }),
      );
    });
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      const why = status === 401 ? 'it refused the token (the session file belongs to another run)' : `it answered HTTP ${status}`;
      fail(new DevhotError(ErrorCodes.NO_SESSION, `cannot connect to devhot at ${session.url}: ${why}.`, { fix: status === 503 ? 'too many clients are connected; close some and retry.' : FIX }));
    });
    void closed.then(() => fail(new DevhotError(ErrorCodes.NO_SESSION, `devhot at ${session.url} closed the connection before greeting.`, { fix: FIX })));

    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let message: ServerMessage;
      try {
        message = JSON.parse(String(data)) as ServerMessage;
      } catch {
        return;
      }
      if (!message || typeof message.type !== 'string') return;
      if (greeted) {
        if (held) held.push(message);
        else dispatch(message);
        return;
      }
      if (message.type !== 'connected') return fail(new Error(`devhot at ${session.url} did not greet with 'connected' but '${message.type}'.`));
      if (message.protocol !== PROTOCOL_VERSION) {
        return fail(
          new DevhotError(ErrorCodes.NO_SESSION, `devhot ${message.version} speaks channel protocol ${message.protocol}; this client speaks ${PROTOCOL_VERSION}.`, {
            fix: 'use the devhot package of the running session (npx devhot from the same project).',
          }),
        );
      }
      clearTimeout(timer);
      greeted = message;
      resolve(connection(message));
      setImmediate(() => {
        const messages = held ?? [];
        held = undefined;
        for (const m of messages) dispatch(m);
      });
    });
  });

  function connection(connected: ConnectedMessage): DevhotConnection {
    const self: DevhotConnection = {
      session,
      connected,
      closed,
      on(type, listener) {
        let set = listeners.get(type);
        if (!set) listeners.set(type, (set = new Set()));
        set.add(listener as Listener);
        return () => self.off(type, listener);
      },
      off(type, listener) {
        listeners.get(type)?.delete(listener as Listener);
      },
      request(method, params) {
        return new Promise((resolve, reject) => {
          const id = String(nextId++);
          const timer = setTimeout(() => {
            pending.delete(id);
            reject(new Error(`devhot did not reply to '${method}' within ${requestTimeout} ms`));
          }, requestTimeout);
          pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
          try {
            sendMessage({ type: 'request', id, method, ...params } as ClientMessage);
          } catch (error) {
            clearTimeout(timer);
            pending.delete(id);
            reject(error as Error);
          }
        });
      },
      status: () => self.request('status'),
      graph: () => self.request('graph'),
      reload: (all = false) => self.request('reload', { all }),
      restart: () => self.request('restart'),
      send(event, data) {
        sendMessage({ type: 'custom', event, data });
      },
      subscribeLogs() {
        sendMessage({ type: 'subscribe', logs: true });
      },
      async close() {
        if (ws.readyState !== WebSocket.CLOSED) {
          ws.close(1000);
          // A server that does not answer the close handshake is cut off.
          const timer = setTimeout(() => ws.terminate(), 2000);
          await closed;
          clearTimeout(timer);
        }
      },
    };
    return self;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
