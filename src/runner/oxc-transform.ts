/**
 * TypeScript → JavaScript with Oxc's transformer, in this thread, for the files whose output it
 * gives alone the same as esbuild's; everything else goes to esbuild (transform.ts).
 *
 * Why: esbuild's service costs ~0.7 ms of its CPU per `transform` call whatever the file (an
 * empty one included: its IPC and scheduling), so an empty-cache start of 3,000 small modules
 * spent ~3 s of CPU there, on the core the app's own work needed, and a save waited ~3 ms for the
 * round trip. `transformSync` of oxc-transform did the same 3,000 files in 100-180 ms in a loop
 * of its own, with source maps (~0.46 s inside a start, between the rewrite's parses), and one
 * saved file in 0.4 ms (Node 20, 2 cores, 2026-11-30, /tmp/oxctry/t.mjs). Vite moved its
 * TypeScript transform to Oxc for the same reason.
 *
 * What stays with esbuild, because Oxc does it differently or needs its runtime package:
 * - CommonJS output (a .cts file, a .ts file in a CommonJS package): Oxc keeps `import`;
 * - .tsx and .jsx (JSX defaults and pragmas come from the tsconfig, as esbuild reads them);
 * - a file with an empty `import {} from` (below);
 * - a file with an exported enum or a namespace, which Oxc declares with `let` (below);
 * - a tsconfig that keeps unused imports (`importsNotUsedAsValues`, `preserveValueImports`);
 * - a file whose output would import a helper (`using` lowered for this Node, decorators under
 *   `experimentalDecorators`), or that Oxc reports an error in (esbuild's message and frame are
 *   the ones devhot's errors are made of);
 * - a file whose output the rewrite cannot parse (compile.ts): syntax Oxc keeps and Node cannot
 *   run, such as TC39 decorators and `accessor` fields, which esbuild lowers.
 */
import { extname } from 'node:path';
import type * as Oxc from 'oxc-transform';
import { definesClassFields } from './esbuild-tsconfig.js';
import { loadOxc } from './toolchain.js';
import type { EsbuildTsconfig, TransformOutput } from './transform.js';
import { NODE_MAJOR, NODE_MINOR } from '../shared/node-version.js';

export type OxcOptions = Readonly<Oxc.TransformOptions>;

/** The files Oxc may compile: TypeScript that is an ES module by its name or its package. */
const EXTENSIONS = new Set(['.ts', '.mts']);

/**
 * Oxc's options for a project, or undefined when its tsconfig asks for what only esbuild does
 * here (see above): then every file goes to esbuild, as before.
 */
export function oxcOptionsFor(tsconfigRaw: EsbuildTsconfig | undefined): OxcOptions | undefined {
  const options = tsconfigRaw?.compilerOptions ?? {};
  if (options.preserveValueImports === true) return undefined;
  if (options.importsNotUsedAsValues !== undefined && options.importsNotUsedAsValues !== 'remove') return undefined;
  // esbuild's rule, which tsx follows: no target defines them.
  const assigned = !definesClassFields(options.useDefineForClassFields, options.target, 'esnext');
  return Object.freeze({
    lang: 'ts',
    sourceType: 'module',
    // As esbuild's: lower only what this Node cannot run.
    target: `node${NODE_MAJOR}.${NODE_MINOR}`,
    // The map is made when first read (oxcAgain): the output is the same without it.
    sourcemap: false,
    typescript: Object.freeze({
      onlyRemoveTypeImports: options.verbatimModuleSyntax === true,
      // With setPublicClassFields: tsc's `useDefineForClassFields: false`, as esbuild emits it
      // for this Node (fields assigned in the constructor, static ones in a static block).
      ...(assigned ? { removeClassFieldsWithoutInitializer: true } : {}),
    }),
    ...(assigned ? { assumptions: Object.freeze({ setPublicClassFields: true }) } : {}),
    // A decorated file then needs Oxc's helpers, so esbuild compiles it (and swc, for metadata).
    ...(options.experimentalDecorators === true ? { decorator: Object.freeze({ legacy: true }) } : {}),
  });
}

/** Whether Oxc may compile this file, an ES module by `format`. */
export function oxcCompiles(file: string, format: 'esm' | 'cjs' | undefined): boolean {
  return format !== 'cjs' && EXTENSIONS.has(extname(file));
}

/**
 * `import {} from './x'`: tsc and esbuild drop it (no binding is used), Oxc keeps it as
 * `import './x'`, which would run x. Rare, so such a file goes to esbuild; a false match
 * (the text in a string or comment) costs only speed.
 */
const EMPTY_IMPORT = /\bimport\s*(?:type\s*)?(?:[\w$]+\s*,\s*)?\{\s*\}\s*from\b/;

/**
 * An exported enum, or a namespace (`module X {}` too): Oxc declares it with `let`, tsc and
 * esbuild with `var`. Read through an import cycle before its module ran (a decorator's options
 * keeping an enum, say), it is `undefined` under tsx and a ReferenceError with Oxc's output. Such
 * a file goes to esbuild. `declare` forms emit nothing and are left out; a false match (the text
 * in a string, a namespace inside `declare global {}`) costs only speed. The keyword first, the
 * context behind it: the 3,000 sources of the CLI bench's project in 3 ms, where a pattern
 * starting with the context took 10-19 ms (it is tried at every position).
 */
const LET_DECLARED =
  /(?:enum|namespace|module)\s(?<=\bexport\s+(?:const\s+)?enum\s|(?:^|[\n;{}])\s*(?:export\s+)?(?:namespace|module)\s)\s*[A-Za-z_$\u0080-\uffff]/;

/** Oxc's output for one file, or undefined when esbuild must compile it (an error, a helper, an empty import, a `let` declared enum). */
export function transformWithOxc(file: string, source: string, options: OxcOptions): TransformOutput | undefined {
  if (EMPTY_IMPORT.test(source) || LET_DECLARED.test(source)) return undefined;
  const result = loadOxc().transformSync(file, source, options);
  if (result.errors.length > 0 || Object.keys(result.helpersUsed).length > 0) return undefined;
  return { code: result.code, map: mapJson(file, result.map) };
}

/**
 * Oxc's output for `source` made again, with its source map: Oxc's output is the same with a map
 * and without (all 3,000 sources of the CLI bench's project compared), so the map of a module
 * compiled without one, and the output the rewrite ran on, are made when a stack trace, the
 * debugger or the disk cache first reads them. Made with every compile, the map took ~30% of
 * Oxc's time (3,000 sources in a loop of their own: 162-190 ms with maps, 117-119 ms without;
 * Node 20, 2026-12-01).
 */
export function oxcAgain(file: string, source: string, options: OxcOptions): TransformOutput {
  const result = loadOxc().transformSync(file, source, { ...options, sourcemap: true });
  return { code: result.code, map: mapJson(file, result.map) };
}

/** As esbuild's maps: the file by its path, its text left on disk. */
function mapJson(file: string, map: Oxc.TransformResult['map']): string | null {
  return map ? JSON.stringify({ version: 3, sources: [file], names: map.names, mappings: map.mappings }) : null;
}
