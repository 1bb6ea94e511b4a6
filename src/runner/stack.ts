/**
 * Stack traces that point at the user's TypeScript. Node applies source maps only to modules its
 * own loaders compiled, not to code run through `vm` (checked on Node 20 and 24), so devhot maps
 * its frames itself: `Error.prepareStackTrace` looks each frame's file up in a registry of the
 * compiled versions and follows the rewrite's map, then esbuild's.
 */
import { SourceMap } from 'node:module';
import type { CompiledModule } from './compile.js';
import type { SourceLocation } from '../errors.js';

interface Entry {
  compiled: CompiledModule;
  rewrite?: SourceMap | null;
  transform?: SourceMap | null;
}

/** Frames of the error as devhot mapped them, for the structured error (file:line:column). */
export const kMappedFrames = Symbol.for('devhot.mappedFrames');

const registry = new Map<string, Entry>();
/** How many versions per file stay mappable (code of a replaced version may still be running). */
const VERSIONS_KEPT = 3;
const byFile = new Map<string, string[]>();
let installed = false;

export function registerScript(filename: string, compiled: CompiledModule): void {
  registry.set(filename, { compiled });
  let names = byFile.get(compiled.file);
  if (!names) byFile.set(compiled.file, (names = []));
  names.push(filename);
  while (names.length > VERSIONS_KEPT) registry.delete(names.shift()!);
  installStackMapping();
}

/** Forget a file's versions (the module was pruned). */
export function unregisterFile(file: string): void {
  for (const name of byFile.get(file) ?? []) registry.delete(name);
  byFile.delete(file);
}

function parseMap(json: string | null): SourceMap | null {
  if (!json) return null;
  try {
    return new SourceMap(JSON.parse(json));
  } catch {
    return null;
  }
}

/** Map a 1-based line/column in a registered script to the original file. */
export function mapPosition(filename: string, line: number, column: number): SourceLocation | undefined {
  const entry = registry.get(filename);
  if (!entry) return undefined;
  const { compiled } = entry;
  entry.rewrite ??= parseMap(compiled.rewriteMap);
  entry.transform ??= parseMap(compiled.transformMap);
  let l = line - 1;
  let c = column - 1;
  if (entry.rewrite) {
    const hit = entry.rewrite.findEntry(l, c) as { originalLine?: number; originalColumn?: number };
    // The rewrite keeps lines in place; without an entry the column is the best guess we have.
    if (hit && typeof hit.originalLine === 'number') {
      l = hit.originalLine;
      c = hit.originalColumn!;
    }
  }
  if (entry.transform) {
    const hit = entry.transform.findEntry(l, c) as { originalLine?: number; originalColumn?: number };
    if (hit && typeof hit.originalLine === 'number') {
      l = hit.originalLine;
      c = hit.originalColumn!;
    }
  }
  return { file: compiled.file, line: l + 1, column: c + 1 };
}

function installStackMapping(): void {
  if (installed) return;
  installed = true;
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = function devhotPrepareStackTrace(error, callSites) {
    const mapped: SourceLocation[] = [];
    let any = false;
    const lines = callSites.map((site) => {
      const name = site.getFileName();
      const line = site.getLineNumber();
      const column = site.getColumnNumber();
      if (!name || line === null || column === null || !registry.has(name)) return `    at ${site}`;
      const loc = mapPosition(name, line, column);
      if (!loc) return `    at ${site}`;
      any = true;
      mapped.push(loc);
      const text = String(site);
      const original = `${name}:${line}:${column}`;
      return `    at ${text.includes(original) ? text.replace(original, `${loc.file}:${loc.line}:${loc.column}`) : text}`;
    });
    if (!any) {
      if (previous) return previous(error, callSites);
    } else {
      try {
        Object.defineProperty(error, kMappedFrames, { value: mapped, configurable: true });
      } catch {
        // Frozen error objects keep their stack text only.
      }
    }
    let header: string;
    try {
      header = Error.prototype.toString.call(error);
    } catch {
      header = 'Error';
    }
    return lines.length ? `${header}\n${lines.join('\n')}` : header;
  };
}

/** The first frame of the error that lies in the user's code, mapped to the original file. */
export function firstUserFrame(error: unknown): SourceLocation | undefined {
  if (!error || typeof error !== 'object') return undefined;
  void (error as { stack?: unknown }).stack; // formatting the stack records the mapped frames
  const frames = (error as { [kMappedFrames]?: SourceLocation[] })[kMappedFrames];
  return frames?.[0];
}
