/**
 * Discovery: read a module's file, compile it, resolve its imports, and stage the new version in
 * the transaction; then the same for every module it imports that the graph does not have yet.
 * Nothing runs here. `discover()` works on many modules at once (the start, an update);
 * `discoverSync()` is its synchronous twin for `require()` of a user file. Both stage the version
 * in the transaction, and differ only in how they compile and load native modules. What a
 * CommonJS module requires is compiled ahead here, concurrently (prefetch.ts).
 */
import { readFileSync } from 'node:fs';
import { DevhotError, ErrorCodes } from '../errors.js';
import { sourceHash } from '../shared/source-hash.js';
import type { CompiledModule } from './compile.js';
import { ModuleNode } from './graph.js';
import { importNative, importNativeSync } from './native.js';
import { checkAttributes } from './import-attributes.js';
import type { ResolveResult } from './resolve.js';
import type { RunnerState } from './state.js';
import { LoadError, type Transaction } from './transaction.js';
import { SafePromise, safeSetTimeout } from './intrinsics.js';
import { prefetchRequires } from './prefetch.js';
import { atImportSite } from './import-site.js';
import { fromPack, stampFor } from './pack-lookup.js';
import type { PackLink } from './start-pack.js';

/** A dependency Node loads itself, before it is loaded. */
interface NativeRef {
  id: string;
  specifier: string;
  attributes: Record<string, string> | undefined;
}

/**
 * Compile `nodes` from disk (when `force`, or never compiled) and everything new they import,
 * concurrently. A work list rather than nested awaits, so import cycles cannot deadlock it.
 */
export function discover(txn: Transaction, nodes: Iterable<ModuleNode>, force: boolean): Promise<void> {
  return txn.state.resolver.batch(() => discoverAll(txn, nodes, force));
}

async function discoverAll(txn: Transaction, nodes: Iterable<ModuleNode>, force: boolean): Promise<void> {
  const inflight = new Set<Promise<void>>();
  const track = (task: Promise<void>): void => {
    inflight.add(task);
    task.then(
      () => inflight.delete(task),
      () => {},
    );
  };
  /** Files compiled ahead for a CommonJS module's require() (prefetch.ts). */
  const prefetched = new Set<string>();
  const start = (node: ModuleNode, forced: boolean): void => {
    if (txn.discovering.has(node)) return;
    if (!forced && txn.versionOf(node)) return;
    const task = discoverOne(txn, node).then((deps) => {
      for (const dep of deps) if (dep instanceof ModuleNode) start(dep, false);
      const compiled = txn.staged.get(node)?.compiled;
      if (compiled) prefetchRequires(txn, node.file, compiled, prefetched, track);
    });
    txn.discovering.set(node, task);
    track(task);
  };
  for (const node of nodes) start(node, force);
  while (inflight.size > 0) await SafePromise.all(inflight);
}

async function discoverOne(txn: Transaction, node: ModuleNode): Promise<Array<ModuleNode | object>> {
  const { state } = txn;
  let source: string | undefined;
  let compiled: CompiledModule;
  try {
    const packed = fromPack(state, node.file);
    if (packed) compiled = packed;
    else {
      const stamp = stampFor(state, node.file);
      source = await readSettled(state, node);
      compiled = await state.compiler.compile(node.file, source, stamp);
    }
  } catch (error) {
    throw new LoadError('transform', error, node.file);
  }
  const refs = resolveDependencies(txn, node, () => source ?? sourceForError(node.file), compiled, 'import');
  const deps = await SafePromise.all(
    refs.map((ref) =>
      ref instanceof ModuleNode
        ? ref
        : importNative(state.nativeCache, ref.id, ref.attributes).catch((error: unknown) => {
            throw new LoadError('link', error, node.file);
          }),
    ),
  );
  txn.stage(node, compiled, deps);
  return deps;
}

/** The synchronous twin of discover(), for require() of a user file. */
export function discoverSync(txn: Transaction, node: ModuleNode): void {
  if (txn.versionOf(node)) return;
  const { state } = txn;
  let source: string | undefined;
  let compiled: CompiledModule;
  try {
    // Read already if it was compiled ahead (prefetch.ts): once per transaction, as discover() reads.
    const ahead = txn.readAhead.get(node.file);
    txn.readAhead.delete(node.file);
    const packed = ahead === undefined ? fromPack(state, node.file) : undefined;
    if (packed) compiled = packed;
    else {
      // Compiled ahead, its stamp was noted then.
      const stamp = ahead === undefined ? stampFor(state, node.file) : undefined;
      source = ahead ?? readSource(node.file);
      noteSource(state, node.file, source);
      compiled = state.compiler.compileSync(node.file, source, stamp);
    }
  } catch (error) {
    throw new LoadError('transform', error, node.file);
  }
  // An ES module's imports resolve with Node's import conditions, also when require() loads it.
  const refs = resolveDependencies(
    txn,
    node,
    () => source ?? sourceForError(node.file),
    compiled,
    compiled.format === 'cjs' ? 'require' : 'import',
  );
  const deps = refs.map((ref) => {
    if (ref instanceof ModuleNode) return ref;
    try {
      return importNativeSync(txn.state.nativeCache, ref.id, node.file, ref.specifier, txn.state.formatOf);
    } catch (error) {
      throw new LoadError('link', error, node.file);
    }
  });
  txn.stage(node, compiled, deps);
  for (const dep of deps) if (dep instanceof ModuleNode) discoverSync(txn, dep);
}

/**
 * Resolve every static import of `node`: a user module's node, or what Node must load. In a
 * start, a relative import of a module taken from the start pack is its link there while the
 * directory that answered it keeps its stamp (start-pack.ts, PackLink), and every import a
 * directory's listing alone answered is noted for the next pack.
 */
function resolveDependencies(
  txn: Transaction,
  node: ModuleNode,
  source: () => string,
  compiled: CompiledModule,
  kind: 'import' | 'require',
): Array<ModuleNode | NativeRef> {
  const { compiler, resolver } = txn.state;
  const noting = compiler.noting;
  const packed = noting ? compiler.packedLinks(node.file) : undefined;
  const links: PackLink[] = [];
  let fromPack = 0;
  const deps = compiled.deps.map(({ specifier, attributes }) => {
    let resolved: ResolveResult;
    let link = packed?.find((l) => l.specifier === specifier);
    try {
      if (link) {
        resolved = { kind: 'user', file: link.file };
        fromPack++;
      } else {
        resolved = resolver.resolve(specifier, node.file, kind);
        if (noting) link = resolver.linkOf(specifier, node.file, kind);
      }
    } catch (error) {
      throw new LoadError('link', atImportSite(error, node.file, source(), specifier), node.file);
    }
    if (link) links.push(link);
    if (resolved.kind !== 'user') return { id: resolved.kind === 'builtin' ? resolved.id : resolved.url, specifier, attributes };
    try {
      const warning = checkAttributes(resolved.file, attributes, node.file);
      if (warning) txn.state.warnOnce(node.file, warning);
    } catch (error) {
      throw new LoadError('link', error, node.file);
    }
    return txn.node(resolved.file);
  });
  if (noting) compiler.noteLinks(node.file, links, fromPack);
  return deps;
}

/** The source of a module from the pack, read only for an error's code frame. */
function sourceForError(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function readSource(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DevhotError(
      ErrorCodes.RESOLVE,
      code === 'ENOENT' ? `${file} does not exist (deleted or renamed?)` : `Cannot read ${file}: ${(error as Error).message}`,
      { fix: 'Restore the file, or remove the imports of it.', cause: error },
    );
  }
}

/** How long a file that went empty may take to get its content back (an editor mid-save). */
const EMPTY_WAIT_MS = 100;

/**
 * Editors and shells save by truncating, then writing. A module that had code and reads empty
 * is most likely caught between the two (this process reads the file some time after the
 * watcher saw it, and the next save may be truncating it right then), so wait briefly for the
 * content rather than run an empty module. A file that stays empty is taken as it is. "Had code"
 * is what was last read, not what last ran: an entry whose start failed has no version, and a
 * save of it read mid-write once started the app on an empty module.
 */
async function readSettled(state: RunnerState, node: ModuleNode): Promise<string> {
  let source = readSource(node.file);
  if (source.length === 0 && state.hadSource.has(node.file)) {
    const deadline = Date.now() + EMPTY_WAIT_MS;
    while (source.length === 0 && Date.now() < deadline) {
      await new SafePromise((resolve) => safeSetTimeout(resolve, 5));
      source = readSource(node.file);
    }
  }
  noteSource(state, node.file, source);
  return source;
}

/**
 * Remember whether `file` had content (a failed start's node is forgotten, so not on the node),
 * and what a file outside the root held (RunnerState.outsideSources).
 */
function noteSource(state: RunnerState, file: string, source: string): void {
  if (source.length > 0) state.hadSource.add(file);
  else state.hadSource.delete(file);
  if (!file.startsWith(state.rootPrefix)) state.outsideSources.set(file, sourceHash(source));
}
