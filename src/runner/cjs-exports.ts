/**
 * The names an ES module sees on a CommonJS user module, found before it runs, as Node finds
 * them: Node's own lexer (cjs-module-lexer) on the code that runs, `default` (always
 * `module.exports`), the names of what it re-exports (`module.exports = require('./x')`,
 * TypeScript's `__exportStar`) where Node follows them, and `'module.exports'` on Node 23 and
 * later. So `import * as ns` lists them at once, `export * from` passes them on, and a name the
 * lexer cannot see is a SyntaxError at link, as under node. Taken after the module had run
 * instead, a namespace made at link held `default` alone, a star re-export held nothing, and a
 * named import of an undetectable name worked where node refuses it.
 *
 * Made when an ES module first asks (most CommonJS modules are only required), from the code the
 * rewrite ran on (a `.cjs` file's text, esbuild's output for TypeScript, which ends with an
 * annotation for this lexer: `0 && (module.exports = { a, b })`).
 */
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { extname, isAbsolute } from 'node:path';
import type { CompiledModule } from './compile.js';
import { loadCjsLexer } from './toolchain.js';
import { NODE_MAJOR } from '../shared/node-version.js';

/** Node 23 and later give a CommonJS module's namespace `'module.exports'` too (absent on 22.23, present on 24.22). */
const MODULE_EXPORTS_NAME = NODE_MAJOR >= 23;

const names = new WeakMap<CompiledModule, ReadonlySet<string>>();

/** The export names of a compiled CommonJS module, in Node's order (`default` first). */
export function cjsExportNames(compiled: CompiledModule): ReadonlySet<string> {
  let found = names.get(compiled);
  if (!found) {
    found = nodeNames(compiled.file, compiled.rewriteInput ?? '');
    names.set(compiled, found);
  }
  return found;
}

/**
 * The export names of a CommonJS file Node loads itself (a package's), as an ES module importing
 * it sees them: what Node's CommonJS translator finds, in the same way.
 */
export function cjsFileExportNames(file: string): ReadonlySet<string> {
  let code: string;
  try {
    code = readFileSync(file, 'utf8');
  } catch {
    code = '';
  }
  return nodeNames(file, code);
}

/**
 * What an importer sees of a CommonJS module once it has run, as Node sets it: each of `names`
 * that `module.exports` has as its own (a getter that throws gives undefined), `default` and
 * `'module.exports'` the object itself.
 */
export function cjsExportValues(exports: unknown, names: ReadonlySet<string>): Record<string, unknown> {
  const values: Record<string, unknown> = Object.create(null);
  const object = exports !== null && (typeof exports === 'object' || typeof exports === 'function');
  for (const name of names) {
    if (name === 'default' || name === 'module.exports' || !object || !Object.hasOwn(exports, name)) continue;
    try {
      values[name] = (exports as Record<string, unknown>)[name];
    } catch {
      // Node leaves it undefined.
    }
  }
  values.default = exports;
  if (names.has('module.exports')) values['module.exports'] = exports;
  return values;
}

/** `default`, the lexer's names of `code`, and `'module.exports'` where Node has it. */
function nodeNames(file: string, code: string): Set<string> {
  const set = new Set<string>(['default', ...lexed(file, code, new Set())]);
  if (MODULE_EXPORTS_NAME) set.add('module.exports');
  return set;
}

/** The lexer's names of `code` (the file `file`), with those of the files it re-exports that Node reads. */
function lexed(file: string, code: string, seen: Set<string>): string[] {
  seen.add(file);
  let result: { exports: string[]; reexports: string[] };
  try {
    result = loadCjsLexer().parse(code);
  } catch {
    return []; // Node's answer to code its lexer cannot read: no names but `default`
  }
  const out = [...result.exports];
  if (result.reexports.length === 0) return out;
  const require = createRequire(file);
  const extensions = (Module as unknown as { _extensions: Record<string, unknown> })._extensions;
  for (const specifier of result.reexports) {
    let target: string;
    try {
      target = require.resolve(specifier);
    } catch {
      continue;
    }
    // Node follows a re-export into a .js or .cjs file, or one of an extension no loader has.
    const ext = extname(target);
    if (!isAbsolute(target) || seen.has(target) || !(ext === '.js' || ext === '.cjs' || !extensions[ext])) continue;
    let source: string;
    try {
      source = readFileSync(target, 'utf8');
    } catch {
      continue;
    }
    out.push(...lexed(target, source, seen));
  }
  return out;
}
