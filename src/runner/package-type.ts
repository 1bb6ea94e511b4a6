/**
 * Which module format a file without import/export syntax has, as Node decides it:
 * .mjs/.mts are ES modules, .cjs/.cts CommonJS, and anything else follows the nearest
 * package.json "type" (CommonJS when there is none).
 *
 * Asked on every compile, so the answer is cached per directory. That cache is never cleared:
 * a changed "type" needs a restart, which is why every package.json read here lands in the
 * reader's `files`.
 */
import { dirname, extname } from 'node:path';
import { createPackageJsonReader, type PackageJsonReader } from '../shared/package-json.js';
import type { ModuleFormat } from './rewrite.js';

/** `packages`: the runner's reader, shared with its resolver (default: one of its own). */
export function createFormatLookup(packages: PackageJsonReader = createPackageJsonReader()): (file: string) => ModuleFormat {
  const byDir = new Map<string, ModuleFormat>();
  const lookupDir = (dir: string): ModuleFormat => {
    const cached = byDir.get(dir);
    if (cached) return cached;
    const pkg = packages.read(dir);
    let format: ModuleFormat;
    if (pkg !== undefined) format = pkg.type === 'module' ? 'esm' : 'cjs';
    else {
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
