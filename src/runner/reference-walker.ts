/**
 * The scope-aware half of the rewrite: one walk over a module's AST that finds what refers to a
 * module-level binding the runner must know about, unless a local declaration shadows it:
 *
 * - an assignment to an exported binding (`count++`, `config = next`, `[a, b] = pair`, a `for
 *   (x of …)` head, a `var` with an initialiser): the importers hold their own copy of the binding
 *   (see rewrite.ts), so the assignment is wrapped to tell the runner, `__dh__.u(j, count++)`;
 * - an assignment to an imported binding: a TypeError in Node ("Assignment to constant
 *   variable."), so its target becomes `__dh__.k.x`, whose setter throws exactly that;
 * - `arguments` outside any function: module code has no `arguments` (it is a ReferenceError
 *   unless a global of that name exists), but the generator the module runs in does;
 * - `import.meta` and `import()`, which become calls to the runner;
 * - top-level `await`, which makes the module's body an async generator.
 *
 * References to imported bindings are left as they are written: they are real bindings of the
 * compiled module (see rewrite.ts), so error messages name them as the user wrote them.
 *
 * This file is the walk; scope-chain.ts says what a local declaration shadows,
 * assignment-targets.ts rewrites targets that name an import, notify-code.ts writes the calls
 * that tell the runner.
 */
import type MagicString from 'magic-string';
import { type AstNode as N, SKIP_KEYS, collectVarNames, lexicalNames, patternNames } from './ast.js';
import { type TargetWalk, visitTarget } from './assignment-targets.js';
import { notifyAtStart, notifyCall, wrapWithNotify } from './notify-code.js';
import { ScopeChain } from './scope-chain.js';

/** A top-level `arguments` the rewrite turns into a ReferenceError once it knows the module is ESM. */
export interface ArgumentsReference {
  node: N;
  /** `typeof arguments`, which must give 'undefined' rather than throw. */
  underTypeof: boolean;
}

export class ReferenceWalker {
  usesImportMeta = false;
  topLevelAwait = false;
  readonly argumentsRefs: ArgumentsReference[] = [];
  private functionDepth = 0;
  private readonly scope = new ScopeChain((name) => this.watched(name));
  /** What the walk of an assignment target (assignment-targets.ts) needs from this one. */
  private readonly targets: TargetWalk;

  constructor(
    private readonly s: MagicString,
    /** The name rewritten code reaches the runner through (`import.meta` → `${runtime}.m`). */
    private readonly runtime: string,
    /** Local names of the module's imports. */
    private readonly imports: ReadonlySet<string>,
    /** Exported local bindings → their index in the runner's table. */
    private readonly exported: ReadonlyMap<string, number>,
  ) {
    this.targets = {
      s,
      runtime,
      isImport: (name) => this.imports.has(name) && !this.scope.isShadowed(name),
      visit: (node, parent, key) => this.visit(node, parent, key),
    };
  }

  walkProgram(body: N[]): void {
    for (const node of body) {
      if (node.type === 'ImportDeclaration' || node.type === 'ExportAllDeclaration') continue;
      if (node.type === 'ExportNamedDeclaration' || node.type === 'ExportDefaultDeclaration') {
        // The `export` keyword goes: the declaration is a top-level statement of its own.
        if (node.declaration) this.visit(node.declaration, null, '');
        continue;
      }
      this.visit(node, null, '');
    }
  }

  private watched(name: string): boolean {
    return this.imports.has(name) || this.exported.has(name) || name === 'arguments';
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
        // A member expression target in an assignment pattern or a for-in/of head.
        this.visit(pattern, null, '');
    }
  }

  private visitFunction(node: N): void {
    const names: string[] = [];
    if (node.type === 'FunctionExpression' && node.id) names.push(node.id.name);
    // A regular function has its own `arguments`; an arrow sees the enclosing one.
    if (node.type !== 'ArrowFunctionExpression') names.push('arguments');
    for (const p of node.params as N[]) patternNames(p, names);
    if (node.body.type === 'BlockStatement') {
      collectVarNames(node.body, names);
      lexicalNames(node.body.body, names);
    }
    this.functionDepth++;
    this.scope.within(names, () => {
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
          this.scope.within(['arguments'], () => this.visit(node.value, node, 'value'));
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
        this.visitVariableDeclaration(node, parent);
        return;
      case 'BlockStatement': {
        const names: string[] = [];
        lexicalNames(node.body, names);
        this.scope.within(names, () => this.visitStatements(node.body));
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
      case 'AssignmentExpression':
        this.visitAssignment(node);
        return;
      case 'UpdateExpression':
        this.visitUpdate(node);
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
    // A class's own name is an immutable binding inside its body.
    const names = node.id ? [node.id.name as string] : [];
    if (node.type === 'ClassDeclaration') {
      if (node.superClass) this.visit(node.superClass, node, 'superClass');
      this.scope.within(names, () => this.visit(node.body, node, 'body'));
      return;
    }
    this.scope.within(names, () => {
      if (node.superClass) this.visit(node.superClass, node, 'superClass');
      this.visit(node.body, node, 'body');
    });
  }

  private visitStaticBlock(node: N): void {
    const names: string[] = ['arguments'];
    collectVarNames(node, names);
    lexicalNames(node.body, names);
    this.functionDepth++;
    this.scope.within(names, () => this.visitStatements(node.body));
    this.functionDepth--;
  }

  private visitSwitch(node: N): void {
    this.visit(node.discriminant, node, 'discriminant');
    const names: string[] = [];
    for (const c of node.cases as N[]) lexicalNames(c.consequent, names);
    this.scope.within(names, () => {
      for (const c of node.cases as N[]) {
        if (c.test) this.visit(c.test, c, 'test');
        this.visitStatements(c.consequent);
      }
    });
  }

  private visitCatch(node: N): void {
    const names: string[] = [];
    patternNames(node.param, names);
    this.scope.within(names, () => {
      this.visitPattern(node.param);
      this.visit(node.body, node, 'body');
    });
  }

  private visitFor(node: N): void {
    if (node.type === 'ForOfStatement' && node.await && this.functionDepth === 0) this.topLevelAwait = true;
    const head = node.type === 'ForStatement' ? node.init : node.left;
    const names: string[] = [];
    if (head && head.type === 'VariableDeclaration' && head.kind !== 'var') {
      for (const d of head.declarations as N[]) patternNames(d.id, names);
    }
    this.scope.within(names, () => {
      if (node.type === 'ForStatement') {
        this.visitChildren(node);
        return;
      }
      // `for (x of …)` assigns x on every turn: the body starts by saying so.
      const assigned = head.type === 'VariableDeclaration' ? this.exportedVars(head) : this.assignedExports(head);
      if (head.type === 'VariableDeclaration') this.visitVariableDeclaration(head, node, true);
      else visitTarget(this.targets, head);
      this.visit(node.right, node, 'right');
      if (assigned.length > 0) notifyAtStart(this.s, this.runtime, node.body, assigned);
      this.visit(node.body, node, 'body');
    });
  }

  /** `let`/`const` need nothing; a module-level `var` of an exported name with an initialiser notifies after it. */
  private visitVariableDeclaration(node: N, parent: N | null, forHead = false): void {
    for (const d of node.declarations as N[]) {
      this.visitPattern(d.id);
      if (d.init) this.visit(d.init, d, 'init');
    }
    if (forHead) return;
    const assigned = this.exportedVars(node, true);
    if (assigned.length === 0) return;
    if (parent?.type === 'ForStatement') {
      // `for (var i = 0; …)`: one more declarator, after the others, tells the runner.
      this.s.appendLeft(node.end, `, __dh_notify = ${notifyCall(this.runtime, assigned, 'void 0')}`);
      return;
    }
    const inList = parent === null || parent.type === 'Program' || parent.type === 'BlockStatement' || parent.type === 'SwitchCase';
    if (!inList) this.s.appendLeft(node.start, '{ ');
    // Own semicolons on both sides: the next line may start with `(` or `[`.
    this.s.appendLeft(node.end, `${this.code(node.end - 1) === ';' ? '' : ';'} ${notifyCall(this.runtime, assigned)};`);
    if (!inList) this.s.appendLeft(node.end, ' }');
  }

  /** Exported module-level `var`s a declaration assigns (only those with an initialiser, unless `all`). */
  private exportedVars(node: N, withInit = false): number[] {
    if (node.kind !== 'var' || this.functionDepth > 0) return [];
    const names: string[] = [];
    for (const d of node.declarations as N[]) if (!withInit || d.init) patternNames(d.id, names);
    return this.indexesOf(names);
  }

  private assignedExports(target: N): number[] {
    const names: string[] = [];
    patternNames(target, names);
    return this.indexesOf(names);
  }

  private indexesOf(names: string[]): number[] {
    const out: number[] = [];
    for (const name of names) {
      const j = this.exported.get(name);
      if (j !== undefined && !this.scope.isShadowed(name) && !out.includes(j)) out.push(j);
    }
    return out;
  }

  private visitAssignment(node: N): void {
    const assigned = node.left.type === 'MemberExpression' ? [] : this.assignedExports(node.left);
    visitTarget(this.targets, node.left);
    this.visit(node.right, node, 'right');
    if (assigned.length > 0) wrapWithNotify(this.s, this.runtime, node, assigned);
  }

  private visitUpdate(node: N): void {
    if (node.argument.type !== 'Identifier') {
      this.visit(node.argument, node, 'argument');
      return;
    }
    const assigned = this.assignedExports(node.argument);
    visitTarget(this.targets, node.argument);
    if (assigned.length > 0) wrapWithNotify(this.s, this.runtime, node, assigned);
  }

  private code(offset: number): string {
    return this.s.original[offset] ?? '';
  }

  /** `import.meta` → the runtime's meta object; `import(x)` → the runtime's import. */
  private visitImportSyntax(node: N): void {
    if (node.type === 'MetaProperty') {
      if (node.meta.name !== 'import') return;
      this.usesImportMeta = true;
      this.s.overwrite(node.start, node.end, `${this.runtime}.m`);
      return;
    }
    // Only the keyword: `import((x))` keeps its parentheses.
    this.s.overwrite(node.start, node.start + 'import'.length, `${this.runtime}.i`);
    this.visit(node.source, node, 'source');
    if (node.options) this.visit(node.options, node, 'options');
  }

  private visitIdentifier(node: N, parent: N | null, key: string): void {
    if (node.name !== 'arguments' || this.scope.isShadowed('arguments')) return;
    this.argumentsRefs.push({
      node,
      underTypeof: parent?.type === 'UnaryExpression' && parent.operator === 'typeof' && key === 'argument',
    });
  }
}
