/**
 * The module graph: one node per user file, with the files it imports and the files importing
 * it. Planning an update walks importers up from the changed files until a module accepts the
 * change; everything on the way is re-executed, everything else keeps its instance and state.
 */
import { relative } from 'node:path';
import type { CompiledModule } from './compile.js';
import type { Binding, CompiledBody, ModuleInstance } from './instance.js';
import { nodeNamespace } from './namespace.js';

/** A compiled version of a module with its dependencies resolved, ready to instantiate. */
export interface ModuleVersion {
  compiled: CompiledModule;
  /** Per static dependency: the user module's node, or the namespace of a native module. */
  deps: Array<ModuleNode | object>;
  /** Increments per file, so stack traces can tell versions apart. */
  number: number;
  /**
   * The compiled body, kept with the version: a module re-executed because a dependency changed
   * runs the same code again, and a generator function gives fresh locals on every call.
   */
  body?: CompiledBody;
  /** The layout `body` was compiled with: an ES module's imports in one binding scope (module-wrapper.ts). */
  sharedScope?: boolean;
}

const NONE: ReadonlySet<never> = new Set();

export class ModuleNode {
  readonly importers = new Set<ModuleNode>();
  readonly imports = new Set<ModuleNode>();
  /**
   * Made when first needed, as is `#namespaceFollowers`: nearly every module has neither, and an
   * empty Set is ~160 bytes (0.9 MB of the app's heap at 3,000 modules).
   */
  #runtimeImports: Set<ModuleNode> | undefined;
  version: ModuleVersion | undefined;
  instance: ModuleInstance | undefined;
  /** `import.meta.hot.data`: handed from each instance to the next, dropped when pruned. */
  hotData: Record<string, unknown> = {};
  versions = 0;
  /** The namespace object and the names it was made for (see namespace.ts). */
  namespaceCache: { key: string; ns: object } | undefined;
  /** The same for what `require()` of this module returns (namespace.ts, requireNamespace). */
  requireNamespaceCache: { key: string; ns: object } | undefined;
  #namespaceFollowers: Set<Binding> | undefined;

  /** `followed`: the runner's nodes that have namespace imports (RunnerState.namespaceFollowed). */
  constructor(
    readonly file: string,
    private readonly followed?: Set<ModuleNode>,
  ) {}

  /** Modules reached through `import()` or `require()` at run time (edges kept across versions). */
  get runtimeImports(): ReadonlySet<ModuleNode> {
    return this.#runtimeImports ?? NONE;
  }

  addRuntimeImport(dep: ModuleNode): void {
    (this.#runtimeImports ??= new Set()).add(dep);
  }

  clearRuntimeImports(): void {
    this.#runtimeImports = undefined;
  }

  /** Namespace imports of this module (bindings.ts): given the new namespace when its names change. */
  get namespaceFollowers(): ReadonlySet<Binding> {
    return this.#namespaceFollowers ?? NONE;
  }

  /** A namespace import follows this module from now on. */
  addNamespaceFollower(binding: Binding): void {
    (this.#namespaceFollowers ??= new Set()).add(binding);
    this.followed?.add(this);
  }

  deleteNamespaceFollower(binding: Binding): void {
    this.#namespaceFollowers?.delete(binding);
  }

  /**
   * The module's namespace object (`import * as ns`, `import()`): it reads the current instance,
   * so one held across a hot update shows the new values (dynohot's choice, not Vite's).
   */
  get namespace(): Record<string, unknown> {
    return nodeNamespace(this) as Record<string, unknown>;
  }
}

export interface UpdatePlan {
  /** Modules that get a new instance, in no particular order. */
  reexecute: Set<ModuleNode>;
  /** Importers that accepted changed dependencies: boundary → the accepted deps. */
  acceptedDeps: Map<ModuleNode, Set<ModuleNode>>;
  /** Modules that accept themselves and stop the walk there. */
  selfAccepted: Set<ModuleNode>;
  /** Why the entry re-executes (no boundary on some path), or undefined. */
  entryReason: string | undefined;
  /** Why this change needs a new process (a module declined), or undefined. */
  restartReason: string | undefined;
}

export interface PlanOptions {
  entry: ModuleNode | undefined;
  root: string;
  /** Modules whose self-accept does not count (they invalidated, or their handler threw). */
  ignoreSelfAccept?: ReadonlySet<ModuleNode>;
  /** Boundaries whose accept of a dep does not count, keyed `${boundary.file}\0${dep.file}`. */
  ignoreAccept?: ReadonlySet<string>;
}

export function planUpdate(changed: Iterable<ModuleNode>, options: PlanOptions): UpdatePlan {
  const plan: UpdatePlan = {
    reexecute: new Set(),
    acceptedDeps: new Map(),
    selfAccepted: new Set(),
    entryReason: undefined,
    restartReason: undefined,
  };
  const rel = (node: ModuleNode) => relative(options.root, node.file) || node.file;

  const visit = (node: ModuleNode, origin: ModuleNode): void => {
    if (plan.reexecute.has(node)) return;
    plan.reexecute.add(node);
    const hot = node.instance?.hotInUse;
    if (hot?.declined) plan.restartReason ??= `${rel(node)} called import.meta.hot.decline()`;
    if (hot?.selfAccepting && !options.ignoreSelfAccept?.has(node)) {
      plan.selfAccepted.add(node);
      return;
    }
    if (node.importers.size === 0) {
      if (node === options.entry) {
        plan.entryReason ??= origin === node ? `${rel(node)} is the entry` : `${rel(origin)} has no accepting importer`;
      }
      return;
    }
    for (const importer of node.importers) {
      const accepts = importer.instance?.hotInUse?.acceptsDep(node.file) && !options.ignoreAccept?.has(`${importer.file}\0${node.file}`);
      if (accepts) {
        let deps = plan.acceptedDeps.get(importer);
        if (!deps) plan.acceptedDeps.set(importer, (deps = new Set()));
        deps.add(node);
      } else {
        visit(importer, origin);
      }
    }
  };

  for (const node of changed) visit(node, node);
  // A boundary that is itself re-executed (reached on another path) imports the new deps anyway.
  for (const boundary of plan.acceptedDeps.keys()) {
    if (plan.reexecute.has(boundary)) plan.acceptedDeps.delete(boundary);
  }
  return plan;
}

/** Set `node.imports` to `deps` and keep every importer set in step. */
export function relink(node: ModuleNode, deps: Iterable<ModuleNode>): ModuleNode[] {
  const next = new Set(deps);
  for (const rt of node.runtimeImports) next.add(rt);
  const dropped: ModuleNode[] = [];
  for (const old of node.imports) {
    if (!next.has(old)) {
      old.importers.delete(node);
      dropped.push(old);
    }
  }
  for (const dep of next) {
    node.imports.add(dep);
    dep.importers.add(node);
  }
  for (const old of dropped) node.imports.delete(old);
  return dropped;
}

/** Add a run-time edge (`import()` / `require()`), so a change to `dep` reaches `node`. */
export function addRuntimeEdge(node: ModuleNode, dep: ModuleNode): void {
  node.addRuntimeImport(dep);
  node.imports.add(dep);
  dep.importers.add(node);
}
