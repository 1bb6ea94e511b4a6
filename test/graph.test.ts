/**
 * The module graph in memory: edges kept in step by relink(), and planUpdate() walking importers
 * up to accepting boundaries, with reasons instead of booleans.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModuleNode, addRuntimeEdge, planUpdate, relink } from '../src/runner/graph.js';
import type { ModuleInstance } from '../src/runner/instance.js';

const ROOT = '/p';

interface HotFlags {
  selfAccepting?: boolean;
  declined?: boolean;
  accepts?: string[];
}

/** A graph from `{ file: [imports] }`, with optional hot flags per file. */
function graph(edges: Record<string, string[]>, hot: Record<string, HotFlags> = {}): Map<string, ModuleNode> {
  const nodes = new Map<string, ModuleNode>();
  const node = (name: string) => {
    let n = nodes.get(name);
    if (!n) nodes.set(name, (n = new ModuleNode(`${ROOT}/${name}`)));
    return n;
  };
  for (const [name, deps] of Object.entries(edges)) relink(node(name), deps.map(node));
  for (const [name, flags] of Object.entries(hot)) {
    const accepted = new Set((flags.accepts ?? []).map((d) => `${ROOT}/${d}`));
    node(name).instance = {
      hotInUse: { selfAccepting: !!flags.selfAccepting, declined: !!flags.declined, acceptsDep: (f: string) => accepted.has(f) },
    } as unknown as ModuleInstance;
  }
  return nodes;
}

const names = (set: Iterable<ModuleNode>) => [...set].map((n) => n.file.slice(ROOT.length + 1)).sort();

describe('relink', () => {
  it('keeps importers and imports in step and returns the dropped deps', () => {
    const g = graph({ main: ['a', 'b'], a: ['b'] });
    const [main, a, b] = ['main', 'a', 'b'].map((k) => g.get(k)!);
    assert.deepEqual(names(b!.importers), ['a', 'main']);
    const dropped = relink(main!, [a!]);
    assert.deepEqual(names(dropped), ['b']);
    assert.deepEqual(names(main!.imports), ['a']);
    assert.deepEqual(names(b!.importers), ['a']);
  });

  it('keeps run-time edges (import(), require()) across versions', () => {
    const g = graph({ main: ['a'], lazy: [] });
    const main = g.get('main')!;
    addRuntimeEdge(main, g.get('lazy')!);
    assert.deepEqual(names(relink(main, [])), ['a']);
    assert.deepEqual(names(main.imports), ['lazy']);
    assert.deepEqual(names(g.get('lazy')!.importers), ['main']);
  });
});

describe('planUpdate', () => {
  it('without a boundary, walks up to the entry and says why', () => {
    const g = graph({ main: ['mid', 'side'], mid: ['leaf'], leaf: [], side: [] });
    const plan = planUpdate([g.get('leaf')!], { entry: g.get('main'), root: ROOT });
    assert.deepEqual(names(plan.reexecute), ['leaf', 'main', 'mid']);
    assert.equal(plan.entryReason, 'leaf has no accepting importer');
    assert.equal(plan.restartReason, undefined);
  });

  it('editing the entry itself names the entry', () => {
    const g = graph({ main: [] });
    assert.equal(planUpdate([g.get('main')!], { entry: g.get('main'), root: ROOT }).entryReason, 'main is the entry');
  });

  it('a self-accepting module stops the walk', () => {
    const g = graph({ main: ['routes'], routes: ['leaf'], leaf: [] }, { routes: { selfAccepting: true } });
    const plan = planUpdate([g.get('leaf')!], { entry: g.get('main'), root: ROOT });
    assert.deepEqual(names(plan.reexecute), ['leaf', 'routes']);
    assert.deepEqual(names(plan.selfAccepted), ['routes']);
    assert.equal(plan.entryReason, undefined);
  });

  it('an importer accepting the dep is a boundary and is not re-executed', () => {
    const g = graph({ main: ['dep'], dep: [] }, { main: { accepts: ['dep'] } });
    const plan = planUpdate([g.get('dep')!], { entry: g.get('main'), root: ROOT });
    assert.deepEqual(names(plan.reexecute), ['dep']);
    assert.deepEqual(
      [...plan.acceptedDeps].map(([b, d]) => [names([b])[0], names(d)]),
      [['main', ['dep']]],
    );
  });

  it('a boundary also reached on a path without a boundary is re-executed, not called back', () => {
    // dep → main (accepted) and dep → other → main (not accepted): main re-executes anyway.
    const g = graph({ main: ['dep', 'other'], other: ['dep'], dep: [] }, { main: { accepts: ['dep'] } });
    const plan = planUpdate([g.get('dep')!], { entry: g.get('main'), root: ROOT });
    assert.deepEqual(names(plan.reexecute), ['dep', 'main', 'other']);
    assert.equal(plan.acceptedDeps.size, 0);
    assert.match(plan.entryReason ?? '', /dep has no accepting importer/);
  });

  it('a declined module asks for a restart, with the reason', () => {
    const g = graph({ main: ['db'], db: [] }, { db: { declined: true } });
    assert.equal(planUpdate([g.get('db')!], { entry: g.get('main'), root: ROOT }).restartReason, 'db called import.meta.hot.decline()');
  });

  it('a declined importer on the way also asks for a restart', () => {
    const g = graph({ main: ['db'], db: ['leaf'], leaf: [] }, { db: { declined: true } });
    assert.match(planUpdate([g.get('leaf')!], { entry: g.get('main'), root: ROOT }).restartReason ?? '', /db/);
  });

  it('ignored self-accepts and accepts send the update further', () => {
    const g = graph({ main: ['mid'], mid: ['leaf'], leaf: [] }, { leaf: { selfAccepting: true }, mid: { accepts: ['leaf'] } });
    const leaf = g.get('leaf')!;
    const plan = planUpdate([leaf], {
      entry: g.get('main'),
      root: ROOT,
      ignoreSelfAccept: new Set([leaf]),
      ignoreAccept: new Set([`${ROOT}/mid\0${ROOT}/leaf`]),
    });
    assert.deepEqual(names(plan.reexecute), ['leaf', 'main', 'mid']);
  });

  it('terminates on cycles', () => {
    const g = graph({ main: ['a'], a: ['b'], b: ['a'] });
    const plan = planUpdate([g.get('b')!], { entry: g.get('main'), root: ROOT });
    assert.deepEqual(names(plan.reexecute), ['a', 'b', 'main']);
  });

  it('a module that nobody imports and is not the entry re-executes alone, without an entry reason', () => {
    const g = graph({ main: [], stray: [] });
    const plan = planUpdate([g.get('stray')!], { entry: g.get('main'), root: ROOT });
    assert.deepEqual(names(plan.reexecute), ['stray']);
    assert.equal(plan.entryReason, undefined);
  });
});
