/**
 * `import.meta.hot` for one module instance, with Vite's API. Where Vite and dynohot differ,
 * devhot picks what suits long-running servers (README, "import.meta.hot"):
 * - every dispose handler runs (newest first, each awaited), not only the last one;
 * - modules re-executed between the change and the boundary are disposed too;
 * - `data` is one object per module, handed from instance to instance until the module is pruned.
 */
export type HotCallback = (mod: Record<string, unknown> | undefined) => void;
export type HotDepsCallback = (mods: Array<Record<string, unknown> | undefined>) => void;
export type HotDataHandler = (data: Record<string, unknown>) => void | Promise<void>;
// biome-ignore lint/suspicious/noExplicitAny: Vite's type for custom event payloads; user code declares its own
export type HotListener = (payload: any) => void;

export interface AcceptRegistration {
  /** Absolute files of the accepted deps; empty for a self-accept. */
  deps: string[];
  // biome-ignore lint/suspicious/noExplicitAny: one module or an array of them, per `array`
  callback: ((mods: any) => void) | undefined;
  /** accept([deps], cb) gets an array; accept(dep, cb) gets one module. */
  array: boolean;
}

/** What the runner gives a hot context; kept small so contexts stay cheap to create. */
export interface HotHost {
  /** Resolve a specifier as the module would import it; returns the absolute file. */
  resolveDep(specifier: string): string;
  invalidate(message: string | undefined): void;
  send(event: string, data: unknown): void;
  addListener(event: string, listener: HotListener): void;
  removeListener(event: string, listener: HotListener): void;
}

export class HotContext {
  readonly accepts: AcceptRegistration[] = [];
  readonly disposers: HotDataHandler[] = [];
  readonly pruners: HotDataHandler[] = [];
  readonly listeners: Array<[string, HotListener]> = [];
  declined = false;
  selfAccepting = false;
  private readonly acceptedFiles = new Set<string>();

  constructor(
    readonly data: Record<string, unknown>,
    private readonly host: HotHost,
  ) {
    // Callers pass these around detached (`const { accept } = import.meta.hot` is rare but legal).
    this.accept = this.accept.bind(this);
    this.acceptExports = this.acceptExports.bind(this);
    this.dispose = this.dispose.bind(this);
    this.prune = this.prune.bind(this);
    this.decline = this.decline.bind(this);
    this.invalidate = this.invalidate.bind(this);
    this.on = this.on.bind(this);
    this.off = this.off.bind(this);
    this.send = this.send.bind(this);
  }

  accept(deps?: string | readonly string[] | HotCallback, callback?: HotCallback | HotDepsCallback): void {
    if (typeof deps === 'function' || deps === undefined) {
      this.selfAccepting = true;
      this.accepts.push({ deps: [], callback: deps, array: false });
      return;
    }
    const list = typeof deps === 'string' ? [deps] : [...deps];
    const files = list.map((spec) => this.host.resolveDep(spec));
    for (const file of files) this.acceptedFiles.add(file);
    const array = typeof deps !== 'string';
    this.accepts.push({ deps: files, callback: callback as AcceptRegistration['callback'], array });
  }

  /** Vite's partial accept; on the server devhot treats it as a self-accept. */
  acceptExports(_exportNames: string | readonly string[], callback?: HotCallback): void {
    this.accept(callback);
  }

  dispose(handler: HotDataHandler): void {
    this.disposers.push(handler);
  }

  prune(handler: HotDataHandler): void {
    this.pruners.push(handler);
  }

  decline(): void {
    this.declined = true;
  }

  invalidate(message?: string): void {
    this.host.invalidate(message);
  }

  on(event: string, listener: HotListener): void {
    this.listeners.push([event, listener]);
    this.host.addListener(event, listener);
  }

  off(event: string, listener: HotListener): void {
    const index = this.listeners.findIndex(([e, l]) => e === event && l === listener);
    if (index >= 0) this.listeners.splice(index, 1);
    this.host.removeListener(event, listener);
  }

  send(event: string, data?: unknown): void {
    this.host.send(event, data);
  }

  acceptsDep(file: string): boolean {
    return this.acceptedFiles.has(file);
  }

  /** Run every dispose handler, newest first, awaiting each; collect (not throw) failures. */
  async runDisposers(): Promise<unknown[]> {
    return runHandlers(this.disposers, this.data);
  }

  async runPruners(): Promise<unknown[]> {
    return runHandlers(this.pruners, this.data);
  }

  /** Drop the listeners this instance registered: its successor registers its own. */
  detach(): void {
    for (const [event, listener] of this.listeners) this.host.removeListener(event, listener);
    this.listeners.length = 0;
  }
}

async function runHandlers(handlers: HotDataHandler[], data: Record<string, unknown>): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (let i = handlers.length - 1; i >= 0; i--) {
    try {
      await handlers[i]!(data);
    } catch (error) {
      errors.push(error);
    }
  }
  return errors;
}
