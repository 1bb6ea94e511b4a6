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
    throw new DevhotError(ErrorCodes.NO_SESSION, `no devhot session is running: ${file} is stale (process ${session.pid} is gone).`, {
      fix: FIX,
    });
  }
  return session;
}

export async function connect(options: ConnectOptions = {}): Promise<DevhotConnection> {
  let session: SessionFile;
  if (options.url !== undefined && options.token !== undefined) {
    session = {
      protocol: PROTOCOL_VERSION,
      version: '',
      pid: 0,
      url: options.url,
      token: options.token,
      root: path.resolve(options.root ?? process.cwd()),
    };
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

function open(ws: WebSocket, session: SessionFile, connectTimeout: number, requestTimeout: number): Promise<DevhotConnection> {
  return new Connection(ws, session, requestTimeout).greeting(connectTimeout);
}

/**
 * One connection. `greeting()` waits for the server's 'connected' message, turning every way
 * this can fail into a clear error. One 'message' handler serves from the first frame on: the
 * greeting and a standing error often arrive in one TCP chunk, and are emitted synchronously.
 * Messages that arrive before the caller's `await connect()` has resumed are held and delivered
 * on the next turn, so listeners attached right after the await see them.
 */
class Connection implements DevhotConnection {
  readonly closed: Promise<{ code: number; reason: string }>;
  private greeted: ConnectedMessage | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private held: ServerMessage[] | undefined = [];

  constructor(
    private readonly ws: WebSocket,
    readonly session: SessionFile,
    private readonly requestTimeout: number,
  ) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        for (const [id, request] of this.pending) {
          clearTimeout(request.timer);
          request.reject(new Error(`devhot closed the connection before replying (code ${code})`));
          this.pending.delete(id);
        }
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  get connected(): ConnectedMessage {
    return this.greeted!;
  }

  greeting(connectTimeout: number): Promise<DevhotConnection> {
    const { ws, session } = this;
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        if (this.greeted) return;
        clearTimeout(timer);
        ws.terminate();
        reject(error);
      };
      const timer = setTimeout(
        () =>
          fail(
            new DevhotError(ErrorCodes.NO_SESSION, `devhot at ${session.url} did not answer within ${connectTimeout} ms.`, {
              fix: `check that devhot (pid ${session.pid}) is not hung, or restart it.`,
            }),
          ),
        connectTimeout,
      );
      ws.on('error', (error: NodeJS.ErrnoException) => fail(connectError(session, error)));
      ws.on('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        const why = status === 401 ? 'it refused the token (the session file belongs to another run)' : `it answered HTTP ${status}`;
        fail(
          new DevhotError(ErrorCodes.NO_SESSION, `cannot connect to devhot at ${session.url}: ${why}.`, {
            fix: status === 503 ? 'too many clients are connected; close some and retry.' : FIX,
          }),
        );
      });
      void this.closed.then(() =>
        fail(new DevhotError(ErrorCodes.NO_SESSION, `devhot at ${session.url} closed the connection before greeting.`, { fix: FIX })),
      );
      ws.on('message', (data, isBinary) => {
        const message = isBinary ? undefined : parseServerMessage(String(data));
        if (!message) return;
        if (this.greeted) return this.receive(message);
        const refused = refuseGreeting(session, message);
        if (refused) return fail(refused);
        clearTimeout(timer);
        this.greeted = message as ConnectedMessage;
        resolve(this);
        setImmediate(() => this.release());
      });
    });
  }

  on<T extends ServerMessageType | '*'>(type: T, listener: (message: MessageOf<T>) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener as Listener);
    return () => this.off(type, listener);
  }

  off<T extends ServerMessageType | '*'>(type: T, listener: (message: MessageOf<T>) => void): void {
    this.listeners.get(type)?.delete(listener as Listener);
  }

  request<M extends RequestMethod>(method: M, params?: RequestParams<M>): Promise<RequestResults[M]> {
    return new Promise((resolve, reject) => {
      const id = String(this.nextId++);
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`devhot did not reply to '${method}' within ${this.requestTimeout} ms`));
      }, this.requestTimeout);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      try {
        this.sendMessage({ type: 'request', id, method, ...params } as ClientMessage);
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error as Error);
      }
    });
  }

  status(): Promise<AppState> {
    return this.request('status');
  }

  graph(): Promise<ModuleInfo[]> {
    return this.request('graph');
  }

  reload(all = false): Promise<unknown> {
    return this.request('reload', { all });
  }

  restart(): Promise<unknown> {
    return this.request('restart');
  }

  send(event: string, data?: unknown): void {
    this.sendMessage({ type: 'custom', event, data });
  }

  subscribeLogs(): void {
    this.sendMessage({ type: 'subscribe', logs: true });
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    // A server that does not answer the close handshake is cut off.
    const timer = setTimeout(() => this.ws.terminate(), 2000);
    await this.closed;
    clearTimeout(timer);
  }

  /** A message after the greeting: held until the caller has its connection, then dispatched. */
  private receive(message: ServerMessage): void {
    if (this.held) this.held.push(message);
    else this.dispatch(message);
  }

  private release(): void {
    const messages = this.held ?? [];
    this.held = undefined;
    for (const m of messages) this.dispatch(m);
  }

  private dispatch(message: ServerMessage): void {
    if (message.type === 'reply') {
      const request = this.pending.get(message.id);
      if (request) {
        this.pending.delete(message.id);
        clearTimeout(request.timer);
        if (message.ok) request.resolve(message.result);
        else request.reject(new Error(message.error));
      }
    }
    this.emit(message.type, message);
    this.emit('*', message);
  }

  private emit(key: string, message: ServerMessage): void {
    for (const listener of this.listeners.get(key) ?? []) {
      try {
        listener(message);
      } catch {
        // One listener's exception must not starve the others or the connection.
      }
    }
  }

  private sendMessage(message: ClientMessage): void {
    if (this.ws.readyState !== WebSocket.OPEN) throw new Error('the connection to devhot is closed');
    this.ws.send(JSON.stringify(message));
  }
}

function parseServerMessage(text: string): ServerMessage | undefined {
  try {
    const message = JSON.parse(text) as ServerMessage;
    return message && typeof message.type === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}

/** Why a first message is not a greeting this client can accept, or undefined when it is. */
function refuseGreeting(session: SessionFile, message: ServerMessage): Error | undefined {
  if (message.type !== 'connected') return new Error(`devhot at ${session.url} did not greet with 'connected' but '${message.type}'.`);
  if (message.protocol === PROTOCOL_VERSION) return undefined;
  return new DevhotError(
    ErrorCodes.NO_SESSION,
    `devhot ${message.version} speaks channel protocol ${message.protocol}; this client speaks ${PROTOCOL_VERSION}.`,
    {
      fix: 'use the devhot package of the running session (npx devhot from the same project).',
    },
  );
}

function connectError(session: SessionFile, error: NodeJS.ErrnoException): DevhotError {
  const refused = error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET';
  const message = refused
    ? `no devhot session is running: nothing listens at ${session.url} (the session file is stale).`
    : `cannot connect to devhot at ${session.url}: ${error.message}`;
  return new DevhotError(ErrorCodes.NO_SESSION, message, { fix: FIX, cause: error });
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
