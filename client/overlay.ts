/**
 * The error overlay: `<devhot-error-overlay>`, a custom element with its own (open) shadow DOM so
 * the page's styles neither reach it nor suffer from it. Every piece of text is set with
 * `textContent`: error messages quote user code and must never become markup.
 */
import type { ChannelError } from '../src/shared/protocol.js';

export const OVERLAY_TAG = 'devhot-error-overlay';

const STYLE = `
:host { position: fixed; inset: 0; z-index: 2147483647; display: block; }
.backdrop { position: fixed; inset: 0; background: rgba(0, 0, 0, 0.66); overflow: auto; }
.panel {
  box-sizing: border-box; margin: 48px auto; max-width: min(960px, calc(100vw - 32px));
  padding: 20px 24px; background: #181818; color: #e8e8e8; border-top: 6px solid #ff5555;
  border-radius: 6px; box-shadow: 0 8px 32px rgba(0, 0, 0, 0.5);
  font: 14px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}
.source { color: #aaa; font-size: 12px; margin-bottom: 8px; }
.message { color: #ff7b7b; font-weight: 600; white-space: pre-wrap; margin: 0 0 12px; }
.file { color: #6cb6ff; margin-bottom: 12px; }
pre { margin: 0 0 12px; padding: 12px; background: #0d0d0d; border-radius: 4px; overflow-x: auto; color: #ffd479; }
.fix { color: #9be29b; white-space: pre-wrap; margin-bottom: 12px; }
.hint { color: #888; font-size: 12px; }
[hidden] { display: none; }
`;

/**
 * The overlay's styles as a constructed stylesheet: a page's Content-Security-Policy governs
 * `<style>` elements (helmet's `style-src` without `'unsafe-inline'` would leave the overlay
 * unstyled) but not stylesheets built through the CSSOM. A `<style>` where a browser lacks them.
 */
function adoptStyle(root: ShadowRoot): void {
  if ('adoptedStyleSheets' in root && typeof CSSStyleSheet.prototype.replaceSync === 'function') {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
    root.adoptedStyleSheets = [sheet];
    return;
  }
  const style = document.createElement('style');
  style.textContent = STYLE;
  root.prepend(style);
}

class ErrorOverlay extends HTMLElement {
  readonly #root: ShadowRoot;
  readonly #parts: Record<'source' | 'message' | 'file' | 'frame' | 'fix', HTMLElement>;
  readonly #onKey = (event: KeyboardEvent) => {
    if (event.key === 'Escape') this.remove();
  };

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    const backdrop = el('div', 'backdrop');
    const panel = el('div', 'panel');
    this.#parts = {
      source: el('div', 'source'),
      message: el('div', 'message'),
      file: el('div', 'file'),
      frame: el('pre', 'frame'),
      fix: el('div', 'fix'),
    };
    const hint = el('div', 'hint');
    hint.textContent = 'Press Esc or click outside to close. Fix the code and save: this goes away on the next good update.';
    panel.append(this.#parts.source, this.#parts.message, this.#parts.file, this.#parts.frame, this.#parts.fix, hint);
    backdrop.append(panel);
    // A click on the backdrop (outside the panel) closes; a click in the panel (selecting text) does not.
    backdrop.addEventListener('click', (event) => {
      if (event.target === backdrop) this.remove();
    });
    this.#root.append(backdrop);
    adoptStyle(this.#root);
  }

  connectedCallback(): void {
    document.addEventListener('keydown', this.#onKey);
  }

  disconnectedCallback(): void {
    document.removeEventListener('keydown', this.#onKey);
  }

  show(error: ChannelError, source: string): void {
    const p = this.#parts;
    p.source.textContent = `devhot: ${source} error${error.code ? ` (${error.code})` : ''}`;
    p.message.textContent = error.message;
    const where = error.file ? `${error.file}${error.line ? `:${error.line}:${error.column ?? 1}` : ''}` : '';
    setText(p.file, where);
    // No frame: the top of the stack is the next best pointer into the code.
    setText(p.frame, error.frame ?? error.stack?.split('\n').slice(1, 8).join('\n') ?? '');
    setText(p.fix, error.fix ? `fix: ${error.fix}` : '');
  }
}

function el(tag: string, className: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

function setText(node: HTMLElement, text: string): void {
  node.textContent = text;
  node.hidden = text === '';
}

function define(): void {
  // The client may be on the page twice (injected and added by hand); define once.
  if (!customElements.get(OVERLAY_TAG)) customElements.define(OVERLAY_TAG, ErrorOverlay);
}

/** Show (or replace) the overlay for an error. */
export function showOverlay(error: ChannelError, source: string): void {
  define();
  let overlay = document.querySelector(OVERLAY_TAG) as ErrorOverlay | null;
  if (!overlay) {
    overlay = document.createElement(OVERLAY_TAG) as ErrorOverlay;
    (document.body ?? document.documentElement).append(overlay);
  }
  overlay.show(error, source);
}

export function clearOverlay(): void {
  for (const overlay of document.querySelectorAll(OVERLAY_TAG)) overlay.remove();
}
