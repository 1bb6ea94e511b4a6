/**
 * TypeScript/JSX → JavaScript with esbuild, one file per call. `transform` (not `build`) because
 * it reads nothing from disk: tsconfig settings come in as `tsconfigRaw`, which measured about
 * twice as fast as a multi-entry `build` here: 3,000 small .ts files took 1.2 s as concurrent
 * `transform` calls and 2.2–2.8 s as one `build` (which looks up tsconfig and package.json per file)
 * on a 2-core machine, Node 20, 2026-11.
 */
import { extname } from 'node:path';
import type * as esbuild from 'esbuild';
import { DevhotError, ErrorCodes } from '../errors.js';
import { codeFrame } from './code-frame.js';
import { esbuildLoaded, loadEsbuild } from './toolchain.js';
import { NODE_MAJOR, NODE_MINOR } from '../shared/node-version.js';

export interface TransformOutput {
  code: string;
  /** Source map JSON from the original file to `code`; null when nothing was transformed. */
  map: string | null;
}

/** The compiler options esbuild reads from a tsconfig (everything else is type-checking). */
export interface EsbuildTsconfig {
  compilerOptions?: {
    jsx?: string;
    jsxFactory?: string;
    jsxFragmentFactory?: string;
    jsxImportSource?: string;
    experimentalDecorators?: boolean;
    useDefineForClassFields?: boolean;
    verbatimModuleSyntax?: boolean;
    preserveValueImports?: boolean;
    importsNotUsedAsValues?: string;
    target?: string;
    alwaysStrict?: boolean;
  };
}

const LOADERS: Readonly<Record<string, esbuild.Loader>> = Object.freeze({
  '.ts': 'ts',
  '.mts': 'ts',
  '.cts': 'ts',
  '.tsx': 'tsx',
  '.js': 'js',
  '.mjs': 'js',
  '.cjs': 'js',
  '.jsx': 'jsx',
});

const BASE_OPTIONS: Readonly<esbuild.TransformOptions> = Object.freeze({
  // Lower only what this Node cannot run (e.g. `using` on Node 20); keep everything else as written.
  target: `node${NODE_MAJOR}.${NODE_MINOR}`,
  platform: 'node',
  // External so the map can be composed with the rewrite's and read only when a stack needs it.
  sourcemap: 'external',
  // The original file is on disk; not embedding it keeps each cached map small.
  sourcesContent: false,
  // Keep non-ASCII text as written, so string literals and code frames read naturally.
  charset: 'utf8',
  logLevel: 'silent',
});

export { esbuildVersion } from './toolchain.js';

/** Whether a file is JavaScript that needs no esbuild pass (plain JS is parsed by the rewrite). */
export function needsEsbuild(file: string): boolean {
  const ext = extname(file);
  return ext !== '.js' && ext !== '.mjs' && ext !== '.cjs';
}

/**
 * esbuild's options for one file. `packageFormat` is the module format its package gives it (the
 * nearest package.json "type"): in a CommonJS package a .ts, .tsx or .jsx file is CommonJS, as
 * Node's loaders, tsx, ts-node and tsc (`"module": "commonjs"`) all treat it, so its `import`s
 * become `require()`s and it has `__dirname`, `require`, `module` and `exports`. .mts/.cts and
 * .mjs/.cjs say their format themselves; plain .js does not go through esbuild.
 */
export function transformOptions(
  file: string,
  tsconfigRaw: EsbuildTsconfig | undefined,
  packageFormat: 'esm' | 'cjs' = 'esm',
): esbuild.TransformOptions {
  const ext = extname(file);
  const loader = LOADERS[ext];
  if (!loader) {
    throw new DevhotError(ErrorCodes.UNSUPPORTED_FILE, `devhot cannot run ${file}: no loader for "${ext}" files`, {
      fix: 'Import only .ts, .tsx, .mts, .cts, .js, .jsx, .mjs, .cjs or .json files from server code.',
    });
  }
  return {
    ...BASE_OPTIONS,
    loader,
    sourcefile: file,
    ...(isCommonJs(ext, packageFormat) ? { format: 'cjs' as const } : {}),
    ...(tsconfigRaw ? { tsconfigRaw: tsconfigRaw as esbuild.TransformOptions['tsconfigRaw'] } : {}),
  };
}

function isCommonJs(ext: string, packageFormat: 'esm' | 'cjs'): boolean {
  if (ext === '.cts' || ext === '.cjs') return true;
  return packageFormat === 'cjs' && (ext === '.ts' || ext === '.tsx' || ext === '.jsx');
}

/** Transforms waiting for esbuild's service, in this process (every runner shares the one service). */
let inFlight = 0;

export async function transformFile(source: string, options: esbuild.TransformOptions): Promise<TransformOutput> {
  inFlight++;
  try {
    const result = await loadEsbuild().transform(source, options);
    return { code: result.code, map: result.map || null };
  } catch (error) {
    throw toTransformError(error, source, options.sourcefile!);
  } finally {
    inFlight--;
  }
}

/**
 * Replace esbuild's service with a fresh one, if it is idle. After thousands of transforms (an
 * empty-cache start) its Go heap stays at what they needed: 137 MB RSS after the 3,000 modules
 * of the runner bench, against 11 MB for the fresh service that replaces it (GOMEMLIMIT instead made
 * that start 2-2.5 times slower: Go's GC ran all through it). The new one starts now, in the background, so the
 * next save does not wait for its spawn (~20 ms). Node 20, 2 cores, 2026-11-30.
 */
export function recycleEsbuild(): void {
  // Not loaded: Oxc compiled everything (oxc-transform.ts), and no service runs.
  if (inFlight > 0 || !esbuildLoaded()) return;
  const api = loadEsbuild();
  void api
    .stop()
    .then(() => api.transform('', { loader: 'js' }))
    .catch(() => {});
}

export function transformFileSync(source: string, options: esbuild.TransformOptions): TransformOutput {
  try {
    const result = loadEsbuild().transformSync(source, options);
    return { code: result.code, map: result.map || null };
  } catch (error) {
    throw toTransformError(error, source, options.sourcefile!);
  }
}

function toTransformError(error: unknown, source: string, file: string): DevhotError {
  const failure = (error as esbuild.TransformFailure).errors?.[0];
  if (!failure) {
    return new DevhotError(ErrorCodes.TRANSFORM, `esbuild failed on ${file}: ${String(error)}`, { cause: error });
  }
  const line = failure.location?.line ?? 1;
  // esbuild columns are 0-based; editors and stack traces count from 1.
  const column = (failure.location?.column ?? 0) + 1;
  const tla = /Top-level await is currently not supported with the "cjs" output format/.test(failure.text);
  const message = tla ? `Top-level await in ${file}, which is a CommonJS module: its package.json has no "type": "module"` : failure.text;
  return new DevhotError(ErrorCodes.TRANSFORM, message, {
    fix: tla
      ? 'Rename the file to .mts, or set "type": "module" in package.json (CommonJS cannot await at the top level, under tsx or node either).'
      : 'Fix the error and save again; the previous version keeps running.',
    loc: { file, line, column },
    frame: codeFrame(source, line, column),
    cause: error,
  });
}
