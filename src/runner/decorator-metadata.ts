/**
 * Decorator metadata (`emitDecoratorMetadata`: `design:type`, `design:paramtypes`,
 * `design:returntype`), which esbuild does not emit and NestJS's injection by constructor type,
 * class-validator, class-transformer and TypeORM read. When the tsconfig sets it (with
 * `experimentalDecorators`), a file that uses decorators is compiled by TypeScript's
 * `transpileModule` instead of esbuild; every other file keeps esbuild.
 *
 * Which files: esbuild runs first (its syntax errors, frames and all, are reported as for any
 * file), and a file whose output calls esbuild's decorator helpers goes to TypeScript. So the
 * test is exact, and costs nothing for files without an `@`.
 *
 * Why TypeScript and not @swc/core: on the generated Nest project of 304 files
 * (bench/decorator-transform.bench.ts, Node 20, 2 shared cores, 2026-11) swc took 33 ms to load
 * and 116 ms for every file, TypeScript 462–574 ms to load and 2.2–2.5 s for every file (esbuild
 * 0.9 s there, transformSync one file at a time); a save of one controller took 0.3 ms with swc
 * and 2.2–2.7 ms with TypeScript, as long as esbuild's 2.0–2.3 ms. The per-save cost is the same
 * to the user; the cold start (no disk cache: once per file content) costs ~2.5 s more. In
 * exchange TypeScript's output is tsc's, file by file: the same helpers, the same module
 * interop under the project's own `esModuleInterop` (swc always adds interop: a default import
 * of a CommonJS package that crashes under tsc would run), the same class fields under its
 * `target`/`useDefineForClassFields`; and it is the project's own compiler, which every Nest
 * project has installed, so devhot gains no dependency (swc: 11 MB of native binary).
 *
 * It is loaded from the project (resolved from its root), at the first decorated file. Without
 * one, decorated files keep esbuild and the start warns, as before.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as TS from 'typescript';
import type { TransformOutput } from './transform.js';

export interface MetadataTransformer {
  /** For the compile cache's key: the compiler, its version and the options given to it. */
  readonly key: string;
  /** Whether esbuild's output for a file shows decorators (then `transform` compiles it again). */
  usesDecorators(source: string, esbuildOutput: string): boolean;
  /** The file compiled by TypeScript, in the module format esbuild gave it. */
  transform(file: string, source: string, format: 'esm' | 'cjs'): TransformOutput;
}

/** What the start reports about decorator metadata, if anything. */
export type MetadataSetup = { transformer: MetadataTransformer; warning?: undefined } | { transformer?: undefined; warning?: string };

/** esbuild's helpers for TypeScript's experimental decorators (a number suffix if renamed). */
const DECORATOR_HELPERS = /\b__decorate(?:Class|Param)\d*\(/;

/**
 * Options that place or shape files tsc writes, not the code of one module: dropped, so that
 * the output is one module with its map next to it.
 */
const DROPPED = [
  'outDir',
  'outFile',
  'rootDir',
  'rootDirs',
  'sourceRoot',
  'mapRoot',
  'declaration',
  'declarationMap',
  'declarationDir',
  'emitDeclarationOnly',
  'composite',
  'incremental',
  'tsBuildInfoFile',
  'inlineSourceMap',
  'inlineSources',
  'noEmit',
  'moduleResolution',
  'module',
  'paths',
  'baseUrl',
  'plugins',
];

/**
 * The transformer for a project whose tsconfig chain has `compilerOptions`, or why there is
 * none (a warning for the start), or nothing when the project does not ask for metadata.
 */
export function setUpMetadata(root: string, compilerOptions: Readonly<Record<string, unknown>>, configFile: string): MetadataSetup {
  if (compilerOptions.emitDecoratorMetadata !== true) return {};
  if (compilerOptions.experimentalDecorators !== true) {
    return {
      warning:
        `${configFile} sets emitDecoratorMetadata without experimentalDecorators, which tsc rejects (TS5052): ` +
        'no design:type/design:paramtypes metadata is emitted. Set "experimentalDecorators": true as well.',
    };
  }
  const found = findTypeScript(root);
  if (!found) {
    return {
      warning:
        `${configFile} sets emitDecoratorMetadata, which devhot emits with the project's TypeScript compiler, and there is ` +
        `none from ${root}: decorators run without design:type/design:paramtypes metadata, so injection by type ` +
        '(NestJS, TypeORM) gets undefined. Install it: npm install -D typescript.',
    };
  }
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(compilerOptions)) if (!DROPPED.includes(key)) options[key] = value;
  return { transformer: typeScriptTransformer(found, options, root) };
}

function findTypeScript(root: string): { main: string; version: string } | undefined {
  try {
    const require = createRequire(join(root, 'package.json'));
    const pkg = require.resolve('typescript/package.json');
    const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
    return { main: require.resolve('typescript'), version };
  } catch {
    return undefined;
  }
}

function typeScriptTransformer(
  found: { main: string; version: string },
  options: Record<string, unknown>,
  root: string,
): MetadataTransformer {
  let ts: typeof TS | undefined;
  let converted: TS.CompilerOptions | undefined;
  const load = (): { ts: typeof TS; base: TS.CompilerOptions } => {
    // Lazily: ~0.5 s, paid by the first decorated file only (never, on a start from the disk cache until a save).
    ts ??= createRequire(found.main)(found.main) as typeof TS;
    converted ??= ts.convertCompilerOptionsFromJson(options, root).options;
    return { ts, base: converted };
  };
  return {
    key: `typescript@${found.version} ${JSON.stringify(options)}`,
    usesDecorators: (source, output) => source.includes('@') && DECORATOR_HELPERS.test(output),
    transform(file, source, format) {
      const { ts, base } = load();
      const result = ts.transpileModule(source, {
        fileName: file,
        compilerOptions: {
          ...base,
          module: format === 'cjs' ? ts.ModuleKind.CommonJS : ts.ModuleKind.ESNext,
          sourceMap: true,
        },
      });
      return { code: stripMapComment(result.outputText), map: result.sourceMapText ? pointMapAt(result.sourceMapText, file) : null };
    },
  };
}

/** The `//# sourceMappingURL=` line tsc appends: devhot keeps the map itself (stack.ts). */
function stripMapComment(code: string): string {
  return code.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
}

/** tsc names the source relative to the output; esbuild's maps name the file itself. */
function pointMapAt(map: string, file: string): string {
  const parsed = JSON.parse(map) as { sources: string[]; sourceRoot?: string };
  parsed.sources = [file];
  delete parsed.sourceRoot;
  return JSON.stringify(parsed);
}
