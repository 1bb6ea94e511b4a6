/**
 * What an imported name refers to, and which names a module exports, as ECMA-262 defines them:
 * ResolveExport (§16.2.1.6.3, with its resolve set so `export *` and re-export cycles end) and
 * GetExportedNames (§16.2.1.6.2). A name two `export *` sources export differently is ambiguous:
 * left out of the namespace, and an error to import.
 *
 * Modules Node loaded resolve by their namespace's names; a CommonJS user module by the names
 * Node's lexer finds in it before it runs (cjs-exports.ts), as Node links it.
 */
import { ModuleNode } from './graph.js';
import { type BindingTarget, ModuleInstance } from './instance.js';
import { cjsExportNames } from './cjs-exports.js';

/** A module as the link step sees it: a user module's instance, or the namespace of one Node loaded. */
export type ModuleRecord = ModuleInstance | Record<string, unknown>;

export type Resolution = BindingTarget | null | 'ambiguous';

/** Set when a resolution ended in a cycle, so the error can say so (as V8's does). */
export interface ResolveContext {
  cycle: boolean;
}

export function isInstance(record: ModuleRecord): record is ModuleInstance {
  return record instanceof ModuleInstance;
}

/** Request `r` of an instance: the dependency's current instance, or the namespace Node gave. */
export function requested(instance: ModuleInstance, r: number): ModuleRecord | undefined {
  const dep = instance.version.deps[r];
  if (dep instanceof ModuleNode) return dep.instance;
  return dep as Record<string, unknown> | undefined;
}

/** The namespace of a module, as a binding target. */
export function namespaceTarget(record: ModuleRecord): BindingTarget {
  return isInstance(record) ? { kind: 'namespace', node: record.node } : { kind: 'native', ns: record, name: null };
}

export function resolveExport(
  record: ModuleRecord,
  name: string,
  context: ResolveContext = { cycle: false },
  seen: Array<[ModuleRecord, string]> = [],
): Resolution {
  if (!isInstance(record)) return name in record ? { kind: 'native', ns: record, name } : null;
  const { compiled } = record.version;
  if (compiled.format === 'json') return name === 'default' ? { kind: 'synthetic', instance: record, name } : null;
  if (compiled.format === 'cjs') {
    // Its names as Node's lexer finds them before it runs (cjs-exports.ts).
    return cjsExportNames(compiled).has(name) ? { kind: 'synthetic', instance: record, name } : null;
  }
  for (const [m, n] of seen) {
    if (m === record && n === name) {
      context.cycle = true;
      return null;
    }
  }
  seen.push([record, name]);
  const info = compiled.module!;
  for (const [exported, local] of info.localExports) if (exported === name) return { kind: 'local', instance: record, local };
  for (const e of info.indirectExports) {
    if (e.name !== name) continue;
    const dep = requested(record, e.request);
    if (!dep) return null;
    return e.importName === null ? namespaceTarget(dep) : resolveExport(dep, e.importName, context, seen);
  }
  if (name === 'default') return null; // `export *` never re-exports a default
  let found: BindingTarget | null = null;
  for (const star of info.starExports) {
    const dep = requested(record, star.request);
    if (!dep) continue;
    const resolution = resolveExport(dep, name, context, seen);
    if (resolution === 'ambiguous') return 'ambiguous';
    if (resolution === null) continue;
    if (found === null) found = resolution;
    else if (!sameTarget(found, resolution)) return 'ambiguous';
  }
  return found;
}

/** GetExportedNames: every name the module exports, ambiguous ones included. */
export function exportedNames(record: ModuleRecord, seen = new Set<ModuleRecord>()): string[] {
  if (!isInstance(record)) return Object.keys(record);
  const { compiled } = record.version;
  if (compiled.format === 'json') return ['default'];
  if (compiled.format === 'cjs') return [...cjsExportNames(compiled)];
  if (seen.has(record)) return [];
  seen.add(record);
  const info = compiled.module!;
  const names = [...info.localExports.map(([name]) => name), ...info.indirectExports.map((e) => e.name)];
  for (const star of info.starExports) {
    const dep = requested(record, star.request);
    if (!dep) continue;
    for (const name of exportedNames(dep, seen)) if (name !== 'default' && !names.includes(name)) names.push(name);
  }
  return names;
}

/** The names a namespace of the module shows: exported and resolvable to one binding, sorted. */
export function namespaceNames(record: ModuleRecord): string[] {
  const names = exportedNames(record).filter((name) => {
    const resolution = resolveExport(record, name);
    return resolution !== null && resolution !== 'ambiguous';
  });
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function sameTarget(a: BindingTarget, b: BindingTarget): boolean {
  switch (a.kind) {
    case 'local':
      return b.kind === 'local' && a.instance === b.instance && a.local === b.local;
    case 'namespace':
      return b.kind === 'namespace' && a.node === b.node;
    case 'native':
      return b.kind === 'native' && a.ns === b.ns && a.name === b.name;
    case 'synthetic':
      return b.kind === 'synthetic' && a.instance === b.instance && a.name === b.name;
    default: {
      const unknown: never = a;
      return unknown;
    }
  }
}
