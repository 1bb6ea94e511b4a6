/**
 * Compile mode of the module hooks (esm-hooks.ts), for a forked child or a worker of the app:
 * a user TypeScript file is compiled with esbuild and run by Node (typescript.ts).
 */
import { createTypeScriptLoader, type TypeScriptLoader } from './typescript.js';

let loader: TypeScriptLoader | undefined;

export function setup(root: string, tsconfig: string | false | undefined): void {
  loader = createTypeScriptLoader(root, tsconfig);
}

/** Node found the file: tell it the format of what devhot compiles (Node 20 refuses .ts otherwise). */
export function resolved(
  result: { url: string; format?: string | null },
  file: string,
): { url: string; format?: string | null; shortCircuit?: boolean } {
  if (!loader!.compiles(file)) return result;
  return { url: result.url, format: loader!.format(file), shortCircuit: true };
}

export function resolveTypeScript(specifier: string, parent: string | undefined): string | undefined {
  if (!parent?.startsWith('file:')) return undefined;
  return loader!.resolve(specifier, decodeURIComponent(new URL(parent).pathname));
}

export function compiles(file: string): boolean {
  return loader!.compiles(file);
}

export function load(file: string): { format: string; source?: string; shortCircuit: boolean } {
  const format = loader!.format(file);
  // CommonJS goes through Node's CommonJS loader, whose `.ts` handler (child-register.ts) compiles it.
  if (format === 'commonjs') return { format, shortCircuit: true };
  return { format, source: loader!.compile(file, format), shortCircuit: true };
}
