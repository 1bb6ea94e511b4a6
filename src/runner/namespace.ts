/**
 * Module namespace exotic objects (ECMA-262 §10.4.6), what `import * as ns`, `import()` and
 * `export * as ns` give: a null prototype, `Symbol.toStringTag` 'Module', not extensible, the
 * export names sorted by code unit, each an enumerable, writable, non-configurable data property
 * whose value is read live from the module's binding (a binding in its TDZ throws a
 * ReferenceError, even from `Object.keys`), and define/set/delete/setPrototypeOf refused.
 *
 * A Proxy does it: its target holds the same keys as non-configurable writable data properties
 * and is made non-extensible, so every invariant a Proxy must keep is kept by construction, and
 * the traps only read the live values. One namespace per module instance, created when first
 * asked for (most modules are never imported as a namespace); its names never change, as a
 * module record's do not: a hot update makes a new instance, with a namespace of its own.
 */

import type { ModuleNode } from './graph.js';
import type { ModuleInstance } from './instance.js';
import { currentValue } from './bindings.js';
import { namespaceNames, resolveExport } from './resolve-export.js';

/** Reads the current value of an export; throws the binding's ReferenceError while it is in its TDZ. */
export type ExportReader = (name: string) => unknown;

export function createNamespace(names: readonly string[], read: ExportReader): object {
  // Sorted as [[OwnPropertyKeys]] must list them: by UTF-16 code units, which `<` compares.
  const sorted = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const exported = new Set(sorted);
  const target: Record<PropertyKey, unknown> = Object.create(null);
  for (const name of sorted)
    Object.defineProperty(target, name, { value: undefined, writable: true, enumerable: true, configurable: false });
  Object.defineProperty(target, Symbol.toStringTag, { value: 'Module', writable: false, enumerable: false, configurable: false });
  Object.preventExtensions(target);

  const descriptor = (key: string | symbol): PropertyDescriptor | undefined => {
    if (typeof key === 'symbol') return Reflect.getOwnPropertyDescriptor(target, key);
    if (!exported.has(key)) return undefined;
    return { value: read(key), writable: true, enumerable: true, configurable: false };
  };

  return new Proxy(target, {
    get(_target, key) {
      if (typeof key === 'symbol') return Reflect.get(target, key);
      return exported.has(key) ? read(key) : undefined;
    },
    has(_target, key) {
      return typeof key === 'symbol' ? Reflect.has(target, key) : exported.has(key);
    },
    getOwnPropertyDescriptor(_target, key) {
      return descriptor(key);
    },
    defineProperty(_target, key, desc) {
      // §10.4.6.6: only a define that changes nothing succeeds.
      if (typeof key === 'symbol') return Reflect.defineProperty(target, key, desc);
      const current = descriptor(key);
      if (current === undefined) return false;
      if (desc.configurable === true || desc.enumerable === false || desc.writable === false) return false;
      if ('get' in desc || 'set' in desc) return false;
      return !('value' in desc) || Object.is(desc.value, current.value);
    },
    set() {
      return false;
    },
    deleteProperty(_target, key) {
      if (typeof key === 'symbol') return Reflect.deleteProperty(target, key);
      return !exported.has(key);
    },
    ownKeys() {
      return Reflect.ownKeys(target);
    },
    getPrototypeOf() {
      return null;
    },
    setPrototypeOf(_target, proto) {
      return proto === null;
    },
    isExtensible() {
      return false;
    },
    preventExtensions() {
      return true;
    },
  });
}

/**
 * The namespace of a module node: one exotic object per set of names, reading the node's
 * current instance, so a namespace held across a hot update shows the new values. When an update
 * changes which names the module exports, the node gets a new namespace object (an exotic
 * object's keys never change); importers that keep their instance are re-pointed to it
 * (bindings.ts, `rebind`).
 */
export function nodeNamespace(node: ModuleNode): object {
  const instance = node.instance;
  const names = instance ? namespaceNames(instance) : [];
  const key = names.join('\0');
  const cached = node.namespaceCache;
  if (cached && cached.key === key) return cached.ns;
  const ns = createNamespace(names, (name) => readExport(node, name));
  node.namespaceCache = { key, ns };
  return ns;
}

/**
 * What `require()` of an ES module returns: its namespace, plus `__esModule: true` when it has a
 * default export (and no `__esModule` of its own), as Node ≥ 20.19 does, so CommonJS compiled by
 * TypeScript or esbuild finds `default` where it looks for it.
 */
export function requireNamespace(node: ModuleNode): object {
  const names = node.instance ? namespaceNames(node.instance) : [];
  if (!names.includes('default') || names.includes('__esModule')) return nodeNamespace(node);
  const key = `${names.join('\0')}\0__esModule`;
  const cached = node.requireNamespaceCache;
  if (cached && cached.key === key) return cached.ns;
  const ns = createNamespace([...names, '__esModule'], (name) => (name === '__esModule' ? true : readExport(node, name)));
  node.requireNamespaceCache = { key, ns };
  return ns;
}

function readExport(node: ModuleNode, name: string): unknown {
  const instance = node.instance;
  if (!instance) return undefined;
  try {
    return readFrom(instance, name);
  } catch (error) {
    // In its TDZ while the new version is still evaluating: the old value still stands.
    if (error instanceof ReferenceError && instance.previous) return readFrom(instance.previous, name);
    throw error;
  }
}

function readFrom(instance: ModuleInstance, name: string): unknown {
  const target = resolveExport(instance, name);
  return target === null || target === 'ambiguous' ? undefined : currentValue(target);
}
