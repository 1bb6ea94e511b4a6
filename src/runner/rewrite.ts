/**
 * Rewrites one module's JavaScript (esbuild's ESM output) into the body of a generator function
 * that devhot runs itself, so that old versions can be dropped and garbage-collected, plus a
 * description of its imports and exports (`ModuleInfo`) for the runner to link it the way an ES
 * module is linked (src/runner/link.ts).
 *
 * Imports and exports disappear from the code; what stays, and what is added:
 *
 * - Each imported binding (`import { x } from './a'`) becomes a real `let` binding of the
 *   compiled module, declared by the runner around the body (instance.ts, `compileBody`), left in
 *   its TDZ until the exporter's binding is initialised and then kept equal to it. So the code
 *   reads `x` as written: reads cost what a variable read costs, a read before initialisation in
 *   a cycle throws Node's "Cannot access 'x' before initialization", and `x.y is not a function`
 *   names `x` as the user wrote it. Assigning to one throws as in Node (reference-walker.ts).
 * - The module tells the runner when an exported binding is initialised (`__dh__.n(j)` after its
 *   declaration) and when it changes (`__dh__.u(j, count++)`), so importers' copies follow:
 *   live bindings, as Node has them.
 * - The body's first step, up to `yield`, registers a getter per exported binding (for
 *   namespaces and for those notifications); function declarations are hoisted before it, so a
 *   cycle can call them before the module has evaluated, as in Node. A module with top-level
 *   await becomes an async generator.
 *
 * Every line stays where it was: the prelude sits in front of the first line and a removed
 * statement leaves its newlines, so line numbers hold even before the source map is read.
 */
import type MagicString from 'magic-string';
import type * as Meriyah from 'meriyah';
import { DevhotError, ErrorCodes } from '../errors.js';
import { type AstNode as N, collectVarNames, declaredNames } from './ast.js';
import { ReferenceWalker } from './reference-walker.js';
import { loadMagicString, loadMeriyah } from './toolchain.js';
import { ownString } from './own-string.js';

export type ModuleFormat = 'esm' | 'cjs';

export interface RewriteDependency {
  specifier: string;
  /** Import attributes (`with { type: 'json' }`). */
  attributes?: Record<string, string>;
}

/** A position in the rewrite's input (esbuild's output), 1-based, for link errors. */
export interface CodePosition {
  line: number;
  column: number;
}

/** An ES module's imports and exports, as the link step needs them (ECMA-262 §16.2.1.6). */
export interface ModuleInfo {
  /** `import` bindings, in the order of the runner's binding scopes. `name` null: a namespace import. */
  imports: Array<{ local: string; request: number; name: string | null; at: CodePosition }>;
  /** The module's own bindings that are exported; their getters are registered in this order. */
  locals: Array<{ name: string; hoisted: boolean; importBinding?: number }>;
  /** Export name → index in `locals`. */
  localExports: Array<[string, number]>;
  /** `export { a as b } from`, `export * as ns from`, and an imported binding exported again. */
  indirectExports: Array<{ name: string; request: number; importName: string | null; at: CodePosition }>;
  /** `export * from`: the requests whose names this module exports too. */
  starExports: Array<{ request: number; at: CodePosition }>;
}

export interface RewriteResult {
  code: string;
  /** Source map (JSON) from the input code to `code`, when asked for (`map`). */
  map: string | undefined;
  format: ModuleFormat;
  /** The module awaits at the top level, so it must be evaluated asynchronously. */
  async: boolean;
  /** Static dependencies, in the order Node would link and evaluate them. */
  deps: RewriteDependency[];
  /** Imports and exports (ES modules only). */
  module: ModuleInfo | undefined;
}

/** The identifier through which rewritten code reaches the runner (see ModuleRuntime in instance.ts). */
export const RUNTIME = '__dh__';

/** The local binding of an anonymous default export. */
const DEFAULT_LOCAL = '__dh_default';

export interface RewriteOptions {
  /** File name, for error messages and the source map. */
  file: string;
  /** Format when the code has neither `import`/`export` nor `import.meta` / top-level await. */
  defaultFormat: ModuleFormat;
  /**
   * Make the source map too. Only when a stack trace or the debugger needs it (compile.ts,
   * rewriteMapOf): it was ~20 % of the rewrite's time.
   */
  map?: boolean;
}

export function rewriteModule(code: string, options: RewriteOptions): RewriteResult {
  const body = parseModule(code, options).body;
  const s = new (loadMagicString())(code);
  const syntax = new ModuleSyntax(s, code, body);
  const walker = new ReferenceWalker(s, RUNTIME, syntax.importedNames, syntax.exportedLocals);
  walker.walkProgram(body);
  const format: ModuleFormat = syntax.hasModuleSyntax || walker.usesImportMeta || walker.topLevelAwait ? 'esm' : options.defaultFormat;
  // A hashbang (`#!/usr/bin/env node`) is valid only at the very start of a script or module,
  // and the code runs inside a wrapper: a comment of the same length keeps every position.
  if (code.startsWith('#!')) s.overwrite(0, 2, '//');
  if (format === 'esm') {
    syntax.notifyDeclarations();
    for (const ref of walker.argumentsRefs) {
      // Module code has no `arguments` of its own; the function it runs in does.
      s.overwrite(ref.node.start, ref.node.end, ref.underTypeof ? 'globalThis.arguments' : `${RUNTIME}.g.arguments`);
    }
    // One line: the prelude sits in front of the first line of code, so no line moves.
    s.prepend(syntax.prelude());
  }
  return {
    code: s.toString(),
    map: options.map ? s.generateMap({ hires: 'boundary', source: options.file, includeContent: false }).toString() : undefined,
    format,
    async: walker.topLevelAwait,
    deps: format === 'esm' ? ownDependencies(syntax.deps) : [],
    module: format === 'esm' ? ownNames(syntax.info()) : undefined,
  };
}

/**
 * An array the module keeps, at its size: one grown by `push` has room for 16 more elements, ~136
 * bytes each of the five arrays a compiled module keeps (2 MB at 3,000 modules).
 */
function fitted<T>(array: T[]): T[] {
  return array.slice();
}

/**
 * The dependencies with specifiers and attributes of their own (own-string.ts). The parser's names
 * and specifiers are substrings of the code it parsed: one such name in a module's imports or
 * exports kept the rewrite's whole input alive as long as the module (with the output Oxc makes
 * again, compile.ts: the heap after an empty-cache start of 3,000 modules 72.9-73.0 -> 69.3-69.5
 * MB, after a full GC; Node 20, 2026-12-01).
 */
function ownDependencies(deps: RewriteDependency[]): RewriteDependency[] {
  for (const dep of deps) {
    dep.specifier = ownString(dep.specifier);
    if (dep.attributes) dep.attributes = Object.fromEntries(Object.entries(dep.attributes).map(([k, v]) => [ownString(k), ownString(v)]));
  }
  return fitted(deps);
}

/** The module's import and export names, of their own (see `ownDependencies`). */
function ownNames(info: ModuleInfo): ModuleInfo {
  for (const i of info.imports) {
    i.local = ownString(i.local);
    if (i.name !== null) i.name = ownString(i.name);
  }
  for (const l of info.locals) l.name = ownString(l.name);
  for (const e of info.localExports) e[0] = ownString(e[0]);
  for (const e of info.indirectExports) {
    e.name = ownString(e.name);
    if (e.importName !== null) e.importName = ownString(e.importName);
  }
  return {
    imports: fitted(info.imports),
    locals: fitted(info.locals),
    localExports: fitted(info.localExports),
    indirectExports: fitted(info.indirectExports),
    starExports: fitted(info.starExports),
  };
}

/** What a top-level name is declared as, for export bookkeeping. */
type DeclarationKind = 'hoisted' | 'lexical' | 'import';

/**
 * A module's import and export declarations: each is blanked (or reduced to its declaration) in
 * the code and recorded in the ModuleInfo.
 */
class ModuleSyntax {
  hasModuleSyntax = false;
  readonly deps: RewriteDependency[] = [];
  /** Local names of import bindings. */
  readonly importedNames = new Set<string>();
  /** Exported local bindings → index in `locals`. */
  readonly exportedLocals = new Map<string, number>();
  private readonly imports: ModuleInfo['imports'] = [];
  private readonly locals: ModuleInfo['locals'] = [];
  private readonly localExports: ModuleInfo['localExports'] = [];
  private readonly indirectExports: ModuleInfo['indirectExports'] = [];
  private readonly starExports: ModuleInfo['starExports'] = [];
  private readonly depIndex = new Map<string, number>();
  private readonly declarations = new Map<string, DeclarationKind>();
  private readonly lineStarts: number[];
  private anonymousDefaultFunction = false;

  constructor(
    private readonly s: MagicString,
    private readonly code: string,
    private readonly body: N[],
  ) {
    this.lineStarts = lineStarts(code);
    this.collectDeclarations();
    // Requests in source order, imports and `export … from` alike: it is the order modules are
    // evaluated in. Imports are recorded first, as `export { x }` of an import needs them.
    for (const node of body) {
      if (node.type === 'ImportDeclaration') this.importDeclaration(node);
      else if (node.source) this.request(node);
    }
    for (const node of body) this.exportDeclaration(node);
  }

  info(): ModuleInfo {
    return {
      imports: this.imports,
      locals: this.locals,
      localExports: this.localExports,
      indirectExports: this.indirectExports,
      starExports: this.starExports,
    };
  }

  /**
   * The one-line prelude: register the export getter, then `yield` (the link step ends there).
   * One getter for all exported locals, by index, not one arrow function each: V8 compiled each of
   * those at its first call (~54 ms of an empty-cache start's CPU profile at 3,000 modules, ~18,000
   * getters), and each was a function of its own in every code cache. A parenthesised function,
   * which V8 compiles with the module instead of at its first call: the getters' lazy compiles
   * took ~44 ms of that profile, the eager ones ~30 ms more of the modules' compile.
   */
  prelude(): string {
    const prelude: string[] = [];
    if (this.anonymousDefaultFunction) prelude.push(`Object.defineProperty(${DEFAULT_LOCAL}, "name", { value: "default" });`);
    if (this.locals.length > 0) {
      const cases = this.locals.map((l, j) => `case ${j}: return ${l.name};`).join(' ');
      prelude.push(`${RUNTIME}.e((function (__dh_j) { switch (__dh_j) { ${cases} } }));`);
    }
    prelude.push('yield;');
    return prelude.join(' ');
  }

  /** After each top-level `let`/`const`/`class` of an exported binding: tell the runner it is initialised. */
  notifyDeclarations(): void {
    for (const node of this.body) {
      const decl = node.type === 'ExportNamedDeclaration' || node.type === 'ExportDefaultDeclaration' ? node.declaration : node;
      if (!decl || !((decl.type === 'VariableDeclaration' && decl.kind !== 'var') || decl.type === 'ClassDeclaration')) continue;
      const indexes = declaredNames(decl)
        .map((name) => this.exportedLocals.get(name))
        .filter((j): j is number => j !== undefined);
      if (indexes.length > 0) this.appendNotify(node, indexes);
    }
  }

  private appendNotify(statement: N, indexes: number[]): void {
    const calls = indexes.map((j) => `${RUNTIME}.n(${j});`).join(' ');
    // Own semicolons on both sides: the next line may start with `(` or `[`.
    this.s.appendLeft(statement.end, `${this.code[statement.end - 1] === ';' ? '' : ';'} ${calls}`);
  }

  private collectDeclarations(): void {
    const vars: string[] = [];
    collectVarNames({ type: 'Program', start: 0, end: 0, body: this.body }, vars);
    for (const name of vars) this.declarations.set(name, 'hoisted');
    for (const node of this.body) {
      const decl = node.type === 'ExportNamedDeclaration' || node.type === 'ExportDefaultDeclaration' ? node.declaration : node;
      if (!decl) continue;
      if (decl.type === 'FunctionDeclaration' && decl.id) this.declarations.set(decl.id.name, 'hoisted');
      else if (decl.type === 'ClassDeclaration' && decl.id) this.declarations.set(decl.id.name, 'lexical');
      else if (decl.type === 'VariableDeclaration' && decl.kind !== 'var')
        for (const name of declaredNames(decl)) this.declarations.set(name, 'lexical');
    }
  }

  /** The request index of a declaration's source (one per specifier), with its attributes. */
  private request(node: N): number {
    const specifier = String(node.source.value);
    let index = this.depIndex.get(specifier);
    if (index === undefined) {
      index = this.deps.length;
      this.depIndex.set(specifier, index);
      this.deps.push({ specifier });
    }
    const attributes = node.attributes as N[] | undefined;
    if (attributes && attributes.length > 0) {
      const dep = this.deps[index]!;
      dep.attributes = {};
      for (const attr of attributes) dep.attributes[moduleExportName(attr.key)] = String(attr.value.value);
    }
    return index;
  }

  private importDeclaration(node: N): void {
    this.hasModuleSyntax = true;
    const request = this.request(node);
    for (const spec of node.specifiers as N[]) {
      const local = spec.local.name as string;
      const name =
        spec.type === 'ImportNamespaceSpecifier'
          ? null
          : spec.type === 'ImportDefaultSpecifier'
            ? 'default'
            : moduleExportName(spec.imported);
      this.imports.push({
        local,
        request,
        name,
        at: this.position(spec.type === 'ImportSpecifier' ? spec.imported.start : spec.local.start),
      });
      this.importedNames.add(local);
      this.declarations.set(local, 'import');
    }
    blank(this.s, this.code, node.start, node.end);
  }

  private exportDeclaration(node: N): void {
    switch (node.type) {
      case 'ExportNamedDeclaration':
        this.exportNamed(node);
        return;
      case 'ExportAllDeclaration': {
        this.hasModuleSyntax = true;
        const request = this.request(node);
        const at = this.position(node.start);
        if (node.exported) this.indirectExports.push({ name: moduleExportName(node.exported), request, importName: null, at });
        else this.starExports.push({ request, at });
        blank(this.s, this.code, node.start, node.end);
        return;
      }
      case 'ExportDefaultDeclaration':
        this.exportDefault(node);
        return;
    }
  }

  private exportNamed(node: N): void {
    this.hasModuleSyntax = true;
    if (node.declaration) {
      // `export const a = 1` → `const a = 1`; the binding is exported under its own name.
      this.s.remove(node.start, node.declaration.start);
      for (const name of declaredNames(node.declaration)) this.exportLocal(name, name);
      return;
    }
    if (node.source) {
      const request = this.request(node);
      for (const spec of node.specifiers as N[]) {
        const importName = moduleExportName(spec.local);
        this.indirectExports.push({ name: moduleExportName(spec.exported), request, importName, at: this.position(spec.local.start) });
      }
    } else {
      for (const spec of node.specifiers as N[]) this.exportSpecifier(moduleExportName(spec.local), moduleExportName(spec.exported), spec);
    }
    blank(this.s, this.code, node.start, node.end);
  }

  /** `export { local as name }`: a re-export of an import is indirect (§16.2.1.6.1), anything else local. */
  private exportSpecifier(local: string, name: string, spec: N): void {
    const binding = this.imports.findIndex((i) => i.local === local);
    const imported = binding >= 0 ? this.imports[binding]! : undefined;
    if (imported && imported.name !== null) {
      this.indirectExports.push({ name, request: imported.request, importName: imported.name, at: this.position(spec.local.start) });
      return;
    }
    this.exportLocal(local, name, binding >= 0 ? binding : undefined);
  }

  private exportLocal(local: string, name: string, importBinding?: number): void {
    let index = this.exportedLocals.get(local);
    if (index === undefined) {
      index = this.locals.length;
      this.exportedLocals.set(local, index);
      const hoisted = this.declarations.get(local) === 'hoisted';
      this.locals.push(importBinding === undefined ? { name: local, hoisted } : { name: local, hoisted: false, importBinding });
    }
    this.localExports.push([name, index]);
  }

  private exportDefault(node: N): void {
    this.hasModuleSyntax = true;
    const decl = node.declaration as N;
    if ((decl.type === 'FunctionDeclaration' || decl.type === 'ClassDeclaration') && decl.id) {
      // Named: keep the declaration (and a function's hoisting), export its binding.
      this.s.remove(node.start, decl.start);
      this.exportLocal(decl.id.name, 'default');
      return;
    }
    if (decl.type === 'FunctionDeclaration') {
      // Anonymous function declaration: hoisted under a name of ours, named "default" in the prelude.
      this.s.remove(node.start, decl.start);
      this.s.appendLeft(this.code.indexOf('(', decl.start), ` ${DEFAULT_LOCAL}`);
      this.anonymousDefaultFunction = true;
      this.declarations.set(DEFAULT_LOCAL, 'hoisted');
      this.exportLocal(DEFAULT_LOCAL, 'default');
      return;
    }
    // An expression, or an anonymous class. Only the keywords go: `export default (f)` keeps its
    // parentheses. An anonymous function or class is named "default", as export default names it
    // (§16.2.3.7): a property definition names it so too, and keeps a class's own static `name`.
    const keywordEnd = this.code.indexOf('default', node.start + 'export'.length) + 'default'.length;
    const anonymous = isAnonymousFunctionDefinition(decl);
    this.s.overwrite(node.start, keywordEnd, anonymous ? `const ${DEFAULT_LOCAL} = ({ default:` : `const ${DEFAULT_LOCAL} =`);
    const end = this.code[node.end - 1] === ';' ? node.end - 1 : node.end;
    if (anonymous) this.s.appendLeft(end, ' }).default');
    if (end === node.end) this.s.appendLeft(node.end, ';');
    this.declarations.set(DEFAULT_LOCAL, 'lexical');
    this.exportLocal(DEFAULT_LOCAL, 'default');
    this.s.appendLeft(node.end, ` ${RUNTIME}.n(${this.exportedLocals.get(DEFAULT_LOCAL)});`);
  }

  private position(offset: number): CodePosition {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo]! + 1 };
  }
}

/** An anonymous function, arrow or class, which `export default` names "default". */
function isAnonymousFunctionDefinition(node: N): boolean {
  if (node.type === 'ArrowFunctionExpression') return true;
  return (node.type === 'FunctionExpression' || node.type === 'ClassExpression' || node.type === 'ClassDeclaration') && !node.id;
}

function lineStarts(code: string): number[] {
  const starts = [0];
  for (let i = code.indexOf('\n'); i !== -1; i = code.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/**
 * meriyah, not acorn: the parse of a start's 3,000 modules took 804 ms against acorn's 1,230 ms
 * (each file once, the JIT cold), and the main thread's CPU for an empty-cache start fell
 * ~2,090 → ~1,830 ms (Node 20, 2 cores, 2026-11-30). `lexical` makes it report the early errors
 * Node reports (a duplicate export or declaration, an export of an undeclared name); test262
 * found 30 differences without it. `next` stays off: TC39 decorators and `accessor` must fail
 * here so the file goes to esbuild, which lowers them. Regular expressions are checked by this
 * Node's own `RegExp`, as V8 would check them. Only `start`/`end` offsets: the rewrite reads
 * nothing else, and `range` arrays would be garbage.
 */
const PARSE_OPTIONS = { ranges: { start: true, end: true }, lexical: true } as const;

function parseModule(code: string, options: RewriteOptions): { body: N[] } {
  const meriyah = loadMeriyah();
  try {
    return meriyah.parseModule(code, PARSE_OPTIONS) as unknown as { body: N[] };
  } catch (moduleError) {
    // CommonJS may use what module code forbids (`with`, octal literals, `arguments` at the top).
    if (options.defaultFormat === 'cjs') {
      try {
        return meriyah.parseScript(code, { ...PARSE_OPTIONS, globalReturn: true, webcompat: true }) as unknown as { body: N[] };
      } catch {
        // fall through and report the module-mode error
      }
    }
    throw syntaxError(moduleError, options.file);
  }
}

/** meriyah's error as devhot's: its words, and the position as 1-based line and column. */
function syntaxError(error: unknown, file: string): DevhotError {
  const err = error as Partial<Meriyah.ParseError>;
  const start = err.loc?.start;
  return new DevhotError(ErrorCodes.TRANSFORM, `${err.description ?? String(error)} in ${file}`, {
    fix: 'Fix the syntax error and save again; the previous version keeps running.',
    ...(start ? { loc: { file, line: start.line, column: start.column + 1 } } : {}),
    cause: error,
  });
}

/** Replace a statement with nothing but its newlines, so later lines keep their numbers. */
function blank(s: MagicString, code: string, start: number, end: number): void {
  const newlines = code.slice(start, end).split('\n').length - 1;
  s.overwrite(start, end, '\n'.repeat(newlines));
}

function moduleExportName(node: N): string {
  return node.type === 'Identifier' ? node.name : String(node.value);
}
