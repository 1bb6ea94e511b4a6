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

/** The identifier through which rewritten code reaches the runner (see evaluate.ts). */
export const RUNTIME = '__dh__';

// acorn's nodes, loosely: the walker below reads fields by node type.
interface N {
  type: string;
  start: number;
  end: number;
  [key: string]: any;
}

const SKIP_KEYS = new Set(['type', 'start', 'end', 'loc', 'range', 'raw', 'value', 'regex', 'bigint']);
const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

export interface RewriteOptions {
  /** File name, for error messages and the source map. */
  file: string;
  /** Format when the code has neither `import`/`export` nor `import.meta` / top-level await. */
  defaultFormat: ModuleFormat;
}

export function rewriteModule(code: string, options: RewriteOptions): RewriteResult {
  const ast = parseModule(code, options);
  const s = new MagicString(code);
  const body = ast.body as N[];

  const hasModuleSyntax = body.some(
    (n) => n.type === 'ImportDeclaration' || n.type.startsWith('Export'),
  );

  const deps: RewriteDependency[] = [];
  const depIndex = new Map<string, number>();
  const depVar = (source: N): string => {
    const specifier = String(source.value);
    let index = depIndex.get(specifier);
    if (index === undefined) {
      index = deps.length;
      depIndex.set(specifier, index);
      deps.push({ specifier });
    }
    return `__dh_i${index}`;
  };

  /** local name → expression that reads the imported binding */
  const imports = new Map<string, string>();
  /** exported name → expression (evaluated lazily in a getter) */
  const exportGetters: Array<[string, string]> = [];
  const stars: string[] = [];
  let anonymousDefaultFunction = false;

  for (const node of body) {
    switch (node.type) {
      case 'ImportDeclaration': {
        const ns = depVar(node.source);
        recordAttributes(deps, depIndex, node);
        for (const spec of node.specifiers as N[]) {
          const local = spec.local.name as string;
          if (spec.type === 'ImportNamespaceSpecifier') imports.set(local, ns);
          else if (spec.type === 'ImportDefaultSpecifier') imports.set(local, `${ns}.default`);
          else imports.set(local, member(ns, moduleExportName(spec.imported)));
        }
        blank(s, code, node.start, node.end);
        break;
      }
      case 'ExportNamedDeclaration': {
        if (node.declaration) {
          // `export const a = 1` → `const a = 1`; the getter reads the binding.
          s.remove(node.start, node.declaration.start);
          for (const name of declaredNames(node.declaration)) exportGetters.push([name, name]);
        } else if (node.source) {
          const ns = depVar(node.source);
          recordAttributes(deps, depIndex, node);
          for (const spec of node.specifiers as N[]) {
            exportGetters.push([moduleExportName(spec.exported), member(ns, moduleExportName(spec.local))]);
          }
          blank(s, code, node.start, node.end);
        } else {
          for (const spec of node.specifiers as N[]) {
            const local = moduleExportName(spec.local);
            // Re-exporting an imported binding reads through the import (resolved after the loop).
            exportGetters.push([moduleExportName(spec.exported), `\0${local}`]);
          }
          blank(s, code, node.start, node.end);
        }
        break;
      }
      case 'ExportAllDeclaration': {
        const ns = depVar(node.source);
        recordAttributes(deps, depIndex, node);
        if (node.exported) exportGetters.push([moduleExportName(node.exported), ns]);
        else stars.push(ns);
        blank(s, code, node.start, node.end);
        break;
      }
      case 'ExportDefaultDeclaration': {
        const decl = node.declaration as N;
        if ((decl.type === 'FunctionDeclaration' || decl.type === 'ClassDeclaration') && decl.id) {
          // Named: keep the declaration (and its hoisting), export its binding.
          s.remove(node.start, decl.start);
          exportGetters.push(['default', decl.id.name]);
        } else if (decl.type === 'FunctionDeclaration') {
          // Anonymous function: give it a hoisted name so cycles can call it before evaluation.
          s.remove(node.start, decl.start);
          const paren = code.indexOf('(', decl.start);
          s.appendLeft(paren, ' __dh_default');
          anonymousDefaultFunction = true;
          exportGetters.push(['default', '__dh_default']);
        } else {
          s.overwrite(node.start, decl.start, 'const __dh_default = ');
          if (code[node.end - 1] !== ';') s.appendLeft(node.end, ';');
          exportGetters.push(['default', '__dh_default']);
        }
        break;
      }
    }
  }

  const walker = new ReferenceWalker(s, imports);
  walker.walkProgram(body);
  const format: ModuleFormat =
    hasModuleSyntax || walker.usesImportMeta || walker.topLevelAwait ? 'esm' : options.defaultFormat;

  if (format === 'esm') {
    const prelude: string[] = [];
    if (deps.length > 0) {
      prelude.push(`const ${deps.map((_, i) => `__dh_i${i} = ${RUNTIME}.d[${i}]`).join(', ')};`);
    }
    if (anonymousDefaultFunction) {
      prelude.push(`Object.defineProperty(__dh_default, "name", { value: "default" });`);
    }
    if (exportGetters.length > 0) {
      const entries = exportGetters.map(([name, expr]) => {
        const resolved = expr.startsWith('\0') ? (imports.get(expr.slice(1)) ?? expr.slice(1)) : expr;
        return `${JSON.stringify(name)}: () => ${resolved}`;
      });
      prelude.push(`${RUNTIME}.e({ ${entries.join(', ')} });`);
    }
    for (const ns of stars) prelude.push(`${RUNTIME}.s(${ns});`);
    prelude.push('yield;');
    // One line: the prelude sits in front of the first line of code, so no line moves.
    s.prepend(prelude.join(' '));
  }

  return {
    code: s.toString(),
    map: s.generateMap({ hires: 'boundary', source: options.file, includeContent: false }).toString(),
    format,
    async: walker.topLevelAwait,
    deps: format === 'esm' ? deps : [],
  };
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
        return parse(code, { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: true, allowReturnOutsideFunction: true }) as unknown as { body: N[] };
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

function recordAttributes(deps: RewriteDependency[], depIndex: Map<string, number>, node: N): void {
  const attributes = node.attributes as N[] | undefined;
  if (!attributes || attributes.length === 0) return;
  const dep = deps[depIndex.get(String(node.source.value))!]!;
  dep.attributes = {};
  for (const attr of attributes) dep.attributes[moduleExportName(attr.key)] = String(attr.value.value);
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

function patternNames(pattern: N | null, out: string[]): void {
  if (!pattern) return;
  switch (pattern.type) {
    case 'Identifier':
      out.push(pattern.name);
      break;
    case 'ObjectPattern':
      for (const p of pattern.properties as N[]) patternNames(p.type === 'RestElement' ? p.argument : p.value, out);
      break;
    case 'ArrayPattern':
      for (const e of pattern.elements as Array<N | null>) patternNames(e, out);
      break;
    case 'AssignmentPattern':
      patternNames(pattern.left, out);
      break;
    case 'RestElement':
      patternNames(pattern.argument, out);
      break;
  }
}

/**
 * Walks the whole program once: rewrites references to imported bindings (unless shadowed by a
 * local declaration), `import.meta` and dynamic `import()`, and notes top-level await.
 */
class ReferenceWalker {
  usesImportMeta = false;
  topLevelAwait = false;
  private functionDepth = 0;
  /** Names of imports shadowed in the current scope chain, one set per scope. */
  private readonly scopes: Array<Set<string>> = [];

  constructor(
    private readonly s: MagicString,
    private readonly imports: Map<string, string>,
  ) {}

  walkProgram(body: N[]): void {
    for (const node of body) {
      if (node.type === 'ImportDeclaration') continue;
      if (node.type === 'ExportNamedDeclaration') {
        if (node.declaration) this.visit(node.declaration, node, 'declaration');
        continue;
      }
      if (node.type === 'ExportAllDeclaration') continue;
      if (node.type === 'ExportDefaultDeclaration') {
        this.visit(node.declaration, node, 'declaration');
        continue;
      }
      this.visit(node, null, '');
    }
  }

  private isShadowed(name: string): boolean {
    for (let i = this.scopes.length - 1; i >= 0; i--) if (this.scopes[i]!.has(name)) return true;
    return false;
  }

  /** The declared names of a scope that shadow an import (the only ones that matter here). */
  private shadowing(names: string[]): Set<string> {
    const set = new Set<string>();
    for (const name of names) if (this.imports.has(name)) set.add(name);
    return set;
  }

  private withScope(names: string[], fn: () => void): void {
    if (this.imports.size === 0) return fn();
    this.scopes.push(this.shadowing(names));
    try {
      fn();
    } finally {
      this.scopes.pop();
    }
  }

  private visitChildren(node: N): void {
    for (const key in node) {
      if (SKIP_KEYS.has(key)) continue;
      const value = node[key];
      if (Array.isArray(value)) {
        for (const child of value) if (child && typeof child.type === 'string') this.visit(child, node, key);
      } else if (value && typeof value.type === 'string') {
        this.visit(value, node, key);
      }
    }
  }

  /** Visit only the expressions inside a binding pattern (defaults, computed keys). */
  private visitPattern(pattern: N | null): void {
    if (!pattern) return;
    switch (pattern.type) {
      case 'Identifier':
        return;
      case 'ObjectPattern':
        for (const p of pattern.properties as N[]) {
          if (p.type === 'RestElement') this.visitPattern(p.argument);
          else {
            if (p.computed) this.visit(p.key, p, 'key');
            this.visitPattern(p.value);
          }
        }
        return;
      case 'ArrayPattern':
        for (const e of pattern.elements as Array<N | null>) this.visitPattern(e);
        return;
      case 'AssignmentPattern':
        this.visitPattern(pattern.left);
        this.visit(pattern.right, pattern, 'right');
        return;
      case 'RestElement':
        this.visitPattern(pattern.argument);
        return;
      default:
        // A member expression target in a for-in/of head or a destructuring default.
        this.visit(pattern, null, '');
    }
  }

  private visitFunction(node: N): void {
    const names: string[] = [];
    if (node.type === 'FunctionExpression' && node.id) names.push(node.id.name);
    for (const p of node.params as N[]) patternNames(p, names);
    if (node.body.type === 'BlockStatement') {
      collectVarNames(node.body, names);
      lexicalNames(node.body.body, names);
    }
    this.functionDepth++;
    this.withScope(names, () => {
      for (const p of node.params as N[]) this.visitPattern(p);
      if (node.body.type === 'BlockStatement') this.visitStatements(node.body.body);
      else this.visit(node.body, node, 'body');
    });
    this.functionDepth--;
  }

  private visitStatements(statements: N[]): void {
    for (const st of statements) this.visit(st, null, '');
  }

  private visit(node: N, parent: N | null, key: string): void {
    switch (node.type) {
      case 'Identifier':
        return this.visitIdentifier(node, parent, key);
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        return this.visitFunction(node);
      case 'ClassDeclaration':
      case 'ClassExpression': {
        const names = node.type === 'ClassExpression' && node.id ? [node.id.name as string] : [];
        this.withScope(names, () => {
          if (node.superClass) this.visit(node.superClass, node, 'superClass');
          this.visit(node.body, node, 'body');
        });
        return;
      }
      case 'MethodDefinition':
      case 'PropertyDefinition':
      case 'AccessorProperty':
        if (node.computed) this.visit(node.key, node, 'key');
        if (node.value) {
          // Class field initialisers run like function bodies (not at the top level).
          this.functionDepth++;
          this.visit(node.value, node, 'value');
          this.functionDepth--;
        }
        return;
      case 'StaticBlock': {
        const names: string[] = [];
        collectVarNames(node, names);
        lexicalNames(node.body, names);
        this.functionDepth++;
        this.withScope(names, () => this.visitStatements(node.body));
        this.functionDepth--;
        return;
      }
      case 'Property':
        if (node.computed) this.visit(node.key, node, 'key');
        this.visit(node.value, node, 'value');
        return;
      case 'MemberExpression':
        this.visit(node.object, node, 'object');
        if (node.computed) this.visit(node.property, node, 'property');
        return;
      case 'VariableDeclaration':
        for (const d of node.declarations as N[]) {
          this.visitPattern(d.id);
          if (d.init) this.visit(d.init, d, 'init');
        }
        return;
      case 'BlockStatement': {
        const names: string[] = [];
        lexicalNames(node.body, names);
        this.withScope(names, () => this.visitStatements(node.body));
        return;
      }
      case 'SwitchStatement': {
        this.visit(node.discriminant, node, 'discriminant');
        const names: string[] = [];
        for (const c of node.cases as N[]) lexicalNames(c.consequent, names);
        this.withScope(names, () => {
          for (const c of node.cases as N[]) {
            if (c.test) this.visit(c.test, c, 'test');
            this.visitStatements(c.consequent);
          }
        });
        return;
      }
      case 'ForStatement':
      case 'ForInStatement':
      case 'ForOfStatement': {
        if (node.type === 'ForOfStatement' && node.await && this.functionDepth === 0) this.topLevelAwait = true;
        const head = node.type === 'ForStatement' ? node.init : node.left;
        const names: string[] = [];
        if (head && head.type === 'VariableDeclaration' && head.kind !== 'var') {
          for (const d of head.declarations as N[]) patternNames(d.id, names);
        }
        this.withScope(names, () => this.visitChildren(node));
        return;
      }
      case 'CatchClause': {
        const names: string[] = [];
        patternNames(node.param, names);
        this.withScope(names, () => {
          this.visitPattern(node.param);
          this.visit(node.body, node, 'body');
        });
        return;
      }
      case 'LabeledStatement':
        return this.visit(node.body, node, 'body');
      case 'BreakStatement':
      case 'ContinueStatement':
        return;
      case 'MetaProperty':
        if (node.meta.name === 'import') {
          this.usesImportMeta = true;
          this.s.overwrite(node.start, node.end, `${RUNTIME}.m`);
        }
        return;
      case 'ImportExpression':
        this.s.overwrite(node.start, node.source.start, `${RUNTIME}.i(`);
        this.visit(node.source, node, 'source');
        if (node.options) this.visit(node.options, node, 'options');
        return;
      case 'AwaitExpression':
        if (this.functionDepth === 0) this.topLevelAwait = true;
        this.visit(node.argument, node, 'argument');
        return;
      default:
        this.visitChildren(node);
    }
  }

  private visitIdentifier(node: N, parent: N | null, key: string): void {
    const replacement = this.imports.get(node.name);
    if (replacement === undefined || this.isShadowed(node.name)) return;
    if (parent?.type === 'Property' && parent.shorthand && key === 'value') {
      // `{ x }` → `{ x: __dh_i0.x }` (the key is a copy of the same text).
      this.s.overwrite(node.start, node.end, `${node.name}: ${replacement}`);
      return;
    }
    const isCallee =
      (parent?.type === 'CallExpression' && key === 'callee') ||
      (parent?.type === 'TaggedTemplateExpression' && key === 'tag');
    // `(0, ns.f)()` calls f with `this` undefined, as calling the imported binding would.
    this.s.overwrite(node.start, node.end, isCallee && replacement.includes('.') ? `(0, ${replacement})` : replacement);
  }
}

/** `var` names and (for sloppy code) function names hoisted to a function's scope. */
function collectVarNames(node: N, out: string[]): void {
  for (const key in node) {
    if (SKIP_KEYS.has(key)) continue;
    const value = node[key];
    const children: unknown[] = Array.isArray(value) ? value : [value];
    for (const child of children) {
      if (!child || typeof (child as N).type !== 'string') continue;
      const c = child as N;
      if (FUNCTION_TYPES.has(c.type) || c.type === 'ClassDeclaration' || c.type === 'ClassExpression') continue;
      if (c.type === 'VariableDeclaration' && c.kind === 'var') {
        for (const d of c.declarations as N[]) patternNames(d.id, out);
      }
      collectVarNames(c, out);
    }
  }
}

/** Names declared with let/const/class/function directly in a statement list (block scoped). */
function lexicalNames(statements: N[], out: string[]): void {
  for (const st of statements) {
    if (st.type === 'VariableDeclaration' && st.kind !== 'var') {
      for (const d of st.declarations as N[]) patternNames(d.id, out);
    } else if ((st.type === 'FunctionDeclaration' || st.type === 'ClassDeclaration') && st.id) {
      out.push(st.id.name);
    }
  }
}
