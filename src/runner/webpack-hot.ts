/**
 * webpack's `module.hot` in CommonJS user modules, over the instance's `import.meta.hot`
 * (hot.ts), so that HMR recipes written for webpack work as written, the NestJS docs' among them:
 *
 *   if (module.hot) { module.hot.accept(); module.hot.dispose(() => app.close()); }
 *
 * - `accept()` and `accept(errorHandler)` make the module self-accepting (a failed update is
 *   rolled back by devhot, so the error handler is never needed and never called);
 * - `accept(deps, callback)` accepts those dependencies; the callback gets the list of them;
 * - `decline()` refuses updates of the module (a restart); `decline(deps)` too: devhot has no
 *   per-dependency decline, and refusing more is the safe side;
 * - `dispose`/`addDisposeHandler`, `removeDisposeHandler`, and `data`: undefined on a module's
 *   first run, as in webpack, then the object its previous instance's dispose handlers filled;
 * - `invalidate()`; `status()` is 'idle' while the code runs (updates are applied between runs).
 *
 * `check()` and `apply()` drive webpack's client runtime, which devhot replaces: they are absent.
 */
import type { HotContext, HotDataHandler } from './hot.js';

export interface WebpackHot {
  readonly data: Record<string, unknown> | undefined;
  accept(deps?: string | readonly string[] | ((...args: unknown[]) => void), callback?: (deps: string[]) => void): void;
  decline(deps?: string | readonly string[]): void;
  dispose(handler: HotDataHandler): void;
  addDisposeHandler(handler: HotDataHandler): void;
  removeDisposeHandler(handler: HotDataHandler): void;
  invalidate(): void;
  status(): 'idle';
}

/** `module.hot` for an instance whose hot context is `hot`; `firstRun`: no instance of the module ran before. */
export function webpackHot(hot: HotContext, firstRun: boolean): WebpackHot {
  return {
    data: firstRun ? undefined : hot.data,
    accept(deps, callback) {
      if (deps === undefined || typeof deps === 'function') return hot.accept();
      const list = typeof deps === 'string' ? [deps] : [...deps];
      hot.accept(list, () => callback?.(list));
    },
    decline() {
      hot.decline();
    },
    dispose: (handler) => hot.dispose(handler),
    addDisposeHandler: (handler) => hot.dispose(handler),
    removeDisposeHandler(handler) {
      const index = hot.disposers.lastIndexOf(handler);
      if (index >= 0) hot.disposers.splice(index, 1);
    },
    invalidate: () => hot.invalidate(),
    status: () => 'idle',
  };
}
