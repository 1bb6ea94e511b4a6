/**
 * Where Node looks for a package by name: `<dir>/node_modules/<name>` in the importing
 * directory and each parent up to the filesystem root (LOOKUP_PACKAGE in PACKAGE_RESOLVE,
 * https://nodejs.org/api/esm.html#resolution-algorithm-specification). TypeScript finds an
 * `extends` package the same way, so the resolver and the tsconfig reader share this walk.
 *
 * Pure: `isDir` is the caller's (cached) stat.
 */
import path from 'node:path';

/** The first `node_modules/<name>` directory above `fromDir`, not yet realpath'd; undefined if none. */
export function findInNodeModules(name: string, fromDir: string, isDir: (dir: string) => boolean): string | undefined {
  for (let dir = fromDir; ; ) {
    // A node_modules folder has no node_modules of its own to look in.
    if (path.basename(dir) !== 'node_modules') {
      const candidate = path.join(dir, 'node_modules', name);
      if (isDir(candidate)) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
