/**
 * One transaction: what an update (or the start, or a run-time `import()`) has changed in the
 * graph so far, kept apart until it ends. New versions are staged, nodes it created are noted,
 * and each node that gets a new instance remembers the one it had: `commit()` makes it all
 * current, `rollback()` puts every node back as it was, so the last good code keeps running.
 */
import type { FailurePhase } from '../shared/results.js';
import type { CompiledModule } from './compile.js';
import { ModuleNode, relink, type ModuleVersion } from './graph.js';
import { rebind, refreshNamespaces, unbind } from './bindings.js';
import type { ModuleInstance } from './instance.js';
import { release } from './owned.js';
import type { RunnerState } from './state.js';
import { SafePromise } from './intrinsics.js';

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
  /** The instances this transaction made: their code's run-time loads join it. */
  readonly instances = new Set<ModuleInstance>();
  /** Instances that keep running but follow a replaced one: re-pointed when this commits. */
  readonly rebind = new Set<ModuleInstance>();
  /** Loads that joined (import() from this transaction's code): linked before it commits. */
  readonly joined = new Set<Promise<unknown>>();
  /** Modules that called `import.meta.hot.invalidate()` while this transaction ran. */
  readonly invalidated = new Map<ModuleNode, string | undefined>();
  /** Discoveries under way (see discover.ts), so a module is read and compiled once. */
  readonly discovering = new Map<ModuleNode, Promise<void>>();
  /**
   * Sources read to compile them ahead for a CommonJS module's require() (prefetch.ts), by file:
   * the require takes its file's from here (discover.ts) instead of reading it a second time.
   */
  readonly readAhead = new Map<string, string>();
  /** Committed or rolled back: loads that come later make transactions of their own. */
  ended = false;

  constructor(
    readonly state: RunnerState,
    /** Nodes that must be re-instantiated even though their code may not have changed. */
    readonly reexecute: Set<ModuleNode> = new Set(),
  ) {}

  /** The node of `file`, created (and noted as created) if the graph has none. */
  node(file: string): ModuleNode {
    let node = this.state.nodes.get(file);
    if (!node) {
      node = new ModuleNode(file, this.state.namespaceFollowed);
      this.state.nodes.set(file, node);
      this.created.add(node);
    }
    return node;
  }

  versionOf(node: ModuleNode): ModuleVersion | undefined {
    return this.staged.get(node) ?? node.version;
  }

  needsInstance(node: ModuleNode): boolean {
    return this.reexecute.has(node) || !node.instance || (node.instance.hasError && !this.instances.has(node.instance));
  }

  /** A new compiled version of `node`, with its dependencies resolved: it will get a new instance. */
  stage(node: ModuleNode, compiled: CompiledModule, deps: Array<ModuleNode | object>): void {
    this.staged.set(node, { compiled, deps, number: node.versions + 1 });
    this.reexecute.add(node);
  }

  /** Wait until the loads that joined are linked (their evaluation goes on by itself). */
  async settleJoined(): Promise<void> {
    while (this.joined.size > 0) {
      const loads = [...this.joined];
      this.joined.clear();
      await SafePromise.allSettled(loads);
    }
  }

  /**
   * Make the staged versions current, re-point the instances that followed replaced ones, and
   * return the modules no longer imported by anyone.
   */
  commit(): ModuleNode[] {
    this.ended = true;
    // A require that comes later reads its file as it is then.
    this.readAhead.clear();
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
    for (const instance of this.rebind) if (instance.node.instance === instance) rebind(instance);
    for (const [node, old] of this.previous) {
      if (old && old !== node.instance) {
        unbind(old);
        old.hotInUse?.detach();
        this.state.released(release(old.owned));
      }
    }
    // A node a failed load made, with nothing to run: it was never there.
    for (const node of this.created) if (!node.version && !node.instance) this.forget(node);
    refreshNamespaces(this.state.namespaceFollowed);
    return orphans;
  }

  /** Put every node back on the instance it had, and drop what this transaction added. */
  async rollback(): Promise<void> {
    this.ended = true;
    this.readAhead.clear();
    const discarded: ModuleInstance[] = [];
    for (const [node, old] of this.previous) {
      if (node.instance && node.instance !== old) discarded.push(node.instance);
      node.instance = old;
    }
    for (const instance of discarded) unbind(instance);
    for (const node of this.created) if (!node.version) this.forget(node);
    // The new instances may have started timers or servers before the failure: let them clean up.
    for (const instance of discarded) {
      await instance.hotInUse?.runDisposers();
      instance.hotInUse?.detach();
      release(instance.owned);
    }
  }

  private forget(node: ModuleNode): void {
    this.state.nodes.delete(node.file);
    this.state.stacks.unregisterFile(node.file);
  }
}
