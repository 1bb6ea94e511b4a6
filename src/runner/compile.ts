/**
 * Source file → compiled module (Oxc's transformer where its output is esbuild's:
 * oxc-transform.ts; else esbuild, or swc for a decorated file when the project asks for decorator
 * metadata: decorator-metadata.ts; then the runner rewrite), cached by a hash of the content, the
 * options and the tool versions: in memory (the latest version of each file) and on disk (every
 * version, so a second start skips the transform and the parser entirely).
 */
import { hash as digest } from 'node:crypto';
import { extname, sep } from 'node:path';
import { DevhotError, ErrorCodes } from '../errors.js';
import { type ModuleFormat, type ModuleInfo, type RewriteDependency, rewriteModule } from './rewrite.js';
import type { TransformOptions } from 'esbuild';
import {
  esbuildVersion,
  needsEsbuild,
  transformFile,
  transformFileSync,
  transformOptions,
  type EsbuildTsconfig,
  type TransformOutput,
} from './transform.js';
import { codeFrame } from './code-frame.js';
import { CompileCache, type CompileCacheStats } from './compile-cache.js';
import { FreshModule, type Maps } from './fresh-module.js';
import type { MetadataTransformer } from './decorator-metadata.js';
import { oxcAgain, oxcCompiles, oxcOptionsFor, transformWithOxc } from './oxc-transform.js';
import { compileToolsLoaded, oxcVersion } from './toolchain.js';
import { type ModuleScript, WRAPPER_SIGNATURE, withOwnScript } from './module-wrapper.js';
import type { PackLink, Stamp } from './start-pack.js';

/** Bump when the rewrite's output or the choice of transformer changes, so stale disk caches are not reused. */
const COMPILER_VERSION = '14';

export interface CompiledModule {
  file: string;
  hash: string;
  /** The generator body (ESM), the CommonJS wrapper body, or the JSON text. */
  code: string;
  /**
   * The code inside its wrapper (module-wrapper.ts), when it was read from the disk cache or
   * compiled as a script: `code` is a slice of it.
   */
  script?: ModuleScript | undefined;
  format: ModuleFormat | 'json';
  async: boolean;
  deps: RewriteDependency[];
  /** An ES module's imports and exports, for the link step. */
  module: ModuleInfo | undefined;
  /** Source map, original → esbuild's output; read only when a stack trace needs it. */
  transformMap: string | null;
  /**
   * What the rewrite ran on (esbuild's output, or the plain JS; null for JSON): the map from it to
   * `code` is made from it when a stack trace needs it (rewriteMapOf), not with every compile.
   */
  rewriteInput: string | null;
  /**
   * V8's code cache for the compiled function, set when it is first compiled and written to
   * disk with the module; gone from memory once used or written (instance.ts).
   */
  codeCache?: Buffer | undefined;
  /** What `codeCache` was made from (instance.ts): the first version's script, or a later version's function. */
  codeCacheKind?: 'script' | 'function' | undefined;
  /** The layout `script` and `codeCache` were made with: true, an ES module's imports in one scope (module-wrapper.ts). */
  sharedScope?: boolean | undefined;
  /** Makes a script's code cache when the module is written (compile-cache.ts), after it ran; then dropped. */
  makeCodeCache?: (() => Buffer) | undefined;
  /** Written to the disk cache's file `path` (compile-cache.ts): the maps are read from there when asked for, not held. */
  mapsOnDisk(path: string): void;
  /** Its file is about to go (a prune, the sweep): the maps back in memory first. */
  keepMapsInMemory(): void;
}

export interface CompilerOptions {
  /** Directory for the disk cache, or false to keep it in memory only. */
  cacheDir: string | false;
  tsconfigRaw: EsbuildTsconfig | undefined;
  /** Module format of a `.js`/`.ts` file without import/export syntax (from package.json "type"). */
  defaultFormat: (file: string) => ModuleFormat;
  /** Compiles the files that use decorators when the tsconfig asks for their metadata. */
  metadata?: MetadataTransformer | undefined;
}

export interface Compiler {
  /** `stamp`: the file's, taken before `source` was read from it, for the start pack (`noting`). */
  compile(file: string, source: string, stamp?: Stamp): Promise<CompiledModule>;
  compileSync(file: string, source: string, stamp?: Stamp): CompiledModule;
  /** A start of `entry` begins: until `endStart`, modules may come from its start pack (start-pack.ts). */
  beginStart(entry: string): void;
  /** `file`'s module from the start pack, without reading it, if its file has not changed since; with its size. */
  packed(file: string): { compiled: CompiledModule; size: number } | undefined;
  /** The links of `file`'s module, taken from the start pack, that still hold: relative imports resolved without the resolver. */
  packedLinks(file: string): PackLink[] | undefined;
  /** How the start resolved `file`'s relative imports where a listing alone answered (`fromPack` of them from its links), for the next pack. */
  noteLinks(file: string, links: PackLink[], fromPack: number): void;
  /** Whether the start under way wants the stamp of each file it reads (for `compile`). */
  readonly noting: boolean;
  /** The start has ended with these modules: the next start's pack is written from them. */
  endStart(modules: Iterable<CompiledModule>): void;
  /** Wait for the disk cache writes still under way (before exit, or a second runner). */
  flush(): Promise<void>;
  /** Write a module to the disk cache again, with the code cache V8 made in place of one it rejected. */
  recache(compiled: CompiledModule): void;
  /** Hold the disk cache writes until `resumeWrites()` and a while after (an update: compile-cache.ts, `defer`). */
  deferWrites(): void;
  resumeWrites(): void;
  /** Cache hits and misses since creation, for the benchmark and the debug log. */
  readonly stats: CompileCacheStats;
  /**
   * Load Oxc's transformer and the rewrite and run them once, on a module of their own (nothing
   * cached, nothing in the graph), unless something was compiled already. A start from the disk
   * cache runs neither; the first save after it paid for loading them and running them for the
   * first time.
   */
  warmUp(): void;
}

/** What warmUp() compiles: an import, exports, a typed function, as a save's module has. */
const WARM_UP_FILE = `${sep}__devhot_warm_up__.ts`;
const WARM_UP_SOURCE = `import { b } from './b.js';\nexport const a: number = b + 1;\nexport function f(x: number): { x: number } {\n  return { x };\n}\n`;

export function createCompiler(options: CompilerOptions): Compiler {
  const cache = new CompileCache(options.cacheDir);
  // The metadata transformer's key names TypeScript's version: a new compiler compiles anew.
  const optionsKey = `${JSON.stringify(options.tsconfigRaw ?? null)}\0${options.metadata?.key ?? ''}\0${WRAPPER_SIGNATURE}`;
  /** What every key is made with besides the module's format, path and source. */
  const keyPrefix = `${COMPILER_VERSION}\0${esbuildVersion}\0${oxcVersion}\0${process.versions.node}\0${optionsKey}`;
  const { metadata } = options;
  /** esbuild's output, or swc's for a file esbuild shows to use decorators. */
  const needsMetadata = (source: string, out: TransformOutput): boolean => metadata?.usesDecorators(source, out.code) === true;
  const formatOf = (esbuildOptions: TransformOptions): 'esm' | 'cjs' => (esbuildOptions.format === 'cjs' ? 'cjs' : 'esm');
  const oxc = oxcOptionsFor(options.tsconfigRaw);

  /**
   * The module compiled by Oxc, or undefined for esbuild to compile it (oxc-transform.ts): Oxc
   * would not, or the rewrite cannot parse what it gave (syntax it keeps that esbuild lowers).
   * A user's error shows as esbuild reports it, so it reads the same whichever ran first.
   */
  const viaOxc = (file: string, source: string, hash: string, format: ModuleFormat, esbuildOptions: TransformOptions) => {
    if (!oxc || !oxcCompiles(file, formatOf(esbuildOptions))) return undefined;
    const out = transformWithOxc(file, source, oxc);
    if (!out) return undefined;
    try {
      return cache.store(finish(file, hash, format, out.code, out.map ?? (() => oxcAgain(file, source, oxc))));
    } catch {
      return undefined;
    }
  };

  /** Everything but the esbuild call, which is the only step with a sync and an async form. */
  const begin = (
    file: string,
    source: string,
    stamp: Stamp | undefined,
  ): { done: CompiledModule } | { hash: string; format: ModuleFormat } => {
    const format = options.defaultFormat(file);
    const hash = cacheKey(keyPrefix, file, source, format);
    if (stamp) cache.noteStamp(file, stamp, hash, format);
    const hit = cache.lookup(file, hash);
    if (hit) return { done: hit };
    if (extname(file) === '.json') return { done: cache.store(compileJson(file, source, hash)) };
    if (!needsEsbuild(file)) return { done: cache.store(finish(file, hash, format, source, null)) };
    return { hash, format };
  };

  return {
    stats: cache.stats,
    flush: () => cache.flush(),
    recache: (compiled) => cache.rewrite(compiled),
    deferWrites: () => cache.defer(),
    resumeWrites: () => cache.resume(),
    beginStart: (entry) => cache.beginStart(entry, digest('sha256', keyPrefix, 'hex')),
    packed: (file) => cache.fromPack(file, options.defaultFormat(file)),
    packedLinks: (file) => cache.packedLinks(file),
    noteLinks: (file, links, fromPack) => cache.noteLinks(file, links, fromPack),
    get noting() {
      return cache.noting;
    },
    endStart: (modules) => cache.endStart(modules),
    warmUp() {
      if (!oxc || compileToolsLoaded()) return;
      try {
        const out = transformWithOxc(WARM_UP_FILE, WARM_UP_SOURCE, oxc);
        if (out) rewriteModule(out.code, { file: WARM_UP_FILE, defaultFormat: 'esm' });
      } catch {
        // Only a head start: the first save loads them as before.
      }
    },
    async compile(file, source, stamp) {
      const start = begin(file, source, stamp);
      if ('done' in start) return start.done;
      const esbuildOptions = transformOptions(file, options.tsconfigRaw, start.format);
      const compiled = viaOxc(file, source, start.hash, start.format, esbuildOptions);
      if (compiled) return compiled;
      let out = await transformFile(source, esbuildOptions);
      if (needsMetadata(source, out)) out = await metadata!.transform(file, source, formatOf(esbuildOptions));
      return cache.store(finish(file, start.hash, start.format, out.code, out.map));
    },
    compileSync(file, source, stamp) {
      const start = begin(file, source, stamp);
      if ('done' in start) return start.done;
      const esbuildOptions = transformOptions(file, options.tsconfigRaw, start.format);
      const compiled = viaOxc(file, source, start.hash, start.format, esbuildOptions);
      if (compiled) return compiled;
      let out = transformFileSync(source, esbuildOptions);
      if (needsMetadata(source, out)) out = metadata!.transformSync(file, source, formatOf(esbuildOptions));
      return cache.store(finish(file, start.hash, start.format, out.code, out.map));
    },
  };
}

/**
 * The module's key in the disk cache. Node's one-shot `hash()`, not a Hash object per module: the
 * same digest (the keys are unchanged), and 3,000 keys in 11 ms instead of 19 at their first
 * pass, as a start makes them (Node 20, 2026-12-01).
 */
function cacheKey(keyPrefix: string, file: string, source: string, format: ModuleFormat): string {
  return digest('sha256', `${keyPrefix}\0${format}\0${file}\0${source}`, 'hex');
}

/**
 * Oxc's or esbuild's output (or plain JS) → the runner's rewrite. `transformMap`: the transform's
 * map, null for plain JS, or how to make the output again with its map (Oxc's: oxc-transform.ts,
 * `oxcAgain`): then both are made when first read, and the output the rewrite ran on is not kept
 * (the rewrite's names are copies of their own for the same reason: own-string.ts), and the
 * module's script is made at once as a string of its own (module-wrapper.ts, `withOwnScript`).
 */
function finish(
  file: string,
  hash: string,
  format: ModuleFormat,
  js: string,
  transformMap: string | null | (() => TransformOutput),
): CompiledModule {
  let rewritten: ReturnType<typeof rewriteModule>;
  try {
    rewritten = rewriteModule(js, { file, defaultFormat: format });
  } catch (error) {
    // The parser saw esbuild's output; only plain JS maps 1:1 to the user's file.
    if (error instanceof DevhotError && error.loc && transformMap === null) {
      throw new DevhotError(error.code, error.message, {
        fix: error.fix,
        loc: error.loc,
        frame: codeFrame(js, error.loc.line, error.loc.column),
        cause: error,
      });
    }
    throw error;
  }
  const { code, async, deps, module } = rewritten;
  const fresh = new FreshModule(file, hash, code, rewritten.format, async, deps, module, mapsOf(js, transformMap));
  withOwnScript(fresh);
  return fresh;
}

/** The module's maps: as they are, or made when first asked for (Oxc's, by compiling again). */
function mapsOf(js: string, transformMap: string | null | (() => TransformOutput)): Maps | (() => Maps) {
  if (typeof transformMap !== 'function') return [transformMap, js];
  const make = transformMap;
  const length = js.length;
  return () => {
    const made: TransformOutput = make();
    // Made again it is the same text; were it not, no rewrite map is better than a wrong one.
    return [made.map, made.code.length === length ? made.code : null];
  };
}

function compileJson(file: string, source: string, hash: string): CompiledModule {
  try {
    JSON.parse(source);
  } catch (error) {
    throw new DevhotError(ErrorCodes.TRANSFORM, `Invalid JSON in ${file}: ${(error as Error).message}`, {
      fix: 'Fix the JSON and save again; the previous version keeps running.',
      cause: error,
    });
  }
  return new FreshModule(file, hash, source, 'json', false, [], undefined, [null, null]);
}

/** Rewrite maps made so far, by module (a version's is made once, when first asked for). */
const rewriteMaps = new WeakMap<CompiledModule, string | null>();

/**
 * The rewrite's source map (`rewriteInput` → `code`), made by running the rewrite again: it is
 * deterministic, and the format it found is the one that reproduces it (a CommonJS result came
 * from a CommonJS default; an ES module result parses as a module either way). Making the map
 * with every compile cost ~0.3 s of CPU and ~10 MB of the app's memory at an empty-cache start
 * of 3,000 modules (Node 20, 2 cores, 2026-11-30), for the few a stack trace ever asks about.
 */
export function rewriteMapOf(compiled: CompiledModule): string | null {
  let map = rewriteMaps.get(compiled);
  if (map === undefined) {
    const input = compiled.rewriteInput;
    map = null;
    if (input !== null && compiled.format !== 'json') {
      try {
        map = rewriteModule(input, { file: compiled.file, defaultFormat: compiled.format, map: true }).map ?? null;
      } catch {
        // It compiled once, so it does again; if not, the frame keeps the compiled position.
      }
    }
    rewriteMaps.set(compiled, map);
  }
  return map;
}
