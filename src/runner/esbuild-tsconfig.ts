/**
 * The compiler options esbuild needs from the project's tsconfig chain (JSX, decorators, class
 * fields), merged across `extends` the way TypeScript does: bases first, the config itself last.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { DevhotError, ErrorCodes } from '../errors.js';
import { parseJsonc } from './jsonc.js';
import type { EsbuildTsconfig } from './transform.js';

const ESBUILD_KEYS = [
  'jsx',
  'jsxFactory',
  'jsxFragmentFactory',
  'jsxImportSource',
  'experimentalDecorators',
  'useDefineForClassFields',
  'verbatimModuleSyntax',
  'preserveValueImports',
  'importsNotUsedAsValues',
  'target',
  'alwaysStrict',
] as const;

export interface EsbuildTsconfigResult {
  raw: EsbuildTsconfig | undefined;
  /** Every config file read: a change to one needs a restart. */
  files: string[];
  /** `emitDecoratorMetadata` is on, which esbuild does not implement. */
  decoratorMetadata: boolean;
}

export function loadTsconfigForEsbuild(root: string, tsconfig: string | false | undefined): EsbuildTsconfigResult {
  if (tsconfig === false) return { raw: undefined, files: [], decoratorMetadata: false };
  const file = tsconfig ?? join(root, 'tsconfig.json');
  if (!existsSync(file)) {
    if (tsconfig) {
      throw new DevhotError(ErrorCodes.TSCONFIG, `tsconfig ${file} not found`, { fix: 'Pass an existing tsconfig.json, or leave the option out.' });
    }
    return { raw: undefined, files: [], decoratorMetadata: false };
  }
  const files: string[] = [];
  const options = load(file, files, new Set());
  const compilerOptions: Record<string, unknown> = {};
  for (const key of ESBUILD_KEYS) if (options[key] !== undefined) compilerOptions[key] = options[key];
  return {
    raw: { compilerOptions } as EsbuildTsconfig,
    files,
    decoratorMetadata: options.emitDecoratorMetadata === true,
  };
}

function load(file: string, files: string[], seen: Set<string>): Record<string, unknown> {
  if (seen.has(file)) return {};
  seen.add(file);
  files.push(file);
  let json: { extends?: unknown; compilerOptions?: Record<string, unknown> };
  try {
    json = parseJsonc(readFileSync(file, 'utf8')) as typeof json;
  } catch (error) {
    throw new DevhotError(ErrorCodes.TSCONFIG, `Cannot read ${file}: ${(error as Error).message}`, {
      fix: 'Fix the JSON in that tsconfig file.',
      cause: error,
    });
  }
  const bases = json.extends === undefined ? [] : Array.isArray(json.extends) ? json.extends : [json.extends];
  const merged: Record<string, unknown> = {};
  for (const base of bases) {
    if (typeof base !== 'string') continue;
    const baseFile = locate(base, dirname(file));
    if (baseFile) Object.assign(merged, load(baseFile, files, seen));
  }
  return Object.assign(merged, json.compilerOptions ?? {});
}

function locate(specifier: string, fromDir: string): string | undefined {
  if (specifier.startsWith('.') || isAbsolute(specifier)) {
    const path = resolve(fromDir, specifier);
    if (existsSync(path)) return path;
    if (existsSync(`${path}.json`)) return `${path}.json`;
    return undefined;
  }
  const require = createRequire(join(fromDir, 'tsconfig.json'));
  for (const candidate of [specifier, `${specifier}/tsconfig.json`, `${specifier}.json`]) {
    try {
      return require.resolve(candidate);
    } catch {
      // try the next spelling TypeScript accepts
    }
  }
  return undefined;
}
