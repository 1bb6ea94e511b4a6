/**
 * Which module format a file without import/export syntax has, as Node decides it:
 * .mjs/.mts are ES modules, .cjs/.cts CommonJS, and anything else follows the nearest
 * package.json "type" (CommonJS when there is none).
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import type { ModuleFormat } from './rewrite.js';

export function createFormatLookup(): (file: string) => ModuleFormat {
  const byDir = new Map<string, ModuleFormat>();
  const lookupDir = (dir: string): ModuleFormat => {
    const cached = byDir.get(dir);
    if (cached) return cached;
    let format: ModuleFormat;
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: unknown };
      format = pkg.type === 'module' ? 'esm' : 'cjs';
    } catch {
      const parent = dirname(dir);
      format = parent === dir ? 'cjs' : lookupDir(parent);
    }
    byDir.set(dir, format);
    return format;
  };
  return (file) => {
    const ext = extname(file);
    if (ext === '.mjs' || ext === '.mts') return 'esm';
    if (ext === '.cjs' || ext === '.cts') return 'cjs';
    return lookupDir(dirname(file));
  };
}
