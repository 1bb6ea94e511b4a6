/**
 * Puts devhot's browser client into the app's HTML pages, in the app process: a `<script>` tag
 * before the page's real `</body>` (html-scan.ts; or at the end) of a response that is HTML, not
 * compressed, not partial, and handed to `end()` whole. That is how `res.end(html)`, express
 * `res.send`, fastify `reply.send` and hono's node-server send a page. Anything else (other
 * types, compressed, streamed with `write()`, HEAD, 204/206/304, `Content-Range`,
 * non-ASCII-compatible charsets) passes through byte for byte.
 *
 * The tag carries the channel's token, so it goes only into responses to requests whose Host is
 * this machine's (shared/host-rules.ts): a DNS-rebinding page must not read it (issue #11.6).
 * A response with a Content-Security-Policy gets, in that response only, what the client needs
 * to run (csp.ts), and the tag the page's nonce where the policy trusts by nonce.
 *
 * It patches `http.ServerResponse.prototype`, once per process. A `writeHead()` that carries the
 * headers of a response we may rewrite is held back until `end()` (where the body, and so the
 * corrected `Content-Length`, is known) or until `write()`/`flushHeaders()` (streaming: replayed
 * as given).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { CLIENT_PATH } from '../shared/protocol.js';
import { hostAllowed, hostnameOf, type HostRule } from '../shared/host-rules.js';
import { amendCsp, CSP_HEADERS, tagNonce, type ClientSources } from './csp.js';
import { bodyCloseIndex } from './html-scan.js';
import { headerOf, headerValues, rewriteHeaders, type Headers } from './response-headers.js';

const PATCHED = Symbol.for('devhot.inject.patched');
const STATE = Symbol('devhot.inject.state');

/** Per response: 'held' while a writeHead waits for end(); 'done' once decided (no more tricks). */
interface State {
  phase: 'held' | 'done';
  /** The held writeHead's arguments. */
  args?: unknown[];
}

type Res = http.ServerResponse & { [STATE]?: State; _contentLength?: unknown };

export interface InjectOptions {
  /** Host names whose pages get the tag. Default: this machine's (loopback names and IPs). */
  hosts?: HostRule;
}

/** What the patch injects, replaced by each install (a test, a re-run entry). */
interface Settings {
  tag: string;
  hosts: HostRule;
  /** The client's origins, for CSP; undefined when the tag names none (nothing to allow). */
  sources: ClientSources | undefined;
}

/** Encodings whose bytes keep ASCII as ASCII, so `</body>` can be found and a tag inserted. */
const ASCII_COMPATIBLE_STRING = new Set(['utf8', 'utf-8', 'latin1', 'binary', 'ascii']);
const ASCII_COMPATIBLE_CHARSET = /^(?:utf-?8|us-ascii|ascii|iso-8859-\d+|latin-?1|windows-125\d)$/;

export function installHtmlInjection(scriptTag: string, options: InjectOptions = {}): void {
  const proto = http.ServerResponse.prototype as Res & { [PATCHED]?: Settings };
  const settings: Settings = { tag: scriptTag, hosts: options.hosts ?? { extra: [], exposed: false }, sources: clientSources(scriptTag) };
  // Idempotent: a second call (a re-run entry, a test) must not wrap the wrappers.
  if (proto[PATCHED] !== undefined) {
    proto[PATCHED] = settings;
    return;
  }
  proto[PATCHED] = settings;
  const current = () => proto[PATCHED] as Settings;

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
    if (!mayInject(this, statusCode, headers, current())) {
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
    return endWithTag(this, args, state?.args, current(), { writeHead, end });
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
 * corrected, no ETag and the CSP widened for the client. Anything else is sent as it was given.
 */
function endWithTag(res: Res, args: unknown[], held: unknown[] | undefined, settings: Settings, { writeHead, end }: Originals): Res {
  const chunk = args[0];
  const encoding = typeof args[1] === 'string' ? args[1] : undefined;
  const at = held && typeof held[1] === 'string' ? 2 : 1;
  const headers = held ? (held[at] as Headers) : undefined;
  const body = typeof chunk === 'function' ? undefined : chunk;
  const allowed = mayInject(res, res.statusCode, headers, settings);
  const policies = allowed && settings.sources ? CSP_HEADERS.flatMap((name) => headerValues(res, headers, name)) : [];
  const nonce = tagNonce(policies, () => randomBytes(16).toString('base64'));
  const tag = nonce === undefined ? settings.tag : settings.tag.replace(/^<script\b/, `<script nonce="${nonce}"`);
  const injected = allowed ? inject(body, encoding, charsetOf(res, headers), tag) : undefined;
  if (injected === undefined) {
    if (held) writeHead.apply(res, held);
    return end.apply(res, args);
  }
  const length = typeof injected === 'string' ? Buffer.byteLength(injected, encoding as BufferEncoding | undefined) : injected.length;
  const csp = (value: unknown): unknown => {
    const amend = (v: unknown) => amendCsp(String(v), settings.sources!, nonce);
    return Array.isArray(value) ? value.map(amend) : amend(value);
  };
  let replay = held;
  if (held) {
    replay = [...held];
    replay[at] = rewriteHeaders(held[at] as Headers, (name, value) =>
      name === 'content-length'
        ? String(length)
        : name === 'etag'
          ? undefined
          : CSP_HEADERS.includes(name) && policies.length > 0
            ? csp(value)
            : value,
    );
  }
  if (res.hasHeader('content-length')) res.setHeader('content-length', length);
  if (policies.length > 0) {
    for (const name of CSP_HEADERS) if (res.hasHeader(name)) res.setHeader(name, csp(res.getHeader(name)) as string | string[]);
  }
  // The validator describes the page without the tag, and the tag carries the session's
  // token: a 304 after devhot restarted would revive a page with a stale token. No ETag.
  res.removeHeader('etag');
  // hono's node-server may set the internal length instead of a header (trySetContentLength).
  if (typeof res._contentLength === 'number') res._contentLength = length;
  if (replay) writeHead.apply(res, replay);
  return end.call(res, injected, ...args.slice(1));
}

/** Whether the request and the headers so far describe a response we may rewrite. */
function mayInject(res: Res, statusCode: number, headers: Headers, settings: Settings): boolean {
  if (res.req?.method === 'HEAD') return false;
  // 206 and Content-Range: a part of a page; one byte more and the ranges no longer add up.
  if (statusCode < 200 || statusCode === 204 || statusCode === 206 || statusCode === 304) return false;
  if (headerOf(res, headers, 'content-range') !== undefined) return false;
  const type = String(headerOf(res, headers, 'content-type') ?? '');
  if (!/^\s*text\/html\s*(?:;|$)/i.test(type)) return false;
  const encoding = headerOf(res, headers, 'content-encoding');
  if (encoding !== undefined && String(encoding).trim().toLowerCase() !== 'identity') return false;
  // Last, as it is the one check that parses: the tag's token is only for this machine's pages.
  return hostAllowed(hostnameOf(res.req?.headers.host), settings.hosts);
}

function charsetOf(res: Res, headers: Headers): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(String(headerOf(res, headers, 'content-type') ?? ''));
  return match?.[1]?.toLowerCase();
}

/** The origins the tag's client loads from and connects to, from its `src`. */
function clientSources(tag: string): ClientSources | undefined {
  const src = /\bsrc="([^"]+)"/.exec(tag)?.[1];
  if (!src) return undefined;
  try {
    const url = new URL(src);
    return { script: `${url.protocol}//${url.host}`, connect: `${url.protocol === 'https:' ? 'wss:' : 'ws:'}//${url.host}` };
  } catch {
    return undefined;
  }
}

/** The body with the tag in it, or undefined to leave it as it is. */
function inject(body: unknown, encoding: string | undefined, charset: string | undefined, tag: string): string | Buffer | undefined {
  if (charset !== undefined && !ASCII_COMPATIBLE_CHARSET.test(charset)) return undefined;
  if (typeof body === 'string') {
    if (encoding !== undefined && !ASCII_COMPATIBLE_STRING.has(encoding.toLowerCase())) return undefined;
    // Already there (injected, or added by hand): one client per page.
    if (body.length === 0 || body.includes(tag) || body.includes(CLIENT_PATH)) return undefined;
    const at = bodyCloseIndex(body);
    if (at < 0 && !isDocument(body)) return undefined;
    return at < 0 ? body + tag : body.slice(0, at) + tag + body.slice(at);
  }
  if (body instanceof Uint8Array) {
    if (body.length === 0) return undefined;
    const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    // latin1 maps each byte to one char, so indexes found in the text are byte offsets.
    const text = bytes.toString('latin1');
    if (text.includes(tag) || text.includes(CLIENT_PATH)) return undefined;
    const at = bodyCloseIndex(text);
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
