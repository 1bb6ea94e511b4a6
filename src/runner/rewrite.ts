/**
 * Rewrites one module's JavaScript (esbuild's ESM output) into the body of a generator function
 * that devhot runs itself, so that old versions can be dropped and garbage-collected.
 *
 * The body runs in two steps, like an ES module's link and evaluate phases:
 *   1. up to the `yield` it binds its imports (`__dh__.d[i]`, the dependency's namespace) and
 *      registers getters for its exports (closures over the local bindings, so they stay live and
 *      throw in the TDZ exactly as Node does when a cycle reads a binding too early);
 *   2. after the `yield` the module's own code runs.
 * Function declarations are hoisted to the top of the generator, so a cycle can call them before
 * the module has evaluated, as in Node. A module with top-level await becomes an async generator.
 *
 * References to imported bindings are rewritten to property reads on the namespace (`x` →
 * `__dh_i0.x`), scope-aware, so that they stay live and follow the dependency when it is replaced.
 * The rewrite keeps every line where it was, so line numbers hold even before the source map is read.
 */
import { parse } from 'acorn';
import MagicString from 'magic-string';
import { DevhotError, ErrorCodes } from '../errors.js';
import { ReferenceWalker, patternNames, type AstNode as N } from './reference-walker.js';

export type ModuleFormat = 'esm' | 'cjs';

export interface RewriteDependency {
  specifier: string;
  /** Import attributes (`with { type: 'json' }`), passed on to native imports. */
  attributes?: Record<string, string>;
}

export interface RewriteResult {
  code: string;
  /** Source map (JSON) from the input code to `code`. */
  map: string;
  format: ModuleFormat;
  /** The module awaits at the top level, so it must be evaluated asynchronously. */
  async: boolean;
  /** Static dependencies in the order Node would link and evaluate them. */
  deps: RewriteDependency[];
}

/** The identifier through which rewritten code reaches the runner (see ModuleRuntime in instance.ts). */
export const RUNTIME = '__dh__';

export interface RewriteOptions {
  /** File name, for error messages and the source map. */
  file: string;
  /** Format when the code has neither `import`/`export` nor `import.meta` / top-level await. */
  defaultFormat: ModuleFormat;
}

export function rewriteModule(code: string, options: RewriteOptions): RewriteResult {
  const body = parseModule(code, options).body;
  const s = new MagicString(code);
  const syntax = new ModuleSyntax(s, code);
  for (const node of body) syntax.declaration(node);

  const walker = new ReferenceWalker(s, syntax.imports, RUNTIME);
  walker.walkProgram(body);
  const format: ModuleFormat = syntax.hasModuleSyntax || walker.usesImportMeta || walker.topLevelAwait ? 'esm' : options.defaultFormat;
  // One line: the prelude sits in front of the first line of code, so no line moves.
  if (format === 'esm') s.prepend(syntax.prelude());

  return {
    code: s.toString(),
    map: s.generateMap({ hires: 'boundary', source: options.file, includeContent: false }).toString(),
    format,
    async: walker.topLevelAwait,
    deps: format === 'esm' ? syntax.deps : [],
  };
}

/**
 * A module's import and export declarations: each is blanked (or reduced to its declaration) in
 * the code and recorded, so the prelude can bind the imports and register the export getters.
 */
class ModuleSyntax {
  hasModuleSyntax = false;
  readonly deps: RewriteDependency[] = [];
  /** local name → expression that reads the imported binding */
  readonly imports = new Map<string, string>();
  /** exported name → expression (evaluated lazily in a getter) */
  private readonly exportGetters: Array<[string, string]> = [];
  private readonly stars: string[] = [];
  private readonly depIndex = new Map<string, number>();
  private anonymousDefaultFunction = false;

  constructor(
    private readonly s: MagicString,
    private readonly code: string,
  ) {}

  declaration(node: N): void {
    switch (node.type) {
      case 'ImportDeclaration':
        this.importDeclaration(node);
        return;
      case 'ExportNamedDeclaration':
        this.exportNamed(node);
        return;
      case 'ExportAllDeclaration': {
        this.hasModuleSyntax = true;
        const ns = this.depVar(node);
        if (node.exported) this.exportGetters.push([moduleExportName(node.exported), ns]);
        else this.stars.push(ns);
        blank(this.s, this.code, node.start, node.end);
        return;
      }
      case 'ExportDefaultDeclaration':
        this.exportDefault(node);
        return;
    }
  }

  /** The one-line prelude: bind the imports, register the export getters, then `yield`. */
  prelude(): string {
    const prelude: string[] = [];
    if (this.deps.length > 0) {
      prelude.push(`const ${this.deps.map((_, i) => `__dh_i${i} = ${RUNTIME}.d[${i}]`).join(', ')};`);
    }
    if (this.anonymousDefaultFunction) {
      prelude.push(`Object.defineProperty(__dh_default, "name", { value: "default" });`);
    }
    if (this.exportGetters.length > 0) {
      const entries = this.exportGetters.map(([name, expr]) => {
        const resolved = expr.startsWith('\0') ? (this.imports.get(expr.slice(1)) ?? expr.slice(1)) : expr;
        return `${JSON.stringify(name)}: () => ${resolved}`;
      });
      prelude.push(`${RUNTIME}.e({ ${entries.join(', ')} });`);
    }
    for (const ns of this.stars) prelude.push(`${RUNTIME}.s(${ns});`);
    prelude.push('yield;');
    return prelude.join(' ');
  }

  /** The variable holding the namespace of the declaration's source (one per specifier). */
  private depVar(node: N): string {
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
    return `__dh_i${index}`;
  }

  private importDeclaration(node: N): void {
    this.hasModuleSyntax = true;
    const ns = this.depVar(node);
    for (const spec of node.specifiers as N[]) {
      const local = spec.local.name as string;
      if (spec.type === 'ImportNamespaceSpecifier') this.imports.set(local, ns);
      else if (spec.type === 'ImportDefaultSpecifier') this.imports.set(local, `${ns}.default`);
      else this.imports.set(local, member(ns, moduleExportName(spec.imported)));
    }
    blank(this.s, this.code, node.start, node.end);
  }

  private exportNamed(node: N): void {
    this.hasModuleSyntax = true;
    if (node.declaration) {
      // `export const a = 1` → `const a = 1`; the getter reads the binding.
      this.s.remove(node.start, node.declaration.start);
      for (const name of declaredNames(node.declaration)) this.exportGetters.push([name, name]);
      return;
    }
    if (node.source) {
      const ns = this.depVar(node);
      for (const spec of node.specifiers as N[]) {
        this.exportGetters.push([moduleExportName(spec.exported), member(ns, moduleExportName(spec.local))]);
      }
    } else {
      for (const spec of node.specifiers as N[]) {
        // Re-exporting an imported binding reads through the import (resolved in prelude()).
        this.exportGetters.push([moduleExportName(spec.exported), `\0${moduleExportName(spec.local)}`]);
      }
    }
    blank(this.s, this.code, node.start, node.end);
  }

  private exportDefault(node: N): void {
    this.hasModuleSyntax = true;
    const decl = node.declaration as N;
    if ((decl.type === 'FunctionDeclaration' || decl.type === 'ClassDeclaration') && decl.id) {
      // Named: keep the declaration (and its hoisting), export its binding.
      this.s.remove(node.start, decl.start);
      this.exportGetters.push(['default', decl.id.name]);
    } else if (decl.type === 'FunctionDeclaration') {
      // Anonymous function: give it a hoisted name so cycles can call it before evaluation.
      this.s.remove(node.start, decl.start);
      this.s.appendLeft(this.code.indexOf('(', decl.start), ' __dh_default');
      this.anonymousDefaultFunction = true;
      this.exportGetters.push(['default', '__dh_default']);
    } else {
      this.s.overwrite(node.start, decl.start, 'const __dh_default = ');
      if (this.code[node.end - 1] !== ';') this.s.appendLeft(node.end, ';');
      this.exportGetters.push(['default', '__dh_default']);
    }
  }
}

function parseModule(code: string, options: RewriteOptions): { body: N[] } {
  try {
    return parse(code, { ecmaVersion: 'latest', sourceType: 'module', allowHashBang: true }) as unknown as {
      body: N[];
    };
  } catch (moduleError) {
    // CommonJS may use what module code forbids (`with`, octal literals, `arguments` at the top).
    if (options.defaultFormat === 'cjs') {
      try {
        return parse(code, {
          ecmaVersion: 'latest',
          sourceType: 'script',
          allowHashBang: true,
          allowReturnOutsideFunction: true,
        }) as unknown as { body: N[] };
      } catch {
        // fall through and report the module-mode error
      }
    }
    const err = moduleError as SyntaxError & { loc?: { line: number; column: number } };
    throw new DevhotError(ErrorCodes.TRANSFORM, `${err.message.replace(/ \(\d+:\d+\)$/, '')} in ${options.file}`, {
      fix: 'Fix the syntax error and save again; the previous version keeps running.',
      ...(err.loc ? { loc: { file: options.file, line: err.loc.line, column: err.loc.column + 1 } } : {}),
      cause: moduleError,
    });
  }
}

/** Replace a statement with nothing but its newlines, so later lines keep their numbers. */
function blank(s: MagicString, code: string, start: number, end: number): void {
  const newlines = code.slice(start, end).split('\n').length - 1;
  s.overwrite(start, end, '\n'.repeat(newlines));
}

function moduleExportName(node: N): string {
  return node.type === 'Identifier' ? node.name : String(node.value);
}

function member(object: string, name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `${object}.${name}` : `${object}[${JSON.stringify(name)}]`;
}

function declaredNames(decl: N): string[] {
  if (decl.type === 'VariableDeclaration') {
    const names: string[] = [];
    for (const d of decl.declarations as N[]) patternNames(d.id, names);
    return names;
  }
  return decl.id ? [decl.id.name as string] : [];
}
