/**
 * The channel's gate: who may talk to devhot. Pure functions over request headers, so every rule
 * is testable without sockets. The channel answers every refusal before a websocket upgrade
 * completes (channel.ts).
 *
 * - Token: a random per-session secret, compared in constant time. Browsers pass it in the
 *   `token` query parameter (from the injected script's URL), tools in `Authorization: Bearer`.
 * - Host: against DNS rebinding. A page on `evil.example` whose name is rebound to 127.0.0.1
 *   reaches the channel with `Host: evil.example`; only local names (and what `--host` adds)
 *   are accepted. IP literals cannot be rebound, so when devhot is exposed (`--host`) any IP
 *   literal is accepted too (Vite's rule), which lets a phone on the LAN use the server's IP.
 * - Origin: against cross-site websocket hijacking. Browsers always send it on upgrades; it must
 *   be the app's origin or devhot's own. Tools send none and are let through on the token alone.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { bareHost, isLoopbackName } from '../shared/host-rules.js';

/** Constant-time token comparison (the length is not a secret: every token has the same one). */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** The token from `Authorization: Bearer <token>` or the `token` query parameter. */
export function tokenOf(headers: IncomingHttpHeaders, url: URL): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  return url.searchParams.get('token') ?? undefined;
}

function parseOrigin(text: string): { protocol: string; hostname: string; port: string } | undefined {
  if (text === 'null') return undefined;
  try {
    const url = new URL(text);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    const hostname = bareHost(url.hostname);
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    return { protocol: url.protocol, hostname, port };
  } catch {
    return undefined;
  }
}

/**
 * An origin the channel accepts: one of `allowed` exactly, or, when an allowed origin is on a
 * loopback name, any loopback name with the same scheme and port (`http://127.0.0.1:3000` is the
 * same server as `http://localhost:3000`).
 */
export function originAllowed(origin: string, allowed: readonly string[]): boolean {
  const o = parseOrigin(origin);
  if (!o) return false;
  for (const candidate of allowed) {
    const a = parseOrigin(candidate);
    if (!a || a.protocol !== o.protocol || a.port !== o.port) continue;
    if (a.hostname === o.hostname) return true;
    if (isLoopbackName(a.hostname) && isLoopbackName(o.hostname)) return true;
  }
  return false;
}
