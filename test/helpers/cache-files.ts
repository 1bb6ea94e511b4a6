/** The entries in a compile cache directory (compile-cache.ts), as absolute paths; none if it is missing. */
import fs from 'node:fs';
import path from 'node:path';

export function cacheFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.dhc'))
    .map((f) => path.join(dir, f));
}
