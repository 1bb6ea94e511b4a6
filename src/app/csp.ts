/**
 * A page's Content-Security-Policy, widened by exactly what devhot's injected client needs
 * (issue #10.7). helmet's defaults (`script-src 'self'`), used by the express and fastify
 * starters, block a script from the channel's origin: live reload and the overlay silently did
 * nothing. Pure functions over header values; inject.ts applies them to the response it injects
 * into, and only to that one.
 *
 * What the client needs, per policy (a header may hold several, comma-separated, and a response
 * several headers; every policy must allow it):
 *
 * - its `<script>` element: in the directive that governs it (`script-src-elem`, else
 *   `script-src`, else `default-src`), the channel's origin, or the page's nonce where the policy
 *   trusts by nonce under `'strict-dynamic'` (which ignores host sources). The tag then carries
 *   that nonce. A policy with `'strict-dynamic'` and hashes only gets a fresh nonce of devhot's.
 *   Never a nonce where there was none otherwise: a nonce turns `'unsafe-inline'` off.
 * - its websocket, and a `fetch` of the page itself while devhot restarts: in `connect-src`
 *   (else `default-src`), the channel's `ws:` origin and `'self'`.
 *
 * A directive that only applied through `default-src` is written out as a copy of it plus the
 * addition, so nothing else the page loads is allowed more than before. `'none'` is replaced,
 * since it only means something alone. The overlay's styles need nothing: they are a
 * constructed stylesheet, which CSP does not govern.
 */

/** Where the client comes from: `http://127.0.0.1:PORT` (script) and `ws://127.0.0.1:PORT` (channel). */
export interface ClientSources {
  script: string;
  connect: string;
}

/** Both header names carry policies; a report-only one must not report the client either. */
export const CSP_HEADERS: readonly string[] = ['content-security-policy', 'content-security-policy-report-only'];

type Directive = { name: string; sources: string[] };
const NONCE = /^'nonce-([A-Za-z0-9+/_=-]+)'$/;

/**
 * The nonce the tag must carry for these header values: the first nonce a policy trusts scripts
 * by, a fresh one (`fresh()`) when a `'strict-dynamic'` policy has none, else undefined.
 */
export function tagNonce(values: readonly string[], fresh: () => string): string | undefined {
  let strictWithoutNonce = false;
  for (const policy of values.flatMap(policiesOf)) {
    const script = scriptDirective(policy);
    if (!script) continue;
    const nonce = script.sources.map((s) => NONCE.exec(s)?.[1]).find(Boolean);
    if (nonce) return nonce;
    if (hasSource(script, "'strict-dynamic'")) strictWithoutNonce = true;
  }
  return strictWithoutNonce ? fresh() : undefined;
}

/** One header value (one or more policies) with what the client needs added. */
export function amendCsp(value: string, sources: ClientSources, nonce: string | undefined): string {
  return value
    .split(',')
    .map((text) => {
      const policy = parsePolicy(text);
      if (policy.length === 0) return text;
      allowScript(policy, sources, nonce);
      allowConnect(policy, sources);
      return policy.map((d) => [d.name, ...d.sources].join(' ')).join('; ');
    })
    .join(', ');
}

function allowScript(policy: Directive[], sources: ClientSources, nonce: string | undefined): void {
  const target = writable(policy, ['script-src-elem', 'script-src'], 'script-src');
  if (!target) return;
  if (nonce !== undefined && hasSource(target, `'nonce-${nonce}'`)) return;
  // Under 'strict-dynamic' host sources are ignored: only a nonce lets the tag in.
  if (hasSource(target, "'strict-dynamic'") && nonce !== undefined) add(target, `'nonce-${nonce}'`);
  else add(target, sources.script);
}

function allowConnect(policy: Directive[], sources: ClientSources): void {
  const target = writable(policy, ['connect-src'], 'connect-src');
  if (!target) return;
  add(target, sources.connect);
  // The client polls the page's own URL to see when a restarted devhot is back.
  add(target, "'self'");
}

/**
 * The directive to add to: the first of `names` the policy has; else a copy of `default-src`
 * under `create`; else none (nothing restricts that kind of load).
 */
function writable(policy: Directive[], names: string[], create: string): Directive | undefined {
  for (const name of names) {
    const found = policy.find((d) => d.name.toLowerCase() === name);
    if (found) return found;
  }
  const fallback = policy.find((d) => d.name.toLowerCase() === 'default-src');
  if (!fallback) return undefined;
  const copy = { name: create, sources: [...fallback.sources] };
  policy.push(copy);
  return copy;
}

function scriptDirective(policy: Directive[]): Directive | undefined {
  for (const name of ['script-src-elem', 'script-src', 'default-src']) {
    const found = policy.find((d) => d.name.toLowerCase() === name);
    if (found) return found;
  }
  return undefined;
}

function add(directive: Directive, source: string): void {
  if (hasSource(directive, source)) return;
  directive.sources = directive.sources.filter((s) => s.toLowerCase() !== "'none'");
  directive.sources.push(source);
}

function hasSource(directive: Directive, source: string): boolean {
  const wanted = source.toLowerCase();
  // Nonces are case-sensitive; keywords and hosts are not.
  return directive.sources.some((s) => (NONCE.test(s) ? s === source : s.toLowerCase() === wanted));
}

function policiesOf(value: string): Directive[][] {
  return value.split(',').map(parsePolicy);
}

/**
 * `a x y; b z` → directives, in order. A repeated directive is kept as written (browsers use
 * the first; so do the lookups here).
 */
function parsePolicy(text: string): Directive[] {
  return text
    .split(';')
    .map((part) => part.trim().split(/\s+/))
    .filter((tokens) => tokens[0] !== '')
    .map(([name, ...sources]) => ({ name: name!, sources }));
}
