/**
 * meriyah's ESTree nodes as the rewrite reads them, and the few facts about declarations it needs:
 * which names a binding pattern declares, which `var`s a function body hoists, which names a
 * statement list declares lexically.
 */

/** meriyah's nodes, loosely: the code here reads fields by node type. */
export interface AstNode {
  type: string;
  start: number;
  end: number;
  // biome-ignore lint/suspicious/noExplicitAny: ESTree nodes, read by node type
  [key: string]: any;
}

type N = AstNode;

/** Keys of a node that never hold child nodes. */
export const SKIP_KEYS: ReadonlySet<string> = new Set(['type', 'start', 'end', 'loc', 'range', 'raw', 'value', 'regex', 'bigint']);

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
 * `var` names hoisted to the scope of `node` (a function body, a class static block or the
 * program), not crossing functions. Only statements declare a `var`, so the walk goes from
 * statement to statement and never into an expression: walking every node took ~87 ms of an
 * empty-cache start's CPU profile at 3,000 modules (Node 20, 2026-11-30).
 */
export function collectVarNames(node: N, out: string[]): void {
  switch (node.type) {
    case 'Program':
    case 'BlockStatement':
    case 'StaticBlock':
      for (const statement of node.body as N[]) collectVarNames(statement, out);
      return;
    case 'VariableDeclaration':
      if (node.kind === 'var') for (const d of node.declarations as N[]) patternNames(d.id, out);
      return;
    case 'ExportNamedDeclaration':
      if (node.declaration) collectVarNames(node.declaration, out);
      return;
    case 'IfStatement':
      collectVarNames(node.consequent, out);
      if (node.alternate) collectVarNames(node.alternate, out);
      return;
    case 'ForStatement':
      if (node.init) collectVarNames(node.init, out);
      collectVarNames(node.body, out);
      return;
    case 'ForInStatement':
    case 'ForOfStatement':
      collectVarNames(node.left, out);
      collectVarNames(node.body, out);
      return;
    case 'WhileStatement':
    case 'DoWhileStatement':
    case 'LabeledStatement':
    case 'WithStatement':
      collectVarNames(node.body, out);
      return;
    case 'TryStatement':
      collectVarNames(node.block, out);
      if (node.handler) collectVarNames(node.handler.body, out);
      if (node.finalizer) collectVarNames(node.finalizer, out);
      return;
    case 'SwitchStatement':
      for (const c of node.cases as N[]) for (const statement of c.consequent as N[]) collectVarNames(statement, out);
      return;
  }
}

/** Names declared with let/const/class/function directly in a statement list (block scoped). */
export function lexicalNames(statements: N[], out: string[]): void {
  for (const st of statements) {
    if (st.type === 'VariableDeclaration' && st.kind !== 'var') {
      for (const d of st.declarations as N[]) patternNames(d.id, out);
    } else if ((st.type === 'FunctionDeclaration' || st.type === 'ClassDeclaration') && st.id) {
      out.push(st.id.name);
    }
  }
}

/** The names a declaration (`let`/`const`/`var`, function, class) declares. */
export function declaredNames(decl: N): string[] {
  if (decl.type === 'VariableDeclaration') {
    const names: string[] = [];
    for (const d of decl.declarations as N[]) patternNames(d.id, names);
    return names;
  }
  return decl.id ? [decl.id.name as string] : [];
}
