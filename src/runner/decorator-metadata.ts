/**
 * Decorator metadata (`emitDecoratorMetadata`: `design:type`, `design:paramtypes`,
 * `design:returntype`), which esbuild does not emit and NestJS's injection by constructor type,
 * class-validator, class-transformer and TypeORM read. When the tsconfig sets it (with
 * `experimentalDecorators`), a file that uses decorators is compiled by @swc/core, whose legacy
 * decorators with `decoratorMetadata` are what tsc emits; every other file keeps esbuild.
 *
 * Which files: esbuild runs first (its syntax errors, frames and all, are reported as for any
 * file), and a file whose output calls esbuild's decorator helpers is compiled again by swc. So
 * the test is exact, and costs nothing for files without an `@`.
 *
 * Why swc and not TypeScript's `transpileModule`: on the generated Nest project of 304 files
 * (bench/decorator-transform.bench.ts, Node 20, 2 shared cores, 2026-11) swc took 33 ms to load
 * and 113–116 ms for every file, TypeScript 462–574 ms to load and 2.2–2.5 s for every file; a
 * save of one controller 0.24–0.34 ms against 2.2–2.7 ms. TypeScript, run one file at a time on
 * the main thread, held the event loop so long that a cold start of that project passed the
 * start deadline (5.4–5.7 s); swc's `transform` runs on its own threads. What it costs: swc's
 * output is not tsc's byte for byte (helpers are named otherwise; the interop follows
 * `esModuleInterop` as tsc's does, mapped below), and an 11 MB native package, loaded only by a
 * project that asks for metadata. The same Nest app under devhot and built by tsc under node
 * answers the same (test/cli-nest.test.ts).
 */
import { createRequire } from 'node:module';
import type * as Swc from '@swc/core';
import { definesClassFields } from './esbuild-tsconfig.js';
import type { TransformOutput } from './transform.js';

export interface MetadataTransformer {
  /** For the compile cache's key: the compiler, its version and the options given to it. */
  readonly key: string;
  /** Whether esbuild's output for a file shows decorators (then `transform` compiles it again). */
  usesDecorators(source: string, esbuildOutput: string): boolean;
  /** The file compiled by swc, in the module format esbuild gave it. */
  transform(file: string, source: string, format: 'esm' | 'cjs'): Promise<TransformOutput>;
  transformSync(file: string, source: string, format: 'esm' | 'cjs'): TransformOutput;
}

/** What the start reports about decorator metadata, if anything. */
export type MetadataSetup = { transformer: MetadataTransformer; warning?: undefined } | { transformer?: undefined; warning?: string };

/** esbuild's helpers for TypeScript's experimental decorators (a number suffix if renamed). */
const DECORATOR_HELPERS = /\b__decorate(?:Class|Param)\d*\(/;

const require = createRequire(import.meta.url);

/**
 * The transformer for a project whose tsconfig chain has `compilerOptions`, or why there is
 * none (a warning for the start), or nothing when the project does not ask for metadata.
 */
export function setUpMetadata(compilerOptions: Readonly<Record<string, unknown>>, configFile: string): MetadataSetup {
  if (compilerOptions.emitDecoratorMetadata !== true) return {};
  if (compilerOptions.experimentalDecorators !== true) {
    return {
      warning:
        `${configFile} sets emitDecoratorMetadata without experimentalDecorators, which tsc rejects (TS5052): ` +
        'no design:type/design:paramtypes metadata is emitted. Set "experimentalDecorators": true as well.',
    };
  }
  return { transformer: swcTransformer(compilerOptions) };
}

function swcTransformer(compilerOptions: Readonly<Record<string, unknown>>): MetadataTransformer {
  const { version } = require('@swc/core/package.json') as { version: string };
  const settings = {
    // tsc's default target, ES5, when none is set.
    useDefineForClassFields: definesClassFields(compilerOptions.useDefineForClassFields, compilerOptions.target, 'es5'),
    // tsc without esModuleInterop (allowSyntheticDefaultImports changes only type checks):
    // `import x from 'cjs'` reads `.default` of what require() gives, with no helper.
    noInterop: compilerOptions.esModuleInterop !== true,
  };
  let swc: typeof Swc | undefined;
  const options = (file: string, format: 'esm' | 'cjs'): Swc.Options => ({
    filename: file,
    // The project's .swcrc is for its own build, not for this one transform.
    swcrc: false,
    configFile: false,
    sourceMaps: true,
    inlineSourcesContent: false,
    isModule: true,
    jsc: {
      parser: { syntax: 'typescript', decorators: true, tsx: file.endsWith('.tsx') },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: settings.useDefineForClassFields },
      // Node >= 20 runs ES2022 as written.
      target: 'es2022',
      keepClassNames: true,
    },
    module: format === 'cjs' ? { type: 'commonjs', noInterop: settings.noInterop } : { type: 'es6' },
  });
  // Loaded at the first decorated file (~33 ms), never on a start from the disk cache until a save.
  const load = (): typeof Swc => (swc ??= require('@swc/core') as typeof Swc);
  return {
    key: `@swc/core@${version} ${JSON.stringify(settings)}`,
    usesDecorators: (source, output) => source.includes('@') && DECORATOR_HELPERS.test(output),
    async transform(file, source, format) {
      return output(await load().transform(source, options(file, format)), file);
    },
    transformSync(file, source, format) {
      return output(load().transformSync(source, options(file, format)), file);
    },
  };
}

/** swc names the source by the path it was given; esbuild's maps name the file itself. */
function output(result: Swc.Output, file: string): TransformOutput {
  if (!result.map) return { code: result.code, map: null };
  const map = JSON.parse(result.map) as { sources: string[]; sourceRoot?: string; sourcesContent?: unknown };
  map.sources = [file];
  delete map.sourceRoot;
  delete map.sourcesContent;
  return { code: result.code, map: JSON.stringify(map) };
}
