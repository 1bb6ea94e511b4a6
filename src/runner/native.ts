/**
 * Modules Node loads itself: built-ins and everything in node_modules. devhot never re-executes
 * them; each is loaded once per runner and its namespace cached, whether a user module reached it
 * by `import` (async) or by `require()` (sync).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cjsExportValues, cjsFileExportNames } from './cjs-exports.js';
import { createNamespace } from './namespace.js';
import type { ModuleFormat } from './rewrite.js';
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
 * The namespace an `import` of a native module gives, made synchronously: for the static imports
 * of an ES module that CommonJS `require()`s, which Node links and runs at once. `id` is what
 * the resolver found for the import (its conditions, as Node resolves an ES module's imports
 * even when a require loads it): a built-in's `node:` id or a package file's URL. Once per
 * module, shared with `importNative`: Node has one namespace per module.
 *
 * - An ES module file: `require()` of it gives Node's own namespace (Node >= 20.19).
 * - A CommonJS file: a namespace made as Node's CommonJS translator makes it, the names its
 *   lexer finds before the file runs (cjs-exports.ts), each the file's own export after it ran,
 *   `default` the whole `module.exports`. From the keys after the run instead, a name set with a
 *   computed key was importable where node refuses it, and one the lexer sees but the run did not
 *   set was missing from `import *`.
 * - A JSON file: `default` alone.
 * - A built-in: its exports' keys and `default`, read live, as Node keeps them in step.
 */
export function importNativeSync(
  cache: Map<string, object>,
  id: string,
  importer: string,
  specifier: string,
  formatOf: (file: string) => ModuleFormat,
): object {
  const cached = cache.get(id);
  if (cached) return cached;
  const require = createRequire(importer);
  let ns: object;
  if (id.startsWith('file:')) {
    const file = fileURLToPath(id);
    const exports = noticeNative(specifier, require(file) as unknown);
    if (file.endsWith('.json')) ns = createNamespace(['default'], () => exports);
    else if (formatOf(file) === 'esm' && isNamespace(exports)) ns = exports as object;
    else ns = cjsNamespace(exports, cjsFileExportNames(file));
  } else {
    // A built-in (or a data: URL, which require cannot load either way: Node's error says so).
    const exports = noticeNative(specifier, require(id) as unknown);
    ns = isNamespace(exports) ? (exports as object) : builtinNamespace(exports);
  }
  cache.set(id, ns);
  return ns;
}

function isNamespace(value: unknown): boolean {
  return !!value && typeof value === 'object' && (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Module';
}

/** A CommonJS module's namespace: its values as a user module's are set (cjs-exports.ts). */
function cjsNamespace(exports: unknown, names: ReadonlySet<string>): object {
  const values = cjsExportValues(exports, names);
  return createNamespace([...names], (name) => values[name]);
}

/** A built-in's namespace: its exports' keys and `default`, read live. */
function builtinNamespace(exports: unknown): object {
  const record = exports as Record<string, unknown>;
  return createNamespace(['default', ...Object.keys(record)], (name) => (name === 'default' ? exports : record[name]));
}
