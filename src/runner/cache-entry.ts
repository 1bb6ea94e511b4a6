/**
 * One compiled module on disk (compile-cache.ts), in a file of its own:
 *
 *   "DHC1" | header length (u32 LE) | header (JSON) | code | V8 code cache | transform map | rewrite input
 *
 * The code is the module's script (module-wrapper.ts): the code inside its wrapper, which a
 * start compiles as read. The header holds the small fields, where the code starts and ends in
 * the script, and each section's length in bytes (-1: none). A start
 * reads the file up to the end of the code cache: esbuild's map and the rewrite's input (from
 * which compile.ts, rewriteMapOf, makes the rewrite's map) are read from the file only when a
 * stack trace needs them, and never kept in memory otherwise. "Maps" below means these two.
 * As JSON (the code cache in base64), a warm start of 3,000 modules spent ~180 ms decoding every
 * file as UTF-8, plus JSON.parse, base64 and the garbage of it all, and kept 12 MB of maps
 * (runner bench, Node 20, 2 cores, 2026-11-30).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { CompiledModule } from './compile.js';
import { type ModuleScript, scriptOf } from './module-wrapper.js';

const MAGIC = Buffer.from('DHC1', 'latin1');
/** MAGIC and the header's length. */
const PREFIX = 8;
/** The first read of an entry: most modules' header, code and code cache fit (a 45-line module takes ~10 kB). */
const FIRST_READ = 64 * 1024;

type Sections = [code: number, codeCache: number, transformMap: number, rewriteInput: number];

/** The small fields of a module, named: a field or method CompiledModule gains is not written by default. */
export interface Header
  extends Pick<CompiledModule, 'file' | 'hash' | 'format' | 'async' | 'deps' | 'module' | 'codeCacheKind' | 'sharedScope'> {
  sections: Sections;
  /** Where the code is in the script (JSON has none): its first character and its length. */
  code?: [at: number, length: number];
}

/** The bytes of one entry, to write as they are. */
export function encodeEntry(compiled: CompiledModule): Buffer[] {
  const codeCache = compiled.codeCache ?? compiled.makeCodeCache?.();
  const script = compiled.format === 'json' ? undefined : scriptOf(compiled);
  const parts = [script?.text ?? compiled.code, codeCache, compiled.transformMap, compiled.rewriteInput].map((part) =>
    part === null || part === undefined ? undefined : typeof part === 'string' ? Buffer.from(part, 'utf8') : part,
  );
  const header: Header = {
    file: compiled.file,
    hash: compiled.hash,
    format: compiled.format,
    async: compiled.async,
    deps: compiled.deps,
    module: compiled.module,
    codeCacheKind: compiled.codeCacheKind,
    sharedScope: compiled.sharedScope,
    sections: parts.map((p) => (p ? p.length : -1)) as Sections,
    ...(script ? { code: [script.codeAt, compiled.code.length] } : {}),
  };
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(PREFIX);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(head.length, 4);
  return [prefix, head, ...parts.filter((p): p is Buffer => p !== undefined)];
}

/** One read buffer for every entry of a start (reads are synchronous, one at a time). */
let scratch = Buffer.allocUnsafe(FIRST_READ);

/** An entry's header as read, and where its sections start. */
interface Located {
  header: Header;
  codeAt: number;
  /** Bytes of the file in `scratch`, from 0. */
  length: number;
}

/** Read the header of the open file `fd` into `scratch`, with at least `through(header)` bytes. */
function locate(fd: number, through: (header: Header, codeAt: number) => number): Located | undefined {
  let length = readSync(fd, scratch, 0, scratch.length, 0);
  if (length < PREFIX || !scratch.subarray(0, 4).equals(MAGIC)) return undefined;
  const codeAt = PREFIX + scratch.readUInt32LE(4);
  if (codeAt > length) length = readMore(fd, length, codeAt);
  if (codeAt > length) return undefined; // cut short
  const header = headerIn(scratch, 0, codeAt);
  if (!header) return undefined;
  const end = through(header, codeAt);
  if (end > length) length = readMore(fd, length, end);
  if (end > length) return undefined;
  return { header, codeAt, length };
}

/** The header of the entry at `at` in `bytes`, which ends at `codeAt` from there; undefined when it is not one. */
function headerIn(bytes: Buffer, at: number, codeAt: number): Header | undefined {
  let header: Header;
  try {
    header = JSON.parse(bytes.toString('utf8', at + PREFIX, at + codeAt)) as Header;
  } catch {
    return undefined;
  }
  const [code, ...rest] = header.sections ?? [];
  return code! >= 0 && rest.length === 3 && rest.every((n) => n >= -1) ? header : undefined;
}

/** Where the maps begin: after the code and the code cache. */
const mapsAt = (h: Header, codeAt: number): number => codeAt + h.sections[0] + Math.max(h.sections[1], 0);

/** `read` on the open file `path`; undefined when it cannot be opened or `read` throws. */
function withFile<T>(path: string, read: (fd: number) => T): T | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    return read(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
    // One big entry does not keep a big buffer.
    if (scratch.length > FIRST_READ) scratch = Buffer.allocUnsafe(FIRST_READ);
  }
}

/**
 * The entry in `path`, its maps read from the file when first asked for; undefined when it is
 * missing, damaged, or of another format.
 */
export function readEntry(path: string): CompiledModule | undefined {
  return withFile(path, (fd) => decode(fd, path));
}

/** An entry's bytes up to the end of its code cache (what a start pack holds: start-pack.ts), and their layout. */
export interface EntryHead {
  bytes: Buffer;
  layout: EntryLayout;
}

/** The head of the entry file `path`, if it is `file`'s of `hash`. */
export function entryHead(path: string, file: string, hash: string): EntryHead | undefined {
  return withFile(path, (fd) => {
    const located = locate(fd, mapsAt);
    if (!located || located.header.file !== file || located.header.hash !== hash) return undefined;
    const layout = layoutOf(located.header, located.codeAt);
    return { bytes: copyOut(0, layout.cacheEnd), layout };
  });
}

/** The entry in the open file `fd`, its maps in the file `path`. */
function decode(fd: number, path: string): CompiledModule | undefined {
  // Up to the end of the code cache: the maps are not read.
  const located = locate(fd, mapsAt);
  if (!located) return undefined;
  const { header, codeAt } = located;
  const codeEnd = codeAt + header.sections[0];
  const cacheLength = header.sections[1];
  const text = scratch.toString('utf8', codeAt, codeEnd);
  return cachedFrom(header, path, text, cacheLength >= 0 ? copyOut(codeEnd, cacheLength) : undefined);
}

/** Where an entry's sections are, from its first byte. */
export interface EntryLayout {
  readonly file: string;
  readonly hash: string;
  readonly codeAt: number;
  readonly codeEnd: number;
  /** The end of its code cache: where its maps begin. */
  readonly cacheEnd: number;
  readonly header: Header;
}

/**
 * The layout of the entry at `at` in `bytes`, of which `length` bytes are there (up to the end
 * of its code cache at least); undefined when it is damaged or cut short.
 */
export function entryLayout(bytes: Buffer, at: number, length: number): EntryLayout | undefined {
  if (length < PREFIX || at < 0 || at + length > bytes.length || !bytes.subarray(at, at + 4).equals(MAGIC)) return undefined;
  const codeAt = PREFIX + bytes.readUInt32LE(at + 4);
  if (codeAt > length) return undefined;
  const header = headerIn(bytes, at, codeAt);
  const layout = header && layoutOf(header, codeAt);
  return layout && layout.cacheEnd <= length ? layout : undefined;
}

function layoutOf(header: Header, codeAt: number): EntryLayout {
  return { file: header.file, hash: header.hash, codeAt, codeEnd: codeAt + header.sections[0], cacheEnd: mapsAt(header, codeAt), header };
}

/**
 * The module of the entry laid out at `at` in `bytes` (a start pack read whole: start-pack.ts),
 * its maps in the file `path`: its script `text` as decoded already, or decoded now; its code
 * cache a view of `bytes`, not a copy.
 */
export function entryIn(bytes: Buffer, at: number, layout: EntryLayout, path: string, text?: string): CompiledModule | undefined {
  const { header, codeAt, codeEnd } = layout;
  const cacheLength = header.sections[1];
  const script = text ?? bytes.toString('utf8', at + codeAt, at + codeEnd);
  return cachedFrom(header, path, script, cacheLength >= 0 ? bytes.subarray(at + codeEnd, at + codeEnd + cacheLength) : undefined);
}

/** A CachedModule of `header`, its script `text`: undefined when the header's place of the code is not in it. */
function cachedFrom(header: Header, path: string, text: string, codeCache: Buffer | undefined): CompiledModule | undefined {
  const where = header.code;
  if (where && !(where[0] >= 0 && where[1] >= 0 && where[0] + where[1] <= text.length)) return undefined;
  const code = where ? text.slice(where[0], where[0] + where[1]) : text;
  const script = where ? { text, codeAt: where[0], shared: header.sharedScope === true } : undefined;
  return new CachedModule(header, path, code, script, codeCache);
}

/**
 * A module read from the disk cache, its maps read from its file when first asked for. A class,
 * not the header copied with the maps' getters defined on each: every entry has one shape, and
 * the getters are the prototype's. The copy and the two getters made per entry took ~25-35 ms of
 * reading 3,000 entries (117-119 ms in a loop of their own; Node 20, 2026-12-01).
 */
class CachedModule implements CompiledModule {
  readonly file: string;
  readonly hash: string;
  code: string;
  script: ModuleScript | undefined;
  readonly format: CompiledModule['format'];
  readonly async: boolean;
  readonly deps: CompiledModule['deps'];
  readonly module: CompiledModule['module'];
  codeCache: Buffer | undefined;
  codeCacheKind: CompiledModule['codeCacheKind'];
  sharedScope: boolean | undefined;
  makeCodeCache: CompiledModule['makeCodeCache'] = undefined;
  #path: string;
  #maps: [transformMap: string | null, rewriteInput: string | null] | undefined;

  constructor(header: Header, path: string, code: string, script: ModuleScript | undefined, codeCache: Buffer | undefined) {
    this.file = header.file;
    this.hash = header.hash;
    this.code = code;
    this.script = script;
    this.format = header.format;
    this.async = header.async;
    this.deps = header.deps;
    this.module = header.module;
    this.codeCache = codeCache;
    this.codeCacheKind = header.codeCacheKind;
    this.sharedScope = header.sharedScope;
    this.#path = path;
  }

  get transformMap(): string | null {
    return (this.#maps ??= readMaps(this.#path))[0];
  }

  get rewriteInput(): string | null {
    return (this.#maps ??= readMaps(this.#path))[1];
  }

  /** Written again (its code cache was rejected): its maps are in `path`. */
  mapsOnDisk(path: string): void {
    if (path !== this.#path) this.#maps = undefined;
    this.#path = path;
  }

  /** Its file is about to go: the maps read into memory first. */
  keepMapsInMemory(): void {
    this.#maps ??= readMaps(this.#path);
  }
}

/**
 * `length` bytes of `scratch` from `at`, in a buffer of their own. A copy (`scratch` is read into
 * again), by memcpy: `Buffer.from(scratch.subarray(...))` takes the array-like path, 86 ms for
 * 3,000 copies of 8 kB against 14 ms (Node 20, 2026-11-30); in a warm start of 3,000 modules
 * (~55 ms of its CPU profile) the main thread's CPU went 830 -> 820 ms, at the median of 6.
 */
function copyOut(at: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  scratch.copy(out, 0, at, at + length);
  return out;
}

/** The transform map and the rewrite's input of the entry in `path`; nulls when it is gone or damaged. */
export function readMaps(path: string): [string | null, string | null] {
  const maps = withFile(path, (fd): [string | null, string | null] | undefined => {
    const located = locate(fd, (h, codeAt) => mapsAt(h, codeAt) + Math.max(h.sections[2], 0) + Math.max(h.sections[3], 0));
    if (!located) return undefined;
    const [, , transformLength, inputLength] = located.header.sections;
    const at = mapsAt(located.header, located.codeAt);
    const split = at + Math.max(transformLength, 0);
    return [
      transformLength >= 0 ? scratch.toString('utf8', at, split) : null,
      inputLength >= 0 ? scratch.toString('utf8', split, split + inputLength) : null,
    ];
  });
  return maps ?? [null, null];
}

/** Read on into `scratch` (grown as needed) until `end`, or the end of the file. */
function readMore(fd: number, have: number, end: number): number {
  // A damaged length must not allocate more than the file holds.
  if (end > fstatSync(fd).size) return have;
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
