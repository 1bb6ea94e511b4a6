/**
 * A module compiled in this process (compile.ts), as a class: every compiled module has one
 * shape, and the maps' getters are the prototype's. As an object literal whose maps were turned
 * into getters once it was written to the disk cache (`Object.defineProperty` on each), every
 * module of an empty-cache start ended as a dictionary-mode object: 2.45 MB for 3,003 modules
 * in a heap snapshot of the app (~816 bytes each; Node 24, 2026-12-02).
 *
 * Its two maps (esbuild's or Oxc's `transformMap`, and the rewrite's input, `rewriteInput`) are
 * in memory, made when first asked for (Oxc's map is made by compiling again: compile.ts), or in
 * the disk cache's file once it is written there (cache-entry.ts, readMaps), read from it when a
 * stack trace asks. Before this process removes that file (a prune, the sweep) they come back
 * into memory (compile-cache.ts); a file removed by anyone else gives none, and a stack frame
 * then shows the compiled position. A module read from the disk cache is cache-entry.ts's
 * CachedModule, which does the same.
 */
import { readMaps } from './cache-entry.js';
import type { CompiledModule } from './compile.js';
import type { ModuleScript } from './module-wrapper.js';

export type Maps = [transformMap: string | null, rewriteInput: string | null];

export class FreshModule implements CompiledModule {
  script: ModuleScript | undefined = undefined;
  codeCache: Buffer | undefined = undefined;
  codeCacheKind: CompiledModule['codeCacheKind'] = undefined;
  sharedScope: boolean | undefined = undefined;
  makeCodeCache: CompiledModule['makeCodeCache'] = undefined;
  /** In memory; a function that makes them; or the path of the file they are in. */
  #maps: Maps | (() => Maps) | string;

  constructor(
    readonly file: string,
    readonly hash: string,
    public code: string,
    readonly format: CompiledModule['format'],
    readonly async: boolean,
    readonly deps: CompiledModule['deps'],
    readonly module: CompiledModule['module'],
    maps: Maps | (() => Maps),
  ) {
    this.#maps = maps;
  }

  get transformMap(): string | null {
    return this.#held()[0];
  }

  get rewriteInput(): string | null {
    return this.#held()[1];
  }

  /** Written to `path`: the maps are read from there when asked for, and let go of here. */
  mapsOnDisk(path: string): void {
    this.#maps = path;
  }

  /** Its file is about to go: the maps back in memory. */
  keepMapsInMemory(): void {
    this.#maps = this.#held();
  }

  #held(): Maps {
    const maps = this.#maps;
    if (typeof maps === 'function') return (this.#maps = maps());
    // Read once when a file holds them, then kept, as a module read from the cache keeps them.
    if (typeof maps === 'string') return (this.#maps = readMaps(maps));
    return maps;
  }
}
