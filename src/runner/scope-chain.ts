/**
 * The scope chain of the reference walker (reference-walker.ts): which of the names it watches a
 * local declaration shadows where the walk is. A shadowed name is the local's, not the module's,
 * so nothing is rewritten for it. Only watched names are kept, and a scope that declares none of
 * them is not pushed at all: most scopes of a module shadow nothing the rewrite cares about.
 */
export class ScopeChain {
  /** Watched names declared in the current scope chain (they shadow the module's), one set per scope. */
  private readonly scopes: Array<Set<string>> = [];

  constructor(
    /** Whether the walker cares about a name (an import, an exported local, `arguments`). */
    private readonly watched: (name: string) => boolean,
  ) {}

  isShadowed(name: string): boolean {
    for (let i = this.scopes.length - 1; i >= 0; i--) if (this.scopes[i]!.has(name)) return true;
    return false;
  }

  /** Run `fn` inside a scope that declares `names`. */
  within(names: string[], fn: () => void): void {
    const shadowing = new Set(names.filter((n) => this.watched(n)));
    if (shadowing.size === 0) {
      fn();
      return;
    }
    this.scopes.push(shadowing);
    try {
      fn();
    } finally {
      this.scopes.pop();
    }
  }
}
