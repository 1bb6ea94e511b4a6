/**
 * One transaction: what an update (or the start, or a run-time `import()`) has changed in the
 * graph so far, kept apart until it ends. New versions are staged, nodes it created are noted,
 * and each node that gets a new instance remembers the one it had: `commit()` makes it all
 * current, `rollback()` puts every node back as it was, so the last good code keeps running.
 */
import type { FailurePhase } from '../shared/results.js';
import type { CompiledModule } from './compile.js';
import { ModuleNode, relink, type ModuleVersion } from './graph.js';
import type { ModuleInstance } from './instance.js';
import { syncNamespace } from './instance.js';
import type { RunnerState } from './state.js';

/** An error with the phase it happened in and the file it concerns, so the result can say what failed. */
export class LoadError extends Error {
  constructor(
    readonly phase: FailurePhase,
    readonly error: unknown,
    readonly file: string | undefined,
  ) {
    super(error instanceof Error ? error.message : String(error));
  }
}

export class Transaction {
  /** New compiled versions, not yet committed. */
  readonly staged = new Map<ModuleNode, ModuleVersion>();
  /** Nodes this transaction added to the graph. */
  readonly created = new Set<ModuleNode>();
  /** Nodes that get a new instance, with the instance they had before. */
  readonly previous = new Map<ModuleNode, ModuleInstance | undefined>();
  /** Modules that called `import.meta.hot.invalidate()` while this transaction ran. */
  readonly invalidated = new Map<ModuleNode, string | undefined>();
  /** Discoveries under way (see discover.ts), so a module is read and compiled once. */
  readonly discovering = new Map<ModuleNode, Promise<void>>();

  constructor(
    readonly state: RunnerState,
    /** Nodes that must be re-instantiated even though their code may not have changed. */
    readonly reexecute: Set<ModuleNode> = new Set(),
  ) {}

  /** The node of `file`, created (and noted as created) if the graph has none. */
  node(file: string): ModuleNode {
    let node = this.state.nodes.get(file);
    if (!node) {
      node = new ModuleNode(file);
      this.state.nodes.set(file, node);
      this.created.add(node);
    }
    return node;
  }

  versionOf(node: ModuleNode): ModuleVersion | undefined {
    return this.staged.get(node) ?? node.version;
  }

  needsInstance(node: ModuleNode): boolean {
    return this.reexecute.has(node) || !node.instance || node.instance.status === 'errored';
  }

  /** A new compiled version of `node`, with its dependencies resolved: it will get a new instance. */
  stage(node: ModuleNode, compiled: CompiledModule, deps: Array<ModuleNode | object>, emptySource: boolean): void {
    this.staged.set(node, { compiled, deps, number: node.versions + 1, emptySource });
    this.reexecute.add(node);
  }

  /** Make the staged versions current and return the modules no longer imported by anyone. */
  commit(): ModuleNode[] {
    const orphans: ModuleNode[] = [];
    for (const [node, version] of this.staged) {
      node.version = version;
      node.versions = version.number;
      const dropped = relink(
        node,
        version.deps.filter((d): d is ModuleNode => d instanceof ModuleNode),
      );
      orphans.push(...dropped);
    }
    for (const [node, old] of this.previous) {
      if (old && old !== node.instance) old.hot.detach();
    }
    return orphans;
  }

  /** Put every node back on the instance it had, and drop what this transaction added. */
  async rollback(): Promise<void> {
    const discarded: ModuleInstance[] = [];
    for (const [node, old] of this.previous) {
      if (node.instance && node.instance !== old) discarded.push(node.instance);
      node.instance = old;
      syncNamespace(node);
    }
    for (const node of this.created) {
      if (!node.version) {
        this.state.nodes.delete(node.file);
        this.state.stacks.unregisterFile(node.file);
      }
    }
    // The new instances may have started timers or servers before the failure: let them clean up.
    for (const instance of discarded) {
      await instance.hot.runDisposers();
      instance.hot.detach();
    }
  }
}
