/**
 * Import bindings at run time. Each import of an ES module instance is a `let` of its compiled
 * code (see instance.ts, `compileBody`), declared in a scope of its own that the runner resumes
 * once the binding it resolves to is initialised: until then the `let` is in its TDZ, exactly
 * as Node's import binding would be. Afterwards it follows that binding: the exporter tells the
 * runner when an exported binding changes (`__dh__.u`), and each follower's setter is called.
 *
 * A hot update re-points the followers that keep their instance (boundaries that accepted the
 * update): `rebind()` resolves their imports again against the new instances.
 */
import type { ModuleNode } from './graph.js';
import type { Binding, BindingTarget, ModuleInstance } from './instance.js';
import { scopeOf } from './module-wrapper.js';
import { namespaceTarget, requested, resolveExport, sameTarget } from './resolve-export.js';

/** The current value of what a binding resolves to (throws a TDZ ReferenceError like the binding would). */
export function currentValue(target: BindingTarget): unknown {
  switch (target.kind) {
    case 'local':
      return target.instance.getter!(target.local);
    case 'namespace':
      return target.node.namespace;
    case 'native':
      return target.name === null ? target.ns : target.ns[target.name];
    case 'synthetic':
      // Undefined before the module has run, as Node's namespace of a CommonJS module reads then.
      return target.instance.synthetic?.[target.name];
    default: {
      const unknown: never = target;
      return unknown;
    }
  }
}

function isReady(target: BindingTarget): boolean {
  if (target.kind === 'local') return target.instance.initialized[target.local] === true;
  if (target.kind === 'synthetic') return target.instance.synthetic !== undefined;
  return true;
}

/** What import `k` of `instance` resolves to now (the link step has checked that it resolves). */
export function targetOf(instance: ModuleInstance, k: number): BindingTarget | undefined {
  const entry = instance.version.compiled.module!.imports[k]!;
  const dep = requested(instance, entry.request);
  if (!dep) return undefined;
  if (entry.name === null) return namespaceTarget(dep);
  const resolution = resolveExport(dep, entry.name);
  return resolution === null || resolution === 'ambiguous' ? undefined : resolution;
}

/**
 * Make the bindings of a linked instance and initialise those whose target is initialised;
 * `targets`, what its imports resolve to, as the link step's check found them.
 */
export function bindImports(instance: ModuleInstance, targets: ReadonlyArray<BindingTarget | undefined>): void {
  const imports = instance.version.compiled.module?.imports ?? [];
  instance.bindings = imports.map((_, k): Binding => ({ owner: instance, index: k, target: targets[k], setter: undefined }));
  // Known before any is attached: one that is ready at once must not resume the shared scope alone.
  if (imports.length > instance.scopes) instance.sharedPending = new Set(instance.bindings.slice(instance.scopes - 1));
  for (const binding of instance.bindings) attach(binding);
}

/** Initialise now if the target is initialised, else wait for it. */
function attach(binding: Binding): void {
  const target = binding.target;
  if (!target) return;
  if (isReady(target)) {
    initialize(binding);
    return;
  }
  if (target.kind === 'local') {
    const waiting = (target.instance.waiting[target.local] ??= new Set());
    waiting.add(binding);
  } else if (target.kind === 'synthetic') {
    (target.instance.syntheticWaiting ??= new Set()).add(binding);
  }
}

/**
 * Resume the binding's scope (its `let` runs, its setter registers), or set it if it was
 * initialised before. A scope shared by several bindings waits for all of them.
 */
function initialize(binding: Binding): void {
  const { owner } = binding;
  if (binding.setter) {
    binding.setter(currentValue(binding.target!));
    follow(binding);
  } else if (owner.sharedPending && scopeOf(binding.index, owner.scopes) === owner.scopes - 1) {
    owner.sharedPending.delete(binding);
    if (owner.sharedPending.size > 0) return;
    owner.sharedPending = undefined;
    resume(owner, owner.scopes - 1);
    for (const member of owner.bindings.slice(owner.scopes - 1)) for (const j of backedLocals(member)) initializedLocal(owner, j);
    return;
  } else {
    resume(owner, scopeOf(binding.index, owner.scopes));
  }
  for (const j of backedLocals(binding)) initializedLocal(owner, j);
}

function resume(instance: ModuleInstance, scope: number): void {
  instance.levels[scope]!.next();
  // That scope has run to its end: its `let` lives on in the setter's closure, not in the
  // finished generator (dropping both finished generators cut the heap after a start at 3,000
  // modules by 5.4 MB, 73.6 -> 68.2 MB).
  instance.levels[scope] = undefined;
}

/** Called by the compiled code (`__dh__.w`) when a binding's scope has run: it follows its target from now on. */
export function registerSetter(instance: ModuleInstance, k: number, setter: (value: unknown) => void): void {
  const binding = instance.bindings[k]!;
  binding.setter = setter;
  follow(binding);
}

function follow(binding: Binding): void {
  const target = binding.target;
  if (target?.kind === 'local') addSubscriber(target.instance, target.local, binding);
  else if (target?.kind === 'namespace') target.node.addNamespaceFollower(binding);
}

function addSubscriber(instance: ModuleInstance, j: number, binding: Binding): void {
  const current = instance.subscribers[j];
  if (current === undefined) instance.subscribers[j] = binding;
  else if (current instanceof Set) current.add(binding);
  else if (current !== binding) instance.subscribers[j] = new Set([current, binding]);
}

function removeSubscriber(instance: ModuleInstance, j: number, binding: Binding): void {
  const current = instance.subscribers[j];
  if (current === binding) instance.subscribers[j] = undefined;
  else if (current instanceof Set) current.delete(binding);
}

/** The bindings that follow exported local `j` of `instance`. */
export function subscribersOf(instance: ModuleInstance, j: number): Iterable<Binding> {
  const current = instance.subscribers[j];
  return current === undefined ? [] : current instanceof Set ? current : [current];
}

/** Exported locals of the binding's owner that are that binding (a namespace import exported again). */
function backedLocals(binding: Binding): number[] {
  const locals = binding.owner.version.compiled.module!.locals;
  const out: number[] = [];
  for (let j = 0; j < locals.length; j++) if (locals[j]!.importBinding === binding.index) out.push(j);
  return out;
}

/** `__dh__.n(j)`: an exported local is initialised; the bindings waiting for it initialise too. */
export function initializedLocal(instance: ModuleInstance, j: number): void {
  instance.initialized[j] = true;
  const waiting = instance.waiting[j];
  if (!waiting) return;
  instance.waiting[j] = undefined;
  for (const binding of waiting) initialize(binding);
}

/** `__dh__.u(j)`: exported locals changed; every follower gets the new value. */
export function changedLocals(instance: ModuleInstance, locals: number | number[]): void {
  for (const j of typeof locals === 'number' ? [locals] : locals) {
    if (!instance.initialized[j]) continue; // a var assigned before anyone could follow it
    const followers = instance.subscribers[j];
    if (followers === undefined || (followers instanceof Set && followers.size === 0)) continue;
    const value = instance.getter!(j);
    for (const binding of subscribersOf(instance, j)) binding.setter?.(value);
  }
}

/** A CommonJS or JSON module has run: its names are known, the bindings waiting for them initialise. */
export function syntheticReady(instance: ModuleInstance): void {
  const waiting = instance.syntheticWaiting;
  instance.syntheticWaiting = undefined;
  for (const binding of waiting ?? []) initialize(binding);
}

/** Stop following and waiting (the instance was replaced or discarded). */
export function unbind(instance: ModuleInstance): void {
  for (const binding of instance.bindings) detachFrom(binding);
}

function detachFrom(binding: Binding): void {
  const target = binding.target;
  if (target?.kind === 'local') {
    removeSubscriber(target.instance, target.local, binding);
    target.instance.waiting[target.local]?.delete(binding);
  } else if (target?.kind === 'namespace') {
    target.node.deleteNamespaceFollower(binding);
  } else if (target?.kind === 'synthetic') {
    target.instance.syntheticWaiting?.delete(binding);
  }
}

/**
 * After an update: a module whose exported names changed has a new namespace object (an exotic
 * object's keys are fixed), so the namespace imports that hold the old one get the new one.
 * `followed`: the nodes that have had namespace imports (a look at every node of the graph cost
 * ~0.15 ms an update at 3,000 modules; few have namespace imports).
 */
export function refreshNamespaces(followed: Set<ModuleNode>): void {
  for (const node of followed) {
    if (node.namespaceFollowers.size === 0) {
      followed.delete(node);
      continue;
    }
    const before = node.namespaceCache?.ns;
    const after = node.namespace;
    if (after === before) continue;
    for (const binding of node.namespaceFollowers) {
      binding.setter?.(after);
      for (const j of backedLocals(binding)) changedLocals(binding.owner, j);
    }
  }
}

/**
 * Resolve an instance's imports again, against the instances now current: a module that accepted
 * an update of a dependency keeps its instance, and its bindings move to the new one.
 */
export function rebind(instance: ModuleInstance): void {
  for (const binding of instance.bindings) {
    const next = targetOf(instance, binding.index);
    if (next && binding.target && sameTarget(next, binding.target)) continue;
    detachFrom(binding);
    binding.target = next;
    attach(binding);
    if (next && binding.setter) for (const j of backedLocals(binding)) changedLocals(instance, j);
  }
}
