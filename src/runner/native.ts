/**
 * Modules Node loads itself: built-ins and everything in node_modules. devhot never re-executes
 * them; each is loaded once per runner and its namespace cached, whether a user module reached it
 * by `import` (async) or by `require()` (sync).
 */
import { createRequire } from 'node:module';
import { noticeNestCore } from './nest-apps.js';
import { appOwner } from './resource-tracking.js';

/** What user code got from Node (`name`: specifier or resolved id): the apps NestJS makes are tracked. */
export function noticeNative<T>(name: string, loaded: T): T {
  noticeNestCore(name, loaded, appOwner);
  return loaded;
}

/** `import` a native module (with its import attributes), once. */
export async function importNative(
  cache: Map<string, object>,
  id: string,
  attributes: Record<string, string> | undefined,
): Promise<object> {
  const cached = cache.get(id);
  if (cached) return cached;
  const ns = noticeNative(id, (await (attributes ? import(id, { with: attributes }) : import(id))) as object);
  cache.set(id, ns);
  return ns;
}

/**
 * `require()` a native module as `importer` would (the namespace an import of it would give, so
 * that a static import in a CommonJS-compiled file sees the same names).
 */
export function requireNative(cache: Map<string, object>, id: string, importer: string, specifier: string): object {
  const cached = cache.get(id);
  if (cached) return cached;
  // Node >= 20.19 can require() ES modules too; its namespace is what an import would give.
  const exports = noticeNative(specifier, createRequire(importer)(specifier) as unknown);
  return isNamespace(exports) ? (exports as object) : cjsNamespace(exports);
}

function isNamespace(value: unknown): boolean {
  return !!value && typeof value === 'object' && (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Module';
}

/** The namespace `import` gives for CommonJS exports: their own keys, and `default`. */
function cjsNamespace(exports: unknown): object {
  const ns: Record<string, unknown> = Object.create(null);
  if (exports && (typeof exports === 'object' || typeof exports === 'function')) {
    for (const key of Object.keys(exports)) ns[key] = (exports as Record<string, unknown>)[key];
  }
  ns.default = exports;
  return ns;
}
