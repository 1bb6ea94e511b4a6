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
import { ownString } from './own-string.js';
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

/**
 * The binding scopes of a module with `imports` imported bindings: one per import, or with
 * `shared` one for them all, resumed once every import is initialised. Shared is what the link
 * step chooses for a module in no import cycle among the modules it links together (link.ts,
 * `inCycles`): every module it imports has then run before it, so each import is initialised
 * before its body runs, in either layout. A scope per import costs a generator function and its
 * context per import: the app's live heap after the CLI bench's edits at 3,000 modules, 57.6 ->
 * 54.4 MB with shared scopes (memory-pairs.bench.ts, Node 20, 2026-12-02).
 */
export const scopeCount = (imports: number, shared: boolean): number => Math.min(imports, shared ? 1 : MAX_SCOPES);

/** The binding scope of import `k` in a module of `scopes` scopes: its own, or the last one, which the imports from it on share. */
export const scopeOf = (k: number, scopes: number): number => Math.min(k, scopes - 1);

/** A module's code inside its wrapper; the code starts at `codeAt`. */
export interface ModuleScript {
  text: string;
  codeAt: number;
  /** The layout the wrapper was made for (`scopeCount`). */
  shared: boolean;
}

/**
 * The script of an ES or CommonJS module with its imports in one scope (`shared`) or one each: the
 * one kept with it if its wrapper reads the same, or made now.
 */
export function scriptOf(compiled: CompiledModule, shared = compiled.sharedScope === true): ModuleScript {
  const kept = compiled.script;
  if (kept && laidAlike(compiled, kept.shared, shared)) return kept;
  const [header, footer] = wrapperOf(compiled, shared);
  return { text: `${header}\n${compiled.code}\n${footer}`, codeAt: header.length + 1, shared };
}

/**
 * Whether the two layouts wrap the module alike (the same text, so the same compiled body and
 * code cache): always for a CommonJS one, and for an ES module of one import or none.
 */
export function laidAlike(compiled: CompiledModule, a: boolean, b: boolean): boolean {
  if (a === b || compiled.format !== 'esm') return true;
  const imports = compiled.module?.imports.length ?? 0;
  return scopeCount(imports, a) === scopeCount(imports, b);
}

/**
 * A module just compiled gets its script at once, in the layout a module in no import cycle has
 * (shared: the link step then takes it as it is), as one string of its own, and its code becomes a
 * slice of it. The rewrite's output is a tree of joins and slices of what Oxc gave it; held from
 * discovery to the link step, where V8 compiled the script, it kept them alive through the
 * start's scavenges, and 4.2 MB of Oxc's output alone reached V8's old space to die there (the
 * app's heap after an empty-cache start of 3,000 modules, sampled with objects a full collection
 * freed against without them; Node 24, 2026-12-02). A module in a cycle of the link gets a script
 * in the other layout then, as it did.
 */
export function withOwnScript(compiled: CompiledModule): void {
  if (compiled.format === 'json') return;
  const made = scriptOf(compiled, true);
  const text = ownString(made.text);
  compiled.script = { text, codeAt: made.codeAt, shared: true };
  compiled.code = text.slice(made.codeAt, made.codeAt + compiled.code.length);
}

/**
 * What every script's text depends on besides the module: the compile cache's key includes it,
 * so a devhot whose wrapper reads differently never takes a script (or a code cache made from one)
 * another wrote.
 */
export const WRAPPER_SIGNATURE = hash(
  'sha256',
  [
    wrapperOf({ format: 'cjs' } as CompiledModule, false),
    wrapperOf({ format: 'esm', async: true, module: { imports: [{ local: 'a' }, { local: 'b' }] } } as CompiledModule, false),
    wrapperOf({ format: 'esm', async: true, module: { imports: [{ local: 'a' }, { local: 'b' }] } } as CompiledModule, true),
    EAGER_LEVELS,
    MAX_SCOPES,
  ].join('\0'),
  'hex',
).slice(0, 16);

/** The openings and closings around a module's code. */
function wrapperOf(compiled: CompiledModule, shared: boolean): [header: string, footer: string] {
  // Node's five parameters, the runtime closed over: `arguments.length` and the wrapper's `length`
  // read 5 at a CommonJS file's top level, as under node (6 when the runtime was a sixth).
  if (compiled.format !== 'esm')
    return [`(function (${RUNTIME}) { return function (exports, require, module, __filename, __dirname) {`, '}; })'];
  const imports = compiled.module?.imports ?? [];
  const scopes = scopeCount(imports.length, shared);
  const [o, c] = scopes <= EAGER_LEVELS ? ['(', ')'] : ['', ''];
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
