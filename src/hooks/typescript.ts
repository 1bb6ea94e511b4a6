/**
 * TypeScript for Node's own loaders, in a process or thread without a runner (a forked child or
 * a worker of the app): each user file is compiled with esbuild on its own, with the project's
 * tsconfig and the module format its package gives it, the way tsx runs TypeScript. The
 * compiled code carries an inline source map, and source maps are on, so stack traces point at
 * the .ts lines.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import * as esbuild from 'esbuild';
import { loadTsconfigForEsbuild } from '../runner/esbuild-tsconfig.js';
import { createFormatLookup } from '../runner/package-type.js';
import { createResolver, type Resolver } from '../runner/resolve.js';
import { transformOptions } from '../runner/transform.js';
import { createPackageJsonReader } from '../shared/package-json.js';

/** What Node does not compile itself (it runs .js, .mjs and .cjs as they are). */
const COMPILED = new Set(['.ts', '.tsx', '.mts', '.cts', '.jsx']);

export interface TypeScriptLoader {
  /** Whether devhot compiles this file (TypeScript or JSX of the project). */
  compiles(file: string): boolean;
  /** 'module' or 'commonjs', as Node would call its format. */
  format(file: string): 'module' | 'commonjs';
  /** JavaScript for Node, with an inline source map. */
  compile(file: string, format: 'module' | 'commonjs'): string;
  /** A user file for what Node's resolver did not find (`./a.js` for a.ts, no extension, tsconfig paths). */
  resolve(specifier: string, parent: string): string | undefined;
}

export function createTypeScriptLoader(root: string, tsconfig: string | false | undefined): TypeScriptLoader {
  const packages = createPackageJsonReader({ root });
  const formatOf = createFormatLookup(packages);
  let resolver: Resolver | undefined;
  let raw: ReturnType<typeof loadTsconfigForEsbuild>['raw'];
  try {
    raw = loadTsconfigForEsbuild(root, tsconfig).raw;
  } catch {
    raw = undefined; // the app already reported a broken tsconfig; compile with esbuild's defaults
  }
  return {
    compiles: (file) => COMPILED.has(extname(file)),
    format: (file) => (formatOf(file) === 'cjs' ? 'commonjs' : 'module'),
    compile(file, format) {
      const options = transformOptions(file, raw, format === 'commonjs' ? 'cjs' : 'esm');
      const result = esbuild.transformSync(readFileSync(file, 'utf8'), {
        ...options,
        sourcemap: 'inline',
        format: format === 'commonjs' ? 'cjs' : 'esm',
      });
      return result.code;
    },
    resolve(specifier, parent) {
      resolver ??= createResolver({ root, tsconfig, packages });
      try {
        const resolved = resolver.resolve(specifier, parent, 'import');
        return resolved.kind === 'user' ? resolved.file : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
