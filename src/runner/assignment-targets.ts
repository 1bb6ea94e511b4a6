/**
 * Assignment targets that name an imported binding. Assigning to one is a TypeError in Node
 * ("Assignment to constant variable."), but the compiled module's import is a binding of its own
 * (see rewrite.ts), so the target becomes `__dh__.k.x`, whose setter throws exactly that. The
 * rest of a target (computed keys, defaults, member expressions) is the reference walker's
 * (reference-walker.ts), which also knows what a local declaration shadows.
 */
import type MagicString from 'magic-string';
import type { AstNode as N } from './ast.js';

/** What the walk of a target needs from the reference walker. */
export interface TargetWalk {
  readonly s: MagicString;
  /** The name rewritten code reaches the runner through. */
  readonly runtime: string;
  /** `name` is an import that no local declaration shadows here. */
  isImport(name: string): boolean;
  /** Visit an expression inside the target. */
  visit(node: N, parent: N | null, key: string): void;
}

/** An assignment target: imported names in it become `__dh__.k.x` (whose setter throws); the rest is visited. */
export function visitTarget(walk: TargetWalk, target: N): void {
  switch (target.type) {
    case 'Identifier':
      if (walk.isImport(target.name)) walk.s.overwrite(target.start, target.end, `${walk.runtime}.k.${target.name}`);
      return;
    case 'ObjectPattern':
      for (const p of target.properties as N[]) {
        if (p.type === 'RestElement') visitTarget(walk, p.argument);
        else {
          if (p.computed) walk.visit(p.key, p, 'key');
          const value = p.value.type === 'AssignmentPattern' ? p.value.left : p.value;
          if (p.shorthand && value.type === 'Identifier' && walk.isImport(value.name)) {
            // `({ x } = o)` → `({ x: __dh__.k.x } = o)`, keeping a default if there is one.
            walk.s.appendLeft(p.key.start, `${p.key.name}: `);
          }
          visitTarget(walk, p.value);
        }
      }
      return;
    case 'ArrayPattern':
      for (const e of target.elements as Array<N | null>) if (e) visitTarget(walk, e);
      return;
    case 'AssignmentPattern':
      visitTarget(walk, target.left);
      walk.visit(target.right, target, 'right');
      return;
    case 'RestElement':
      visitTarget(walk, target.argument);
      return;
    default:
      walk.visit(target, null, '');
  }
}
