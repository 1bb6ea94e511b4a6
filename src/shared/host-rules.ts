/**
 * Which Host names count as this machine's, for both processes: the channel refuses other Hosts
 * (supervisor/channel-guard.ts) and the app injects the browser client, whose tag carries a
 * token, only into responses to requests for them (app/inject.ts). The defence against DNS
 * rebinding: a page on `evil.example` whose name is rebound to 127.0.0.1 reaches a local server
 * with `Host: evil.example`. Only local names (and what `--host` adds) pass. IP literals cannot
 * be rebound, so when devhot is exposed (`--host`) any IP literal passes too (Vite's rule), which
 * lets a phone on the LAN use the server's IP. Pure functions, tested without sockets.
 */
import { isIP } from 'node:net';

/** A host name as written (`[::1]`, `LocalHost`) → lower case without IPv6 brackets. */
export function bareHost(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '');
}

/** `Host` header → lower-case hostname without port or IPv6 brackets; undefined if unparsable. */
export function hostnameOf(host: string | undefined): string | undefined {
  if (!host) return undefined;
  try {
    return bareHost(new URL(`http://${host}`).hostname);
  } catch {
    return undefined;
  }
}

export function isLoopbackName(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname.endsWith('.localhost') ||
    hostname === '::1' ||
    (isIP(hostname) === 4 && hostname.startsWith('127.'))
  );
}

/** 0.0.0.0, ::, or anything that is not a loopback address: devhot is reachable from outside. */
export function isExposed(bindHost: string): boolean {
  return !isLoopbackName(bareHost(bindHost));
}

export interface HostRule {
  /** Extra names (from `--host`), lower case. A leading '.' allows the name and its subdomains. */
  extra: readonly string[];
  /** The channel is bound beyond loopback: IP literals are allowed. */
  exposed: boolean;
}

/** The rule for a devhot bound to `bindHost` (`--host`): loopback names, plus that name when exposed. */
export function hostRuleFor(bindHost: string): HostRule {
  const exposed = isExposed(bindHost);
  return { extra: exposed ? [bareHost(bindHost)] : [], exposed };
}

export function hostAllowed(hostname: string | undefined, rule: HostRule): boolean {
  if (!hostname) return false;
  if (isLoopbackName(hostname)) return true;
  if (rule.exposed && isIP(hostname) !== 0) return true;
  for (const name of rule.extra) {
    if (name === hostname) return true;
    if (name.startsWith('.') && (hostname === name.slice(1) || hostname.endsWith(name))) return true;
  }
  return false;
}
