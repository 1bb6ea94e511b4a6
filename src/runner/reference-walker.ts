/**
 * The scope-aware half of the rewrite: one walk over a module's AST that rewrites every
 * reference to an imported binding (`x` → `__dh_i0.x`) unless a local declaration shadows it,
 * turns `import.meta` and dynamic `import()` into calls to the runner, and notes top-level
 * await (which makes the module's body an async generator).
 */
import type MagicString from 'magic-string';

/** acorn's nodes, loosely: the code here reads fields by node type. */
export interface AstNode {
  type: string;
  start: number;
  end: number;
  // biome-ignore lint/suspicious/noExplicitAny: acorn's ESTree nodes, read by node type
  [key: string]: any;
}

const SKIP_KEYS = new Set(['type', 'start', 'end', 'loc', 'range', 'raw', 'value', 'regex', 'bigint']);
const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

type N = AstNode;

/** The names a binding pattern declares (`{ a, b: [c] } = …` → a, c). */
export function patternNames(pattern: N | null, out: string[]): void {
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
export class ReferenceWalker {
  usesImportMeta = false;
  topLevelAwait = false;
  private functionDepth = 0;
  /** Names of imports shadowed in the current scope chain, one set per scope. */
  private readonly scopes: Array<Set<string>> = [];

  constructor(
    private readonly s: MagicString,
    private readonly imports: Map<string, string>,
    /** The name rewritten code reaches the runner through (`import.meta` → `${runtime}.m`). */
    private readonly runtime: string,
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
    if (this.imports.size === 0) {
      fn();
      return;
    }
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
        this.visitIdentifier(node, parent, key);
        return;
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        this.visitFunction(node);
        return;
      case 'ClassDeclaration':
      case 'ClassExpression':
        this.visitClass(node);
        return;
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
      case 'StaticBlock':
        this.visitStaticBlock(node);
        return;
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
      case 'SwitchStatement':
        this.visitSwitch(node);
        return;
      case 'ForStatement':
      case 'ForInStatement':
      case 'ForOfStatement':
        this.visitFor(node);
        return;
      case 'CatchClause':
        this.visitCatch(node);
        return;
      case 'LabeledStatement':
        this.visit(node.body, node, 'body');
        return;
      case 'BreakStatement':
      case 'ContinueStatement':
        return;
      case 'MetaProperty':
      case 'ImportExpression':
        this.visitImportSyntax(node);
        return;
      case 'AwaitExpression':
        if (this.functionDepth === 0) this.topLevelAwait = true;
        this.visit(node.argument, node, 'argument');
        return;
      default:
        this.visitChildren(node);
    }
  }

  private visitClass(node: N): void {
    const names = node.type === 'ClassExpression' && node.id ? [node.id.name as string] : [];
    this.withScope(names, () => {
      if (node.superClass) this.visit(node.superClass, node, 'superClass');
      this.visit(node.body, node, 'body');
    });
  }

  private visitStaticBlock(node: N): void {
    const names: string[] = [];
    collectVarNames(node, names);
    lexicalNames(node.body, names);
    this.functionDepth++;
    this.withScope(names, () => this.visitStatements(node.body));
    this.functionDepth--;
  }

  private visitSwitch(node: N): void {
    this.visit(node.discriminant, node, 'discriminant');
    const names: string[] = [];
    for (const c of node.cases as N[]) lexicalNames(c.consequent, names);
    this.withScope(names, () => {
      for (const c of node.cases as N[]) {
        if (c.test) this.visit(c.test, c, 'test');
        this.visitStatements(c.consequent);
      }
    });
  }

  private visitFor(node: N): void {
    if (node.type === 'ForOfStatement' && node.await && this.functionDepth === 0) this.topLevelAwait = true;
    const head = node.type === 'ForStatement' ? node.init : node.left;
    const names: string[] = [];
    if (head && head.type === 'VariableDeclaration' && head.kind !== 'var') {
      for (const d of head.declarations as N[]) patternNames(d.id, names);
    }
    this.withScope(names, () => this.visitChildren(node));
  }

  private visitCatch(node: N): void {
    const names: string[] = [];
    patternNames(node.param, names);
    this.withScope(names, () => {
      this.visitPattern(node.param);
      this.visit(node.body, node, 'body');
    });
  }

  /** `import.meta` → the runtime's meta object; `import(x)` → the runtime's import. */
  private visitImportSyntax(node: N): void {
    if (node.type === 'MetaProperty') {
      if (node.meta.name !== 'import') return;
      this.usesImportMeta = true;
      this.s.overwrite(node.start, node.end, `${this.runtime}.m`);
      return;
    }
    this.s.overwrite(node.start, node.source.start, `${this.runtime}.i(`);
    this.visit(node.source, node, 'source');
    if (node.options) this.visit(node.options, node, 'options');
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
      (parent?.type === 'CallExpression' && key === 'callee') || (parent?.type === 'TaggedTemplateExpression' && key === 'tag');
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
