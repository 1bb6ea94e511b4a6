/**
 * devhot's browser client. The supervisor serves it at CLIENT_PATH with `?token=`; the app puts
 * a `<script type="module">` for it into its HTML pages. It connects to the channel on the same
 * host:port it was loaded from and reacts to what the server says:
 *
 * - a server update that may change the page, a full reload, a finished restart: reload (debounced)
 * - a stylesheet change: swap the matching `<link>`s, no reload
 * - an error: the overlay; the next good update clears it
 * - the connection lost: poll until devhot answers, then reload
 *
 * Browser code: DOM types only, and from the protocol only types and constants.
 */
import type { ServerMessage } from '../src/shared/protocol.js';
import { CHANNEL_PATH, PROTOCOL_VERSION } from '../src/shared/protocol.js';
import { clearOverlay, showOverlay } from './overlay.js';

declare global {
  interface Window {
    /** For tests and the curious: whether the channel is open. */
    __devhot?: { connected: boolean };
  }
}

const RELOAD_DEBOUNCE_MS = 50;
const POLL_INTERVAL_MS = 750;
const RETRY_MAX_MS = 5000;

const here = new URL(import.meta.url);
const token = here.searchParams.get('token') ?? '';
const channelUrl = new URL(CHANNEL_PATH, here);
channelUrl.protocol = here.protocol === 'https:' ? 'wss:' : 'ws:';
channelUrl.search = '';
channelUrl.searchParams.set('token', token);

const log = (...args: unknown[]) => console.debug('[devhot]', ...args);

let leaving = false;
let reloadTimer: ReturnType<typeof setTimeout> | undefined;

/** Several saves land within a few ms of each other: reload once. */
function reload(why: string): void {
  if (reloadTimer !== undefined) return;
  log(`reload: ${why}`);
  reloadTimer = setTimeout(() => location.reload(), RELOAD_DEBOUNCE_MS);
}

// -------------------------------------------------------------------------------------- messages

function handle(message: ServerMessage): void {
  switch (message.type) {
    case 'connected':
      if (message.protocol !== PROTOCOL_VERSION) {
        console.warn(`[devhot] protocol ${message.protocol} on the server, ${PROTOCOL_VERSION} in this client: reload the page`);
      }
      if (message.state.error) showOverlay(message.state.error, 'standing');
      return;
    case 'update':
      // A save that gave no module a new instance (a non-source file) cannot change the page,
      // nor fix a standing error.
      if (message.rung !== 'hot-update' || message.modules.length > 0) {
        clearOverlay();
        reload(`${message.files.join(', ') || 'server'} updated`);
      }
      return;
    case 'full-reload':
      reload(message.reason);
      return;
    case 'css-update':
      updateStylesheets(message.path, message.timestamp);
      return;
    case 'error':
      showOverlay(message.error, message.source);
      return;
    case 'error-cleared':
      clearOverlay();
      return;
    case 'restart':
      if (message.phase === 'ready') {
        clearOverlay();
        reload(`restarted (${message.reason})`);
      }
      return;
    case 'status':
      if (message.state.status === 'error' && message.state.error) showOverlay(message.state.error, 'standing');
      return;
    case 'custom':
      // Server code's `import.meta.hot.send(event, data)`: page code may listen for it.
      window.dispatchEvent(new CustomEvent(`devhot:${message.event}`, { detail: message.data }));
      return;
    case 'log':
    case 'reply':
      // Only for tool clients (they subscribe or ask); a page does neither.
      return;
    default: {
      const unknown: never = message;
      log('unknown message', unknown);
    }
  }
}

// ----------------------------------------------------------------------------------- stylesheets

/** Links being replaced: a second save before the new sheet loads must not clone them again. */
const outgoing = new WeakSet<HTMLLinkElement>();

/** How many trailing path segments two paths share (0: not even the file name). */
function sharedSuffix(a: string, b: string): number {
  const x = a.split('/').filter(Boolean);
  const y = b.split('/').filter(Boolean);
  let n = 0;
  while (n < x.length && n < y.length && x[x.length - 1 - n] === y[y.length - 1 - n]) n++;
  return n;
}

/** Swap every stylesheet whose URL path ends like `path` (relative to the project root). */
function updateStylesheets(path: string, timestamp: number): void {
  const candidates: Array<{ link: HTMLLinkElement; url: URL; score: number }> = [];
  for (const link of document.querySelectorAll<HTMLLinkElement>('link[rel~="stylesheet"][href]')) {
    if (outgoing.has(link)) continue;
    const url = new URL(link.href, location.href);
    let pathname = url.pathname;
    try {
      pathname = decodeURIComponent(pathname);
    } catch {
      // keep it encoded
    }
    const score = sharedSuffix(pathname, path.replaceAll('\\', '/'));
    if (score > 0) candidates.push({ link, url, score });
  }
  // `public/a/site.css` and `public/b/site.css`: swap the link that matches the most of the path.
  const best = Math.max(0, ...candidates.map((c) => c.score));
  const chosen = candidates.filter((c) => c.score === best);
  if (chosen.length === 0) {
    log(`css-update ${path}: no <link rel="stylesheet"> on this page matches`);
    return;
  }
  for (const { link, url } of chosen) {
    url.searchParams.set('t', String(timestamp));
    const next = link.cloneNode() as HTMLLinkElement;
    next.href = url.href;
    outgoing.add(link);
    // The old sheet stays until the new one has loaded: no flash of unstyled content.
    next.addEventListener('load', () => link.remove(), { once: true });
    next.addEventListener(
      'error',
      () => {
        next.remove();
        outgoing.delete(link);
      },
      { once: true },
    );
    link.after(next);
  }
  log(`css-update ${path}`);
}

// -------------------------------------------------------------------------------------- channel

const state = { connected: false };

function connect(attempt = 0): void {
  let opened = false;
  const socket = new WebSocket(channelUrl);
  socket.addEventListener('open', () => {
    opened = true;
    state.connected = true;
    log('connected');
  });
  socket.addEventListener('message', (event) => {
    let message: ServerMessage;
    try {
      message = JSON.parse(String(event.data)) as ServerMessage;
    } catch {
      return;
    }
    if (message && typeof message === 'object' && typeof message.type === 'string') handle(message);
  });
  socket.addEventListener('close', (event) => {
    state.connected = false;
    if (leaving) return;
    if (opened) {
      log(`connection lost (${event.code}${event.reason ? ` ${event.reason}` : ''}); waiting for devhot to come back`);
      void waitForServer().then(() => reload('devhot is back'));
    } else {
      // Never got in (devhot not up yet, or a stale token): try again, slower each time. No
      // reload here: a token the server refuses would otherwise reload the page forever.
      setTimeout(() => connect(attempt + 1), Math.min(RETRY_MAX_MS, 250 * 2 ** attempt));
    }
  });
}

/**
 * Resolves once the page's own server answers again (any answer: it is up). Not devhot's
 * channel address: a devhot started again listens on a new random channel port, and the
 * reloaded page brings the new address (and token) with it.
 */
async function waitForServer(): Promise<void> {
  for (;;) {
    try {
      await fetch(location.href, { cache: 'no-store' });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }
}

function start(): void {
  // On the page twice (injected, and added by hand with another URL): one client is enough.
  if (window.__devhot) return;
  window.__devhot = state;
  // Navigating away closes the socket too; that is no lost connection.
  addEventListener('pagehide', () => (leaving = true));
  addEventListener('beforeunload', () => (leaving = true));
  addEventListener('pageshow', (event) => {
    // Back from the bfcache: the socket was closed meanwhile, and the page may be stale.
    if (event.persisted) location.reload();
  });
  connect();
}

start();
