/**
 * The compile toolchain (Oxc's transformer, esbuild, meriyah, magic-string, remapping), loaded at
 * its first use. A start from the disk cache runs none of it, and importing it took ~85 ms of the
 * app process's ~135 ms of loading the runner (esbuild's API 44 ms, acorn 18, magic-string 11,
 * remapping 14; Node 20, 2 cores, 2026-11-30; oxc-transform, 19 ms, and meriyah, 18 ms in place
 * of acorn, came later), before the start could begin. A start that compiles loads it at its
 * first miss; one from the cache, Oxc and the rewrite 300 ms after it (the compiler's warm-up,
 * runner.ts), so the first save does not.
 */
import { createRequire } from 'node:module';
import type Remapping from '@jridgewell/remapping';
import type * as Esbuild from 'esbuild';
import type MagicStringClass from 'magic-string';
import type * as Meriyah from 'meriyah';
import type * as Oxc from 'oxc-transform';
import type * as CjsLexer from 'cjs-module-lexer';

const require = createRequire(import.meta.url);

let esbuildApi: typeof Esbuild | undefined;
let meriyah: typeof Meriyah | undefined;
let magicString: typeof MagicStringClass | undefined;
let remappingFn: typeof Remapping | undefined;
let oxc: typeof Oxc | undefined;
let cjsLexer: typeof CjsLexer | undefined;

export const esbuildVersion: string = (require('esbuild/package.json') as { version: string }).version;

export const oxcVersion: string = (require('oxc-transform/package.json') as { version: string }).version;

export const loadOxc = (): typeof Oxc => (oxc ??= require('oxc-transform') as typeof Oxc);

export const loadEsbuild = (): typeof Esbuild => (esbuildApi ??= require('esbuild') as typeof Esbuild);

/** Whether esbuild's API was loaded (its service may run). */
export const esbuildLoaded = (): boolean => esbuildApi !== undefined;

export const loadMeriyah = (): typeof Meriyah => (meriyah ??= require('meriyah') as typeof Meriyah);

/** Node's own lexer of CommonJS export names (Node vendors it: deps/cjs-module-lexer), its JavaScript build: no init. */
export const loadCjsLexer = (): typeof CjsLexer => (cjsLexer ??= require('cjs-module-lexer') as typeof CjsLexer);

/** Whether Oxc's transformer and the rewrite's parser were loaded (something was compiled). */
export const compileToolsLoaded = (): boolean => oxc !== undefined && meriyah !== undefined;

export function loadMagicString(): typeof MagicStringClass {
  // An ES module (require(esm), Node >= 20.19): its class is the default export.
  magicString ??= (require('magic-string') as { default: typeof MagicStringClass }).default;
  return magicString;
}

export function loadRemapping(): typeof Remapping {
  remappingFn ??= require('@jridgewell/remapping') as typeof Remapping;
  return remappingFn;
}
