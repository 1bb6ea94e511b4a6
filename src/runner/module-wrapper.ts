/**
 * The text around a module's code: a CommonJS file's wrapper function, or an ES module's nested
 * generators, one binding scope per import (instance.ts, `compileBody`, says why). A module's
 * script is its code inside that text, on lines of its own:
 *
 *   <header>\n<code>\n<footer>
 *
 * The disk cache keeps the script, not the bare code (cache-entry.ts), so a start hands V8 the
 * string it read: building it again joined and copied every module's code once more (~20 MB
 * allocated in a warm start of 3,000 modules, and ~7 MB for the headers; Node 20, 2026-12-01).
 */
import { hash } from 'node:crypto';
import type { CompiledModule } from './compile.js';
import { RUNTIME } from './rewrite.js';

/** Binding scopes up to which a module's generators are compiled eagerly (instance.ts). 250 passed. */
const EAGER_LEVELS = 64;

/**
 * Binding scopes a module's compiled code nests at most. V8 parses nested functions by recursion:
 * ~700 levels overflowed its stack ("Maximum call stack size exceeded" where node ran the module;
 * Node 20). Past it, the remaining imports share the last scope, resumed once every one of them
 * is initialised: only in an import cycle can one of them stay in its TDZ longer than in Node.
 */
export const MAX_SCOPES = 256;

/** The last binding scope, which the imports from it on share when a module has more than MAX_SCOPES. */
export const SHARED_SCOPE = MAX_SCOPES - 1;

/** The binding scopes of a module with `imports` imported bindings. */
export const scopeCount = (imports: number): number => Math.min(imports, MAX_SCOPES);

/** The binding scope of import `k`: its own, or past MAX_SCOPES the shared last one. */
export const scopeOf = (k: number): number => Math.min(k, SHARED_SCOPE);

/** A module's code inside its wrapper; the code starts at `codeAt`. */
export interface ModuleScript {
  text: string;
  codeAt: number;
}

/** The script of an ES or CommonJS module: the one kept with it, or made now. */
export function scriptOf(compiled: CompiledModule): ModuleScript {
  if (compiled.script) return compiled.script;
  const [header, footer] = wrapperOf(compiled);
  return { text: `${header}\n${compiled.code}\n${footer}`, codeAt: header.length + 1 };
}

/**
 * What every script's text depends on besides the module: the compile cache's key includes it,
 * so a devhot whose wrapper reads differently never takes a script (or a code cache made from one)
 * another wrote.
 */
export const WRAPPER_SIGNATURE = hash(
  'sha256',
  [
    wrapperOf({ format: 'cjs' } as CompiledModule),
    wrapperOf({ format: 'esm', async: true, module: { imports: [{ local: 'a' }, { local: 'b' }] } } as CompiledModule),
    EAGER_LEVELS,
    MAX_SCOPES,
  ].join('\0'),
  'hex',
).slice(0, 16);

/** The openings and closings around a module's code. */
function wrapperOf(compiled: CompiledModule): [header: string, footer: string] {
  // Node's five parameters, the runtime closed over: `arguments.length` and the wrapper's `length`
  // read 5 at a CommonJS file's top level, as under node (6 when the runtime was a sixth).
  if (compiled.format !== 'esm')
    return [`(function (${RUNTIME}) { return function (exports, require, module, __filename, __dirname) {`, '}; })'];
  const imports = compiled.module?.imports ?? [];
  const [o, c] = imports.length <= EAGER_LEVELS ? ['(', ')'] : ['', ''];
  const scopes = scopeCount(imports.length);
  // The outermost always: a script's statement cannot be a nameless function.
  const opens = ['(function* (__dh__) {"use strict";'];
  for (let k = 1; k < scopes; k++) opens.push(`yield ${o}function* () {`);
  opens.push(`yield ${o}${compiled.async ? 'async ' : ''}function* () {`);
  const closes = [`}${c};`];
  const declare = (k: number): string => {
    const local = imports[k]!.local;
    return `let ${local} = ${RUNTIME}.v(${k}); ${RUNTIME}.w(${k}, (__dh_v) => { ${local} = __dh_v; });`;
  };
  for (let scope = scopes - 1; scope >= 0; scope--) {
    // The last scope declares every binding from it on (past MAX_SCOPES, several).
    const last = scope === scopes - 1 ? imports.length : scope + 1;
    const lets: string[] = [];
    for (let k = scope; k < last; k++) lets.push(declare(k));
    closes.push(`${lets.join(' ')} }${scope > 0 ? `${c};` : ')'}`);
  }
  if (imports.length === 0) closes.push('})');
  return [opens.join(' '), closes.join(' ')];
}
