/**
 * One instance of a module: an evaluation of one compiled version, with the fields ECMA-262's
 * Cyclic Module Records have (status, DFS indexes, cycle root, async evaluation order, pending
 * async dependencies), so link and evaluate can follow the spec's algorithms (link.ts,
 * evaluate.ts). A hot update makes new instances; the old ones stay whole until the update
 * commits, so a failed update can put them back.
 *
 * What an ES module instance holds of its bindings:
 * - `getter`: the values of its exported local bindings by index (registered by the body's first
 *   step), read by namespaces and when importers must be told a value;
 * - `bindings`: its own imports, each a real `let` of the compiled code, initialised from the
 *   binding it resolves to (when that one is initialised) and kept equal to it afterwards.
 */
import vm from 'node:vm';
import type { ModuleNode, ModuleVersion } from './graph.js';
import type { HotContext } from './hot.js';
import type { OwnedResources } from './owned.js';
import type { CompiledModule } from './compile.js';
import { laidAlike, scriptOf } from './module-wrapper.js';

export type InstanceStatus = 'linking' | 'linked' | 'evaluating' | 'evaluating-async' | 'evaluated';
type ModuleBody = Generator<unknown, void> | AsyncGenerator<unknown, void>;

/** A compiled module: an ES module's outermost binding scope, or a CommonJS file's wrapper. */
export type CompiledBody = (this: unknown, ...args: unknown[]) => unknown;

/** What an import binding resolves to (ResolvedBinding, §16.2.1.6.3). */
export type BindingTarget =
  /** An exported binding of an ES module instance (its `getter(local)`). */
  | { kind: 'local'; instance: ModuleInstance; local: number }
  /** The namespace of a user module (`import * as ns`, `export * as ns`). */
  | { kind: 'namespace'; node: ModuleNode }
  /** A name of a module Node loaded (null: its namespace). */
  | { kind: 'native'; ns: Record<string, unknown>; name: string | null }
  /** A name of a CommonJS or JSON user module: known once it has run. */
  | { kind: 'synthetic'; instance: ModuleInstance; name: string };

/** One import binding of an instance. */
export interface Binding {
  readonly owner: ModuleInstance;
  /** Its index: the binding scope that declares it, and its entry in the module's imports. */
  readonly index: number;
  target: BindingTarget | undefined;
  /** Set once the binding is initialised: writes the compiled code's `let`. */
  setter: ((value: unknown) => void) | undefined;
}

/** What rewritten code sees as `__dh__` (see rewrite.ts for who calls what). */
export interface ModuleRuntime {
  /** Register the getter of the exported local bindings: their values by index in ModuleInfo.locals. */
  e(getter: (j: number) => unknown): void;
  /** Exported local binding `j` is initialised (after its declaration ran). */
  n(j: number): void;
  /** Exported local binding `j` changed; returns `value`. */
  u(j: number, value?: unknown): unknown;
  /** The value import binding `k` starts with. */
  v(k: number): unknown;
  /** Import binding `k`'s setter. */
  w(k: number, setter: (value: unknown) => void): void;
  /** Assignment target for an imported binding: its setter throws Node's TypeError. */
  k: object;
  /** `arguments` at the top level of a module: a ReferenceError unless a global has that name. */
  g: object;
  /** `import.meta` */
  m: object;
  /** `import()` */
  i(specifier: unknown, options?: unknown): Promise<unknown>;
}

/** A promise with its settle functions (PromiseCapability). */
export interface Capability {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

export class ModuleInstance {
  /** Unique per runner: names this instance to Node's loader (native-loads.ts). */
  id = 0;
  status: InstanceStatus = 'linking';
  /** [[EvaluationError]]: once set, every evaluation of this instance throws it again. */
  hasError = false;
  error: unknown;
  dfsIndex = -1;
  dfsAncestorIndex = -1;
  cycleRoot: ModuleInstance | undefined;
  /** [[AsyncEvaluationOrder]]: unset, a number while its async evaluation is pending, or done. */
  asyncOrder: 'unset' | number | 'done' = 'unset';
  topLevelCapability: Capability | undefined;
  asyncParents: ModuleInstance[] = [];
  pendingAsyncDependencies = 0;

  /** The binding scopes of the compiled code (ES modules): resumed one by one as bindings initialise. */
  levels: Array<Generator<unknown, void> | undefined> = [];
  /** How many binding scopes its compiled code has (module-wrapper.ts, `scopeCount`). */
  scopes = 0;
  /**
   * When imports share the last scope (a shared layout, or past MAX_SCOPES imports), those not
   * initialised yet: that scope is resumed once none is left (bindings.ts).
   */
  sharedPending: Set<Binding> | undefined;
  body: ModuleBody | undefined;
  getter: ((j: number) => unknown) | undefined = undefined;
  // The next four are indexed by local (ModuleInfo.locals) or import, and made at their size:
  // grown by `push` or `a[j] = …`, an array takes room for 16 more, ~136 bytes each of the ~8
  // arrays a module kept (4.4 MB of the app's 62 MB of live heap at 3,000 modules).
  /** Which exported local bindings are initialised. */
  initialized: boolean[];
  /** Bindings of other instances waiting for a local binding of this one to be initialised. */
  waiting: Array<Set<Binding> | undefined>;
  /**
   * Bindings of other instances that follow a local binding of this one: the one binding alone,
   * or a Set once there are more (most exports have one importer, and a Set is ~160 bytes:
   * 0.9 MB at 3,000 modules). Read through bindings.ts's `subscribersOf`.
   */
  subscribers: Array<Binding | Set<Binding> | undefined>;
  /** One per import (bindImports). */
  bindings: Binding[] = [];
  /** CommonJS and JSON: the names importers see, taken once the module has run (as Node does). */
  synthetic: Record<string, unknown> | undefined;
  /** Bindings waiting for `synthetic`. */
  syntheticWaiting: Set<Binding> | undefined;
  /** What this instance left running in the process (owned.ts), released when it is replaced. */
  owned: OwnedResources | undefined;
  /** A CommonJS file's compiled wrapper, called when the instance evaluates. */
  cjsFn: CompiledBody | undefined;
  cjsModule: { exports: unknown; [key: string]: unknown } | undefined;
  /**
   * The instance this one replaces, only while this one has not finished evaluating: code of the
   * previous version that reads this module's namespace meanwhile (a request handler, while this
   * module awaits at its top level) gets the old values of bindings this one has not initialised
   * yet, instead of their TDZ. Cleared as soon as evaluation ends, so no chain of versions is kept.
   */
  previous: ModuleInstance | undefined;

  #hot: HotContext | undefined;

  /** `hotOf` makes the instance's `import.meta.hot`, the first time anyone asks for it. */
  constructor(
    readonly node: ModuleNode,
    readonly version: ModuleVersion,
    private readonly hotOf: (node: ModuleNode) => HotContext,
  ) {
    const locals = version.compiled.module?.locals.length ?? 0;
    this.initialized = new Array<boolean>(locals).fill(false);
    this.waiting = new Array(locals);
    this.subscribers = new Array(locals);
  }

  /**
   * `import.meta.hot`, made when first asked for: most modules never read it, and a context with
   * its bound methods and its host was ~1.2 KB per module (3.6 MB at 3,000 modules).
   */
  get hot(): HotContext {
    this.#hot ??= this.hotOf(this.node);
    return this.#hot;
  }

  /** The hot context if one was made: what has no context registered no handler, accept or listener. */
  get hotInUse(): HotContext | undefined {
    return this.#hot;
  }

  /** [[HasTLA]] */
  get hasTLA(): boolean {
    return this.version.compiled.async;
  }
}

/**
 * Compile a module's code into a function. An ES module becomes nested generators, one per
 * import binding (up to MAX_SCOPES; the rest share the last), around the module's own body, or
 * with `shared` one generator for all its imports (module-wrapper.ts, `scopeCount`, says when):
 *
 *   (function* (__dh__) { yield (function* () { … yield (function* () { <the module> }); let b1 = …; }); let b0 = …; })
 *
 * Each binding is a `let` declared after a `yield`: it stays in its TDZ until the runner resumes
 * that scope (when the exporter's binding is initialised), then the module reads it as a plain
 * variable, and the runner keeps it equal to the exporter's binding through the setter the scope
 * registers. The openings sit on the header line, which `lineOffset` hides, and the declarations
 * after the last line, so code lines keep their numbers.
 *
 * The parentheses tell V8 the functions are called at once: it compiles them with the outer one
 * instead of pre-parsing them and compiling each at its first call, and a code cache made right
 * after the compile (a save's: `compileFunction`) holds them too. Without them a warm start of
 * 3,000 modules compiled every generator level again (~360 ms of its CPU profile, against ~50 ms
 * with them); warm start() 1,055-1,082 -> 993-1,035 ms with function caches, and with a start's
 * script caches the main thread's CPU 1,020 -> 890 ms at the median of 6 runs alternating
 * (runner bench project, Node 20, 2 cores, 2026-11-30). Not past EAGER_LEVELS bindings: V8
 * compiles nested functions eagerly by recursion, and 400 levels overflowed the stack where
 * lazily they did not.
 *
 * A code cache V8 rejects (made under other V8 flags) is made again, and `onCacheRejected` told,
 * so the disk cache gets the new one.
 */
export function compileBody(
  version: ModuleVersion,
  filename: string,
  sourceMapComment: string,
  nativeImports = false,
  onCacheRejected?: (compiled: CompiledModule) => void,
  shared = false,
): CompiledBody {
  const { compiled } = version;
  const script = scriptOf(compiled, shared);
  // Not with an inline source map (--inspect): that source is another one each run.
  const cacheable = sourceMapComment === '';
  // A script and code cache made for the other layout (the module joined or left an import
  // cycle) are no use: compiled without, and written again.
  const sameLayout = laidAlike(compiled, compiled.sharedScope === true, shared);
  const relaid = compiled.sharedScope !== undefined && !sameLayout;
  const stored = cacheable && sameLayout ? compiled.codeCache : undefined;
  // The first version as a script, later ones as functions (see `compileScript`); a first version
  // whose cache a save wrote, as the function it was.
  const asScript = version.number === 1 && !(stored && compiled.codeCacheKind === 'function');
  const codeCache = stored && (compiled.codeCacheKind === 'script') === asScript ? stored : undefined;
  // Used (or rejected: another V8, other flags) it is not needed again.
  compiled.codeCache = undefined;
  compiled.sharedScope = shared;
  // The header sits on a line of its own, which `lineOffset` hides, so code lines keep their numbers.
  // A script as it is: the string read from the disk cache, not a copy (module-wrapper.ts).
  const prefix = asScript ? '' : 'return ';
  const source = prefix === '' && sourceMapComment === '' ? script.text : `${prefix}${script.text}${sourceMapComment}`;
  const options = {
    filename,
    lineOffset: -1,
    // The module's own import() goes to the runner (rewrite.ts); one inside eval code, which the
    // rewrite never sees, goes to Node's loader, whose hooks hand user files to the runner.
    ...(nativeImports ? { importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER } : {}),
  };
  const input: CompileInput = { compiled, source, options, codeCache, cacheable };
  const outer = asScript ? compileScript(input) : compileFunction(input);
  if (input.rejected || (relaid && cacheable)) onCacheRejected?.(compiled);
  // The code once, not twice: V8 keeps the function's source (flattened into one string), and a
  // slice of it shares its characters, where `compiled.code` was a copy of its own (heap after a
  // warm start of 3,000 modules: 62.2 -> 57.7 MB; Node 20, 2026-11-30).
  const codeAt = prefix.length + script.codeAt;
  compiled.code = source.slice(codeAt, codeAt + compiled.code.length);
  // Kept for the disk cache, which writes the script (a function's is made again then): the same
  // string V8 keeps.
  compiled.script = asScript && cacheable ? { text: source, codeAt, shared } : undefined;
  return outer;
}

/** What compileScript and compileFunction compile: `codeCache` to use, or none (`cacheable`: make one). */
interface CompileInput {
  compiled: CompiledModule;
  source: string;
  options: { filename: string; lineOffset: number; importModuleDynamically?: number };
  codeCache: Buffer | undefined;
  cacheable: boolean;
  /** Set when V8 rejected `codeCache`: made with other V8 flags (a NODE_OPTIONS flag), or damaged. */
  rejected?: boolean;
}

/**
 * A module's first version: a vm.Script, whose V8 code cache can be made at any time
 * (`createCachedData`). compile-cache.ts makes it when it writes the module, after the start:
 * made right after each compile (compileFunction's `produceCachedData`), 3,000 caches cost the
 * main thread of an empty-cache start ~130-220 ms (start() median 2,342 -> 2,122 ms in runs
 * alternating with that build; at a busier hour the main thread's CPU 3,290 -> 2,560 ms; runner
 * bench project, Node 20, 2 cores, 2026-11-30), and a cache made once the module has run also
 * holds the functions it ran. A warm start is no slower (main thread 910 -> 920 ms).
 */
function compileScript(input: CompileInput): CompiledBody {
  const { compiled, source, options, codeCache, cacheable } = input;
  const script = new vm.Script(source, { ...options, ...(codeCache ? { cachedData: codeCache } : {}) });
  input.rejected = codeCache !== undefined && script.cachedDataRejected === true;
  if ((!codeCache || input.rejected) && cacheable) {
    compiled.codeCacheKind = 'script';
    compiled.makeCodeCache = () => script.createCachedData();
  }
  return script.runInThisContext() as CompiledBody;
}

/**
 * Later versions (a save): a function, whose code cache is made with it. V8 keeps every
 * vm.Script's source in its compilation cache (measured: +7 MB per 1000 updates), and a function
 * body is not cached that way (+0.1 MB); first versions add one script per module at most.
 */
function compileFunction(input: CompileInput): CompiledBody {
  const { compiled, source, options, codeCache, cacheable } = input;
  type Compiled = ReturnType<typeof vm.compileFunction> & { cachedData?: Buffer; cachedDataRejected?: boolean };
  const compile = (cache: { cachedData: Buffer } | { produceCachedData: boolean }): Compiled =>
    vm.compileFunction(source, [], { ...options, ...cache }) as Compiled;
  let outer = compile(codeCache ? { cachedData: codeCache } : { produceCachedData: cacheable });
  if (codeCache && outer.cachedDataRejected === true) {
    input.rejected = true;
    // A function's code cache is made as it compiles, or not at all: once more, rarely.
    outer = compile({ produceCachedData: cacheable });
  }
  if ((!codeCache || input.rejected) && outer.cachedData) {
    compiled.codeCache = outer.cachedData;
    compiled.codeCacheKind = 'function';
    compiled.makeCodeCache = undefined;
  }
  return outer() as CompiledBody;
}
