/**
 * Stack traces that point at the user's TypeScript. Node applies source maps only to modules its
 * own loaders compiled, not to code run through `vm` (checked on Node 20 and 24), so devhot maps
 * its frames itself: `Error.prepareStackTrace` looks each frame's file up in a registry of the
 * compiled versions and follows the rewrite's map, then esbuild's.
 *
 * Each runner has its own registry. `Error.prepareStackTrace` is one per process, so each
 * registry installs a hook that maps the frames it knows and hands every other stack to the hook
 * that was there before it: two runners in one process (tests, tools) chain, and nothing about
 * one runner lives at module level.
 */
import { SourceMap } from 'node:module';
import { type CompiledModule, rewriteMapOf } from './compile.js';
import type { SourceLocation } from '../errors.js';
import { fileUrlOf } from './file-url.js';

interface Entry {
  compiled: CompiledModule;
  rewrite?: SourceMap | null;
  transform?: SourceMap | null;
}

/** Frames of the error as devhot mapped them, for the structured error (file:line:column). */
export const kMappedFrames = Symbol.for('devhot.mappedFrames');

/** How many versions per file stay mappable (code of a replaced version may still be running). */
const VERSIONS_KEPT = 3;

export interface StackRegistry {
  /** A script about to run under `filename` (the file, or `file?v=N` for later versions). */
  register(filename: string, compiled: CompiledModule): void;
  /** Forget a file's versions (the module was pruned). */
  unregisterFile(file: string): void;
  /** Map a 1-based line/column in a registered script to the original file. */
  mapPosition(filename: string, line: number, column: number): SourceLocation | undefined;
  /** Forget everything and stop mapping (the runner closed). */
  close(): void;
}

export function createStackRegistry(): StackRegistry {
  const registry = new Map<string, Entry>();
  const byFile = new Map<string, string[]>();
  let hook: ((error: Error, sites: NodeJS.CallSite[]) => unknown) | undefined;

  const mapPosition = (filename: string, line: number, column: number): SourceLocation | undefined => {
    const entry = registry.get(filename);
    if (!entry) return undefined;
    entry.rewrite ??= parseMap(rewriteMapOf(entry.compiled));
    entry.transform ??= parseMap(entry.compiled.transformMap);
    // The rewrite keeps lines in place; without an entry the column is the best guess we have.
    const [l, c] = follow(entry.transform, follow(entry.rewrite, [line - 1, column - 1]));
    return { file: entry.compiled.file, line: l + 1, column: c + 1 };
  };

  return {
    register(filename, compiled) {
      registry.set(filename, { compiled });
      let names = byFile.get(compiled.file);
      if (!names) byFile.set(compiled.file, (names = []));
      names.push(filename);
      while (names.length > VERSIONS_KEPT) registry.delete(names.shift()!);
      hook ??= installHook(registry, mapPosition);
    },
    unregisterFile(file) {
      for (const name of byFile.get(file) ?? []) registry.delete(name);
      byFile.delete(file);
    },
    mapPosition,
    close() {
      registry.clear();
      byFile.clear();
      // Still the process's hook: put back the one before it. Otherwise a later hook chains to
      // ours, which now maps nothing and only passes stacks on.
      if (hook && Error.prepareStackTrace === hook) {
        (Error as { prepareStackTrace?: unknown }).prepareStackTrace = (hook as { previous?: unknown }).previous;
      }
      hook = undefined;
    },
  };
}

function parseMap(json: string | null): SourceMap | null {
  if (!json) return null;
  try {
    return new SourceMap(JSON.parse(json));
  } catch {
    return null;
  }
}

/**
 * A position in the rewrite's input (esbuild's output, 1-based) → the same place in the user's
 * file, for errors the link step raises at an import.
 */
export function sourcePosition(compiled: CompiledModule, line: number, column: number): SourceLocation {
  const [l, c] = follow(parseMap(compiled.transformMap), [line - 1, column - 1]);
  return { file: compiled.file, line: l + 1, column: c + 1 };
}

/** One step back through a source map (0-based); positions it has no entry for stay as they are. */
function follow(map: SourceMap | null | undefined, [line, column]: [number, number]): [number, number] {
  if (!map) return [line, column];
  const hit = map.findEntry(line, column) as { originalLine?: number; originalColumn?: number };
  return hit && typeof hit.originalLine === 'number' ? [hit.originalLine, hit.originalColumn!] : [line, column];
}

function installHook(
  registry: ReadonlyMap<string, Entry>,
  mapPosition: StackRegistry['mapPosition'],
): (error: Error, sites: NodeJS.CallSite[]) => unknown {
  const previous = Error.prepareStackTrace;
  const hook = function devhotPrepareStackTrace(error: Error, callSites: NodeJS.CallSite[]): unknown {
    const mapped: SourceLocation[] = [];
    const lines = callSites.map((site) => {
      const name = site.getFileName();
      const line = site.getLineNumber();
      const column = site.getColumnNumber();
      if (!name || line === null || column === null || !registry.has(name)) return `    at ${site}`;
      const loc = mapPosition(name, line, column);
      if (!loc) return `    at ${site}`;
      mapped.push(loc);
      const text = String(site);
      const original = `${name}:${line}:${column}`;
      // In the form the script was named in: an ES module's URL, a CommonJS file's path.
      const file = name.startsWith('file:') ? fileUrlOf(loc.file) : loc.file;
      return `    at ${text.includes(original) ? text.replace(original, `${file}:${loc.line}:${loc.column}`) : text}`;
    });
    if (mapped.length === 0) {
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
  Object.defineProperty(hook, 'previous', { value: previous });
  Error.prepareStackTrace = hook;
  return hook;
}

/** The first frame of the error that lies in the user's code, mapped to the original file. */
export function firstUserFrame(error: unknown): SourceLocation | undefined {
  if (!error || typeof error !== 'object') return undefined;
  void (error as { stack?: unknown }).stack; // formatting the stack records the mapped frames
  const frames = (error as { [kMappedFrames]?: SourceLocation[] })[kMappedFrames];
  return frames?.[0];
}
