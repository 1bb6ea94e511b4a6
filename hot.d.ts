/**
 * Types for `import.meta.hot` under devhot. Reference them once in your project:
 *   tsconfig.json: "compilerOptions": { "types": ["node", "devhot/hot"] }
 * or in a .d.ts file: /// <reference types="devhot/hot" />
 *
 * `import.meta.hot` is undefined when the code runs without devhot (plain `node`), so guard
 * every use with `if (import.meta.hot)` or `import.meta.hot?.`.
 */
export interface DevhotHotContext {
  /** Carried from each instance of this module to the next; dropped when the module is pruned. */
  readonly data: Record<string, any>;
  /** This module accepts its own updates: only it re-executes; importers see the new exports. */
  accept(callback?: (newModule: Record<string, any> | undefined) => void): void;
  /** This module takes updates of `dep` (relative specifier): it is not re-executed itself. */
  accept(dep: string, callback?: (newModule: Record<string, any> | undefined) => void): void;
  /** As above for several deps; the callback gets one entry per dep (undefined if unchanged). */
  accept(deps: readonly string[], callback?: (newModules: Array<Record<string, any> | undefined>) => void): void;
  /** Vite's partial accept; devhot treats it as a self-accept on the server. */
  acceptExports(exportNames: string | readonly string[], callback?: (newModule: Record<string, any> | undefined) => void): void;
  /** Runs before this instance is replaced or pruned (all handlers, newest first, awaited). */
  dispose(callback: (data: Record<string, any>) => void | Promise<void>): void;
  /** Runs when no module imports this one any more. */
  prune(callback: (data: Record<string, any>) => void | Promise<void>): void;
  /** Updates to this module cannot be applied in-process: devhot restarts the app instead. */
  decline(): void;
  /** Give up on the update being applied here; it goes on to this module's importers. */
  invalidate(message?: string): void;
  /** Listen for a custom event (from tools over the channel) or devhot:* / vite:* events. */
  on(event: string, callback: (payload: any) => void): void;
  off(event: string, callback: (payload: any) => void): void;
  /** Send a custom event to the tools and browsers attached to devhot. */
  send(event: string, data?: any): void;
}

declare global {
  interface ImportMeta {
    /** devhot's hot-update API; undefined outside devhot. */
    readonly hot?: DevhotHotContext;
  }
}
