/**
 * One compiled module on disk (compile-cache.ts), in a file of its own:
 *
 *   "DHC1" | header length (u32 LE) | header (JSON) | code | V8 code cache | transform map | rewrite map
 *
 * The header holds the small fields and each section's length in bytes (-1: none). A start
 * reads the file up to the end of the code cache: the maps, two thirds of an entry's bytes, are
 * read from the file only when a stack trace needs them, and never kept in memory otherwise.
 * As JSON (the code cache in base64), a warm start of 3,000 modules spent ~180 ms decoding every
 * file as UTF-8, plus JSON.parse, base64 and the garbage of it all, and kept 12 MB of maps
 * (runner bench, Node 20, 2 cores, 2026-11-30).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { CompiledModule } from './compile.js';

const MAGIC = Buffer.from('DHC1', 'latin1');
/** MAGIC and the header's length. */
const PREFIX = 8;
/** No entry is bigger: the whole disk cache is bounded at 256 MiB (compile-cache.ts, MAX_BYTES). */
const MAX_ENTRY_BYTES = 256 * 1024 * 1024;
/** The first read of an entry: most modules' header, code and code cache fit (a 45-line module takes ~10 kB). */
const FIRST_READ = 64 * 1024;

type Sections = [code: number, codeCache: number, transformMap: number, rewriteMap: number];

interface Header extends Omit<CompiledModule, 'code' | 'codeCache' | 'transformMap' | 'rewriteMap'> {
  sections: Sections;
}

/** The bytes of one entry, to write as they are. */
export function encodeEntry(compiled: CompiledModule): Buffer[] {
  const parts = [compiled.code, compiled.codeCache, compiled.transformMap, compiled.rewriteMap].map((part) =>
    part === null || part === undefined ? undefined : typeof part === 'string' ? Buffer.from(part, 'utf8') : part,
  );
  const header: Header = {
    file: compiled.file,
    hash: compiled.hash,
    format: compiled.format,
    async: compiled.async,
    deps: compiled.deps,
    module: compiled.module,
    sections: parts.map((p) => (p ? p.length : -1)) as Sections,
  };
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(PREFIX);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(head.length, 4);
  return [prefix, head, ...parts.filter((p): p is Buffer => p !== undefined)];
}

/** One read buffer for every entry of a start (reads are synchronous, one at a time). */
let scratch = Buffer.allocUnsafe(FIRST_READ);

/**
 * The entry in `path`, its maps read from the file when first asked for; undefined when it is
 * missing, damaged, or of another format.
 */
export function readEntry(path: string): CompiledModule | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    let length = readSync(fd, scratch, 0, scratch.length, 0);
    if (length < PREFIX || !scratch.subarray(0, 4).equals(MAGIC)) return undefined;
    const headEnd = PREFIX + scratch.readUInt32LE(4);
    if (headEnd > length) length = readMore(fd, length, headEnd);
    if (headEnd > length) return undefined; // cut short
    const header = JSON.parse(scratch.toString('utf8', PREFIX, headEnd)) as Header;
    const [code, codeCache, transformMap, rewriteMap] = header.sections;
    const codeEnd = headEnd + code;
    const cacheEnd = codeEnd + Math.max(codeCache, 0);
    if (cacheEnd > length) length = readMore(fd, length, cacheEnd);
    if (cacheEnd > length) return undefined; // cut short
    const { sections: _, ...fields } = header;
    const entry = {
      ...fields,
      code: scratch.toString('utf8', headEnd, codeEnd),
      codeCache: codeCache >= 0 ? Buffer.from(scratch.subarray(codeEnd, cacheEnd)) : undefined,
    } as CompiledModule;
    lazyMaps(entry, path, cacheEnd, transformMap, rewriteMap);
    return entry;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Read on into `scratch` (grown as needed) until `end`, or the end of the file. */
function readMore(fd: number, have: number, end: number): number {
  // A damaged length must not allocate gigabytes.
  if (end > MAX_ENTRY_BYTES) return have;
  if (end > scratch.length) {
    const bigger = Buffer.allocUnsafe(Math.max(end, scratch.length * 2));
    scratch.copy(bigger, 0, 0, have);
    scratch = bigger;
  }
  let length = have;
  while (length < end) {
    const n = readSync(fd, scratch, length, end - length, length);
    if (n === 0) break;
    length += n;
  }
  return length;
}

/**
 * `transformMap` and `rewriteMap` as getters that read the file once, when a stack trace or the
 * debugger needs them. A file gone meanwhile (pruned, swept) gives no map: the frame then shows
 * the compiled position. The sweep spares the versions this process runs (compile-cache.ts).
 */
function lazyMaps(entry: CompiledModule, path: string, offset: number, transformLength: number, rewriteLength: number): void {
  let maps: [string | null, string | null] | undefined;
  const load = (): [string | null, string | null] => {
    if (maps) return maps;
    maps = [null, null];
    const total = Math.max(transformLength, 0) + Math.max(rewriteLength, 0);
    if (total === 0) return maps;
    const bytes = Buffer.allocUnsafe(total);
    let fd: number | undefined;
    try {
      fd = openSync(path, 'r');
      if (readSync(fd, bytes, 0, total, offset) !== total) return maps;
      const split = Math.max(transformLength, 0);
      maps = [
        transformLength >= 0 ? bytes.toString('utf8', 0, split) : null,
        rewriteLength >= 0 ? bytes.toString('utf8', split, total) : null,
      ];
    } catch {
      // gone: no maps
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return maps;
  };
  Object.defineProperty(entry, 'transformMap', { get: () => load()[0], enumerable: true, configurable: true });
  Object.defineProperty(entry, 'rewriteMap', { get: () => load()[1], enumerable: true, configurable: true });
}

/**
 * A module compiled in this process, once written to `path`: its maps leave memory, read back
 * from the file when a stack trace needs them (as a start from the cache does).
 */
export function mapsFromDisk(compiled: CompiledModule, path: string): void {
  let onDisk: CompiledModule | null | undefined = null;
  const load = (): CompiledModule | undefined => (onDisk === null ? (onDisk = readEntry(path)) : onDisk);
  Object.defineProperty(compiled, 'transformMap', { get: () => load()?.transformMap ?? null, enumerable: true, configurable: true });
  Object.defineProperty(compiled, 'rewriteMap', { get: () => load()?.rewriteMap ?? null, enumerable: true, configurable: true });
}

/** The maps back in memory, as plain fields: its file is about to go (the sweep). */
export function mapsInMemory(compiled: CompiledModule): void {
  const { transformMap, rewriteMap } = compiled;
  Object.defineProperty(compiled, 'transformMap', { value: transformMap, writable: true, enumerable: true, configurable: true });
  Object.defineProperty(compiled, 'rewriteMap', { value: rewriteMap, writable: true, enumerable: true, configurable: true });
}
