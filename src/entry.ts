/**
 * The entry file from what the user gave: every form `node` and `tsx` accept for their main
 * module, and one DevhotError naming what was tried when none matches (devhot then exits 1,
 * instead of starting an app process that has nothing to run).
 *
 * The rules, in Node's order for a main module (`Module._findPath`) with tsx's TypeScript
 * additions:
 *
 * 1. the path itself, when it is a file (`src/server.ts`, `src/server.js`, `bin/www`);
 * 2. its TypeScript twin (`src/server.js` → `src/server.ts`, what NodeNext projects write);
 * 3. an extensionless path with an extension appended (`src/server` → `src/server.ts`); `.js`
 *    first, as node and tsx pick `server.js` when both are there;
 * 4. a directory: its package.json `main` (probed by rules 1–3, then as a directory's index),
 *    then its `index` (`src` → `src/index.ts`).
 *
 * The project's package.json `main` (no entry given) goes through the same rules, so a `main`
 * of `dist/server.js` or `src/server.js` finds `src/server.ts` when only that exists.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DevhotError, ErrorCodes } from './errors.js';
import { createPackageJsonReader } from './shared/package-json.js';

/** Extensions appended to an extensionless path, JavaScript first as in node and tsx. */
const APPENDED = ['.js', '.ts', '.tsx', '.jsx', '.mts', '.cts', '.mjs', '.cjs'];
/** A `.js` name may mean its TypeScript twin (tsx's rule for NodeNext-style specifiers). */
const TS_TWINS: ReadonlyMap<string, readonly string[]> = new Map([
  ['.js', ['.ts', '.tsx']],
  ['.jsx', ['.tsx']],
  ['.mjs', ['.mts']],
  ['.cjs', ['.cts']],
]);
const KNOWN = new Set([...APPENDED, '.json']);

/** Where the entry's name came from, for the error message. */
export type EntrySource = 'argument' | 'package.json main' | 'package.json devhot.entry' | 'config';

/**
 * The entry file (absolute) for `given` (relative to `root`, or absolute). Throws
 * DEVHOT_ERR_ENTRY_NOT_FOUND with every candidate it looked at.
 */
export function resolveEntry(root: string, given: string, source: EntrySource = 'argument'): string {
  const tried: string[] = [];
  const base = path.resolve(root, given);
  const found = probe(base, tried);
  if (found !== undefined) return found;
  const rel = (file: string) => path.relative(root, file) || '.';
  const what = source === 'argument' || source === 'config' ? `Entry ${given}` : `${source} (${given})`;
  throw new DevhotError(ErrorCodes.ENTRY_NOT_FOUND, `${what} not found; tried ${summarise(tried.map(rel))}`, {
    fix:
      source === 'argument' || source === 'config'
        ? 'Check the path: it is relative to the current directory (or --root). A file, an extensionless path or a directory with an index file are accepted, as by node and tsx.'
        : `Point "${source === 'package.json main' ? 'main' : 'devhot.entry'}" in package.json at the server's source file, or give the entry: devhot src/server.ts.`,
  });
}

function probe(base: string, tried: string[]): string | undefined {
  return probeFile(base, tried) ?? (isDirectory(base) ? probeDirectory(base, tried) : undefined);
}

function probeFile(base: string, tried: string[]): string | undefined {
  if (isFile(base, tried)) return base;
  const ext = path.extname(base);
  for (const twin of TS_TWINS.get(ext) ?? []) {
    const file = base.slice(0, -ext.length) + twin;
    if (isFile(file, tried)) return file;
  }
  if (KNOWN.has(ext)) return undefined;
  for (const appended of APPENDED) if (isFile(base + appended, tried)) return base + appended;
  return undefined;
}

function probeDirectory(dir: string, tried: string[]): string | undefined {
  const main = createPackageJsonReader().read(dir)?.main;
  if (typeof main === 'string' && main !== '') {
    const base = path.resolve(dir, main);
    const file = probeFile(base, tried) ?? (isDirectory(base) ? probeFile(path.join(base, 'index'), tried) : undefined);
    if (file !== undefined) return file;
  }
  return probeFile(path.join(dir, 'index'), tried);
}

function isFile(file: string, tried: string[]): boolean {
  tried.push(file);
  return fs.statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
}

function isDirectory(file: string): boolean {
  return fs.statSync(file, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** `src/a, src/a.js, src/a.ts …` as `src/a, src/a{.js,.ts,…}`: the list stays one readable line. */
function summarise(files: string[]): string {
  const groups: Array<{ stem: string; exts: string[] }> = [];
  for (const file of files) {
    const ext = path.extname(file);
    const stem = ext === '' ? file : file.slice(0, -ext.length);
    const last = groups[groups.length - 1];
    if (ext !== '' && last?.stem === stem) last.exts.push(ext);
    else groups.push({ stem, exts: ext === '' ? [''] : [ext] });
  }
  return groups.map(({ stem, exts }) => (exts.length === 1 ? stem + exts[0] : `${stem}{${exts.join(',')}}`)).join(', ');
}
