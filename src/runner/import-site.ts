/**
 * Where an import that failed to resolve is written in its importer, so the error shows the
 * line (a code frame) instead of devhot's own stack: a missing file is the most common error of
 * a rename, and it read "Cannot find module './nope.js' imported from server.ts" followed by five
 * frames of devhot's resolver. Node names the importer and no line; Vite shows the import's line.
 *
 * Found in the source as written: the rewrite's positions are in the transform's output, and a
 * CommonJS module or a side-effect import has none.
 */
import { DevhotError } from '../errors.js';

/** `error` located at `specifier`'s import in `file` (whose text is `source`), when it is devhot's and has no place yet. */
export function atImportSite(error: unknown, file: string, source: string, specifier: string): unknown {
  if (!(error instanceof DevhotError) || error.loc) return error;
  const at = specifierPosition(source, specifier);
  if (!at) return error;
  return new DevhotError(error.code, error.message, { fix: error.fix, loc: { file, ...at }, cause: error });
}

/**
 * The 1-based line and column of `specifier`'s quoted text after `from`, `import` or `require(`
 * (a static or dynamic import, an export from, a require), else of its first quoted occurrence.
 */
export function specifierPosition(source: string, specifier: string): { line: number; column: number } | undefined {
  const quoted = `(['"\`])${specifier.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\1`;
  const match = new RegExp(`(?:\\bfrom|\\bimport|\\brequire)\\s*\\(?\\s*${quoted}`).exec(source) ?? new RegExp(quoted).exec(source);
  if (!match) return undefined;
  const offset = match.index + match[0].length - specifier.length - 2;
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}
