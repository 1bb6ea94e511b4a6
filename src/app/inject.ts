/**
 * Puts devhot's browser client into the app's HTML pages, in the app process: a `<script>` tag
 * before the last `</body>` (or at the end) of a response that is HTML, not compressed, and
 * handed to `end()` whole. That is how `res.end(html)`, express `res.send`, fastify
 * `reply.send` and hono's node-server send a page. Anything else (other types, compressed,
 * streamed with `write()`, HEAD, 204/304, non-ASCII-compatible charsets) passes through byte
 * for byte.
 *
 * It patches `http.ServerResponse.prototype`, once per process. A `writeHead()` that carries the
 * headers of a response we may rewrite is held back until `end()` (where the body, and so the
 * corrected `Content-Length`, is known) or until `write()`/`flushHeaders()` (streaming: replayed
 * as given).
 */
import http from 'node:http';
import { CLIENT_PATH } from '../shared/protocol.js';

const PATCHED = Symbol.for('devhot.inject.patched');
const STATE = Symbol('devhot.inject.state');

/** Per response: 'held' while a writeHead waits for end(); 'done' once decided (no more tricks). */
interface State {
  phase: 'held' | 'done';
  /** The held writeHead's arguments. */
  args?: unknown[];
}

type Headers = http.OutgoingHttpHeaders | http.OutgoingHttpHeader[] | undefined;
type Res = http.ServerResponse & { [STATE]?: State; _contentLength?: unknown };

/** Encodings whose bytes keep ASCII as ASCII, so `</body>` can be found and a tag inserted. */
const ASCII_COMPATIBLE_STRING = new Set(['utf8', 'utf-8', 'latin1', 'binary', 'ascii']);
const ASCII_COMPATIBLE_CHARSET = /^(?:utf-?8|us-ascii|ascii|iso-8859-\d+|latin-?1|windows-125\d)$/;

export function installHtmlInjection(scriptTag: string): void {
  const proto = http.ServerResponse.prototype as Res & { [PATCHED]?: string };
  // Idempotent: a second call (a re-run entry, a test) must not wrap the wrappers.
  if (proto[PATCHED] !== undefined) {
    proto[PATCHED] = scriptTag;
    return;
  }
  proto[PATCHED] = scriptTag;
  const tag = () => proto[PATCHED] as string;

  const writeHead = proto.writeHead as (this: Res, ...args: unknown[]) => Res;
  const write = proto.write as (this: Res, ...args: unknown[]) => boolean;
  const end = proto.end as (this: Res, ...args: unknown[]) => Res;
  const flushHeaders = proto.flushHeaders as (this: Res) => void;

  /** Send a held writeHead as it was given (the response streams after all). */
  const release = (res: Res): void => {
    const state = res[STATE];
    if (!state || state.phase === 'done') return;
    state.phase = 'done';
    if (state.args) writeHead.apply(res, state.args);
  };

  proto.writeHead = function (this: Res, ...args: unknown[]) {
    const state = this[STATE];
    if (state?.phase === 'done' || this.headersSent) return writeHead.apply(this, args);
    const statusCode = Number(args[0]);
    const headers = (typeof args[1] === 'string' ? args[2] : args[1]) as Headers;
    if (!mayInject(this, statusCode, headers)) {
      this[STATE] = { phase: 'done' };
      return writeHead.apply(this, args);
    }
    // Hold it: end() decides. Readers of statusCode see the new one meanwhile.
    this.statusCode = statusCode;
    if (typeof args[1] === 'string') this.statusMessage = args[1];
    this[STATE] = { phase: 'held', args };
    return this;
  } as typeof proto.writeHead;

  proto.write = function (this: Res, ...args: unknown[]) {
    // Streamed: whatever comes, it passes through untouched.
    if (this[STATE]?.phase !== 'done') {
      release(this);
      this[STATE] = { phase: 'done' };
    }
    return write.apply(this, args);
  } as typeof proto.write;

  proto.flushHeaders = function (this: Res) {
    release(this);
    this[STATE] = { phase: 'done' };
    return flushHeaders.call(this);
  };

  proto.end = function (this: Res, ...args: unknown[]) {
    const state = this[STATE];
    if (state?.phase === 'done' || this.headersSent) return end.apply(this, args);
    this[STATE] = { phase: 'done' };
    return endWithTag(this, args, state?.args, tag(), { writeHead, end });
  } as typeof proto.end;
}

/** The response's own writeHead and end, from before the patch. */
interface Originals {
  writeHead: (this: Res, ...args: unknown[]) => Res;
  end: (this: Res, ...args: unknown[]) => Res;
}

/**
 * end() of a response that may get the tag: `held` is the writeHead held back until now. The body
 * gets the tag when it is a whole HTML page; the held headers are replayed with Content-Length
 * corrected and no ETag. Anything else is sent as it was given.
 */
function endWithTag(res: Res, args: unknown[], held: unknown[] | undefined, tag: string, { writeHead, end }: Originals): Res {
  const chunk = args[0];
  const encoding = typeof args[1] === 'string' ? args[1] : undefined;
  const headers = held ? ((typeof held[1] === 'string' ? held[2] : held[1]) as Headers) : undefined;
  const body = typeof chunk === 'function' ? undefined : chunk;
  const injected = mayInject(res, res.statusCode, headers) ? inject(body, encoding, charsetOf(res, headers), tag) : undefined;
  if (injected === undefined) {
    if (held) writeHead.apply(res, held);
    return end.apply(res, args);
  }
  const length = typeof injected === 'string' ? Buffer.byteLength(injected, encoding as BufferEncoding | undefined) : injected.length;
  let replay = held;
  if (held) {
    const at = typeof held[1] === 'string' ? 2 : 1;
    replay = [...held];
    replay[at] = adjustHeaders(held[at] as Headers, length);
  }
  if (res.hasHeader('content-length')) res.setHeader('content-length', length);
  // The validator describes the page without the tag, and the tag carries the session's
  // token: a 304 after devhot restarted would revive a page with a stale token. No ETag.
  res.removeHeader('etag');
  // hono's node-server may set the internal length instead of a header (trySetContentLength).
  if (typeof res._contentLength === 'number') res._contentLength = length;
  if (replay) writeHead.apply(res, replay);
  return end.call(res, injected, ...args.slice(1));
}

/** Whether the headers so far describe a response we may rewrite. */
function mayInject(res: Res, statusCode: number, headers: Headers): boolean {
  if (res.req?.method === 'HEAD') return false;
  if (statusCode < 200 || statusCode === 204 || statusCode === 304) return false;
  const type = String(headerOf(res, headers, 'content-type') ?? '');
  if (!/^\s*text\/html\s*(?:;|$)/i.test(type)) return false;
  const encoding = headerOf(res, headers, 'content-encoding');
  if (encoding !== undefined && String(encoding).trim().toLowerCase() !== 'identity') return false;
  return true;
}

function charsetOf(res: Res, headers: Headers): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(String(headerOf(res, headers, 'content-type') ?? ''));
  return match?.[1]?.toLowerCase();
}

/** A header from writeHead's argument (object, flat array or array of pairs), else as set. */
function headerOf(res: Res, headers: Headers, name: string): unknown {
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const pair of headers as unknown as unknown[][]) if (String(pair[0]).toLowerCase() === name) return pair[1];
    } else {
      for (let i = 0; i + 1 < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) return headers[i + 1];
    }
  } else if (headers) {
    for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return headers[key];
  }
  return res.getHeader(name);
}

/** The headers (same shape as given) with Content-Length corrected and no ETag (see end()). */
function adjustHeaders(headers: Headers, length: number): Headers {
  const fix = (name: unknown, value: unknown): unknown => {
    const key = String(name).toLowerCase();
    return key === 'content-length' ? String(length) : key === 'etag' ? undefined : value;
  };
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      const pairs = headers as unknown as unknown[][];
      return pairs.filter((p) => fix(p[0], p[1]) !== undefined).map((p) => [p[0], fix(p[0], p[1])]) as never;
    }
    const out: unknown[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const value = fix(headers[i], headers[i + 1]);
      if (value !== undefined) out.push(headers[i], value);
    }
    return out as Headers;
  }
  if (!headers) return headers;
  const out: http.OutgoingHttpHeaders = {};
  for (const key of Object.keys(headers)) {
    const value = fix(key, headers[key]);
    if (value !== undefined) out[key] = value as http.OutgoingHttpHeader;
  }
  return out;
}

/** The body with the tag in it, or undefined to leave it as it is. */
function inject(body: unknown, encoding: string | undefined, charset: string | undefined, tag: string): string | Buffer | undefined {
  if (charset !== undefined && !ASCII_COMPATIBLE_CHARSET.test(charset)) return undefined;
  if (typeof body === 'string') {
    if (encoding !== undefined && !ASCII_COMPATIBLE_STRING.has(encoding.toLowerCase())) return undefined;
    // Already there (injected, or added by hand): one client per page.
    if (body.length === 0 || body.includes(tag) || body.includes(CLIENT_PATH)) return undefined;
    const at = lastBodyClose(body);
    if (at < 0 && !isDocument(body)) return undefined;
    return at < 0 ? body + tag : body.slice(0, at) + tag + body.slice(at);
  }
  if (body instanceof Uint8Array) {
    if (body.length === 0) return undefined;
    const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    // latin1 maps each byte to one char, so indexes found in the text are byte offsets.
    const text = bytes.toString('latin1');
    if (text.includes(tag) || text.includes(CLIENT_PATH)) return undefined;
    const at = lastBodyClose(text);
    if (at < 0 && !isDocument(text)) return undefined;
    const tagBytes = Buffer.from(tag, 'utf8');
    return at < 0 ? Buffer.concat([bytes, tagBytes]) : Buffer.concat([bytes.subarray(0, at), tagBytes, bytes.subarray(at)]);
  }
  return undefined;
}

/**
 * A whole page (doctype or <html> first), as opposed to a fragment that htmx-style code swaps
 * into a page already running the client: those pass through untouched.
 */
function isDocument(text: string): boolean {
  return /^\s*(?:<!--[\s\S]*?-->\s*)*<(?:!doctype\s+html|html)[\s>]/i.test(text.slice(0, 4096));
}

function lastBodyClose(text: string): number {
  let at = -1;
  const re = /<\/body\s*>/gi;
  for (let m = re.exec(text); m; m = re.exec(text)) at = m.index;
  return at;
}
