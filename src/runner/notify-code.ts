/**
 * The code the rewrite inserts to tell the runner that exported bindings changed. Importers hold
 * their own copy of each binding (see rewrite.ts), so every assignment to an exported one must
 * reach the runner, which updates the copies; reference-walker.ts finds the assignments.
 */
import type MagicString from 'magic-string';
import type { AstNode as N } from './ast.js';

/**
 * Calls telling the runner that `locals` changed, one per local: `u(1, u(2, value))`. (Not
 * `u([1, 2], …)`: V8 rejects an array literal before a destructuring assignment in one
 * argument list, `f([1, 2], [a, b] = c)`, as an invalid destructuring target.)
 */
export function notifyCall(runtime: string, locals: number[], value?: string): string {
  let call = value;
  // The innermost call is the first local, so the runner hears of them in source order.
  for (const j of locals) call = call === undefined ? `${runtime}.u(${j})` : `${runtime}.u(${j}, ${call})`;
  return call!;
}

/** `expr` → `__dh__.u(j, expr)`: the value of the expression, after telling the runner. */
export function wrapWithNotify(s: MagicString, runtime: string, node: N, locals: number[]): void {
  s.appendLeft(
    node.start,
    [...locals]
      .reverse()
      .map((j) => `${runtime}.u(${j}, `)
      .join(''),
  );
  s.appendLeft(node.end, ')'.repeat(locals.length));
}

/** A loop body that starts by telling the runner (`for (x of …)` assigns x on every turn). */
export function notifyAtStart(s: MagicString, runtime: string, body: N, locals: number[]): void {
  if (body.type === 'BlockStatement') {
    s.appendLeft(body.start + 1, ` ${notifyCall(runtime, locals)};`);
    return;
  }
  s.appendLeft(body.start, `{ ${notifyCall(runtime, locals)}; `);
  s.appendLeft(body.end, ' }');
}
