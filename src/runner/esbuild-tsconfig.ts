/**
 * The compiler options esbuild needs from the project's tsconfig chain (JSX, decorators, class
 * fields), and the whole chain's options for decorator metadata (decorator-metadata.ts), taken
 * from the chain tsconfig.ts reads, so esbuild and the resolver see the same
 * configs merged by the same rules.
 *
 * Read once when the runner is created: a change to any file of the chain needs a restart.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { readTsconfig } from './tsconfig.js';
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

/**
 * Whether class fields are defined (not assigned): `useDefineForClassFields` if set, else from
 * target ES2022 on. With no target, tsc takes ES5 and esbuild takes the newest, so the caller
 * says which it follows (`noTarget`).
 */
export function definesClassFields(useDefine: unknown, target: unknown, noTarget: 'es5' | 'esnext'): boolean {
  if (typeof useDefine === 'boolean') return useDefine;
  const t = String(target ?? noTarget).toLowerCase();
  return t === 'esnext' || (/^es\d{4}$/.test(t) && Number(t.slice(2)) >= 2022);
}

export interface EsbuildTsconfigResult {
  raw: EsbuildTsconfig | undefined;
  /** Every config file read: a change to one needs a restart. */
  files: string[];
  /**
   * The chain's compilerOptions, all of them, as written: decorator-metadata.ts reads them for
   * the files esbuild cannot compile as tsc does (emitDecoratorMetadata, given to swc).
   */
  compilerOptions: Readonly<Record<string, unknown>>;
}

/**
 * `tsconfig`: a path (absolute or relative to `root`) that must exist; undefined for
 * `<root>/tsconfig.json` if there is one; false for none. Throws a DevhotError
 * (DEVHOT_ERR_TSCONFIG) when the chain is broken: a missing file or base, a loop, bad JSON.
 */
export function loadTsconfigForEsbuild(root: string, tsconfig: string | false | undefined): EsbuildTsconfigResult {
  if (tsconfig === false) return { raw: undefined, files: [], compilerOptions: {} };
  const file = path.resolve(root, tsconfig ?? 'tsconfig.json');
  // Without one given, a project without tsconfig.json is fine: esbuild's defaults apply.
  if (tsconfig === undefined && statSync(file, { throwIfNoEntry: false })?.isFile() !== true)
    return { raw: undefined, files: [], compilerOptions: {} };
  const chain = readTsconfig(file);
  const compilerOptions: Record<string, unknown> = {};
  for (const key of ESBUILD_KEYS) if (chain.compilerOptions[key] !== undefined) compilerOptions[key] = chain.compilerOptions[key];
  return {
    raw: { compilerOptions } as EsbuildTsconfig,
    files: [...chain.files],
    compilerOptions: chain.compilerOptions,
  };
}
