/**
 * The channel's gate for this session: the pure rules of channel-guard.ts applied with this
 * run's tokens, the bound host, the names --host added and the app's current origins. Upgrades
 * and HTTP requests pass the same gate; it answers with the refusal (status and a message that
 * says what to do) or lets the request through with the role its token grants.
 *
 * Two tokens, two roles. The control token (only in the session file, mode 0600) may do
 * everything: requests (status, graph, reload, restart), custom events, app logs. The browser
 * token travels in the script tag injected into the app's pages, which anyone who can load a
 * page sees: it may only receive events (updates, errors, reloads). A page that leaks it lets
 * nobody restart, reload or talk to the app.
 */
import type http from 'node:http';
// The Host rules are shared with the app (which injects the client only for allowed Hosts).
import { bareHost, hostAllowed, hostnameOf, isExposed, type HostRule } from '../shared/host-rules.js';
import { originAllowed, tokenMatches, tokenOf } from './channel-guard.js';

/** What a token lets its holder do (see the file header). */
export type Role = 'control' | 'browser';

export interface GateOptions {
  /** This session's control token (the session file's). */
  token: string;
  /** This session's browser token (the script tag's): events only. */
  browserToken: string;
  /** The address the channel binds. */
  host: string;
  /** Extra Host names allowed (from --host). */
  allowedHosts: readonly string[];
  /** Origins of the app's URLs; they change as the app starts listening. */
  appOrigins(): string[];
}

/** How the bound host appears in URLs: wildcard addresses become 'localhost', IPv6 gets brackets. */
export function urlHost(host: string): string {
  const bare = bareHost(host);
  if (bare === '0.0.0.0' || bare === '::' || bare === '') return 'localhost';
  return bare.includes(':') ? `[${bare}]` : bare;
}

export function requestUrl(req: http.IncomingMessage): URL {
  // Only the path and query matter; the base is never used for anything else.
  return new URL(req.url ?? '/', 'http://devhot.invalid');
}

export class ChannelGate {
  private readonly hostRule: HostRule;
  /** The channel's own port, known once it listens (its own pages' origin needs it). */
  port = 0;

  constructor(private readonly options: GateOptions) {
    this.hostRule = { extra: options.allowedHosts.map(bareHost), exposed: isExposed(options.host) };
  }

  /** The role the request's token grants, if any. */
  roleOf(req: http.IncomingMessage, url: URL): Role | undefined {
    const given = tokenOf(req.headers, url);
    if (tokenMatches(given, this.options.token)) return 'control';
    if (tokenMatches(given, this.options.browserToken)) return 'browser';
    return undefined;
  }

  /**
   * The refusal for this request, or undefined to let it pass. `needs`: 'none' (the client
   * script), 'browser' (either token: the websocket), 'control' (the control endpoints).
   */
  refusal(req: http.IncomingMessage, url: URL, needs: 'none' | Role): [number, string] | undefined {
    if (!hostAllowed(hostnameOf(req.headers.host), this.hostRule)) {
      return [403, `devhot: Host '${req.headers.host ?? ''}' is not allowed (DNS rebinding protection). Pass --host <name> to allow it.`];
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin, this.allowedOrigins())) {
      return [403, `devhot: Origin '${origin}' is not allowed: only the app's pages and devhot's own may connect.`];
    }
    if (needs === 'none') return undefined;
    const role = this.roleOf(req, url);
    if (!role) return [401, 'devhot: missing or wrong token. Tools read it from node_modules/.devhot/session.json.'];
    if (needs === 'control' && role !== 'control') {
      return [403, "devhot: this token may only receive events. Tools use the session file's token."];
    }
    return undefined;
  }

  private allowedOrigins(): string[] {
    let app: string[] = [];
    try {
      app = this.options.appOrigins();
    } catch {
      // A failing getter must not open the gate or crash it: only devhot's own origin then.
    }
    return [...app, ...this.ownOrigins()];
  }

  /**
   * devhot's own pages: any loopback name (originAllowed treats them as one), the bound host and
   * the names --host added, on the channel's port.
   */
  private ownOrigins(): string[] {
    const { port } = this;
    return [
      `http://localhost:${port}`,
      `http://${urlHost(this.options.host)}:${port}`,
      ...this.hostRule.extra.filter((h) => !h.startsWith('.')).map((h) => `http://${urlHost(h)}:${port}`),
    ];
  }
}
