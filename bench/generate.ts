/**
 * Generates a TypeScript project for the benchmarks: `modules` files forming a tree of imports
 * (module i imports modules branching*i+1 … branching*i+branching), so the chain from the entry
 * to the deepest module is about log_branching(modules) long. Exactly one module, the last
 * (deepest) one, is the "leaf" that the benchmark edits.
 *
 *   src/main.ts            module 0, the entry; prints `ready` at the end of its top-level code
 *   src/types.ts           shared types, imported with `import type` (erased, no runtime edge)
 *   src/g<k>/m<i>.ts       module i, 100 per directory (layout 'spread', the default)
 *   src/m<i>.ts            module i, all in one directory (layout 'flat': what a watcher that
 *                          re-reads a directory on each event pays for)
 *   tsconfig.json          strict, NodeNext
 *
 * Only relative imports and `node:` built-ins: the project needs no node_modules, and runs the
 * same under devhot, tsx or any TypeScript runner.
 *
 * As a script: node dist/bench/generate.js <dir> [--modules 300] [--branching 4] [--accept] [--layout flat]
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

/** Where the modules go: 100 per directory, or all in src/. */
export type Layout = 'spread' | 'flat';
export const LAYOUTS: readonly Layout[] = ['flat', 'spread'];

export interface GenerateOptions {
  /** Number of modules, the entry included. At least 2. */
  modules: number;
  /** Imports per module (the tree's fan-out). Default 4. */
  branching?: number;
  /** Whether the leaf calls `import.meta.hot.accept()`. Default false. */
  accept?: boolean;
  /** Remove `dir` first. Default true. */
  clean?: boolean;
  /** Default 'spread'. */
  layout?: Layout;
}

export interface GeneratedProject {
  root: string;
  /** Absolute path of src/main.ts. */
  entry: string;
  /** Absolute path of the leaf module. */
  leaf: string;
  tsconfig: string;
  modules: number;
  branching: number;
  layout: Layout;
  /** Modules from the entry to the leaf, both included (entry first), relative to root. */
  chain: string[];
  /** Total lines of TypeScript written. */
  lines: number;
}

const PER_DIR = 100;

/** Path of module i relative to the project root (POSIX separators). */
export function modulePath(i: number, layout: Layout = 'spread'): string {
  if (i === 0) return 'src/main.ts';
  return layout === 'flat' ? `src/m${i}.ts` : `src/g${Math.floor(i / PER_DIR)}/m${i}.ts`;
}

function children(i: number, n: number, b: number): number[] {
  const out: number[] = [];
  for (let c = b * i + 1; c <= b * i + b && c < n; c++) out.push(c);
  return out;
}

function parent(i: number, b: number): number {
  return Math.floor((i - 1) / b);
}

/** `./g3/m301.js` style specifier from module `from` to module `to` (.js → .ts, as NodeNext code writes it). */
function specifier(from: number, to: number | 'types', layout: Layout): string {
  const fromDir = posix.dirname(modulePath(from, layout));
  const target = to === 'types' ? 'src/types.ts' : modulePath(to, layout);
  let rel = posix.relative(fromDir, target).replace(/\.ts$/, '.js');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel;
}

const BUILTINS = [
  ["import { basename } from 'node:path';", (i: number) => `basename('/srv/app/module-${i}.ts', '.ts')`],
  ["import { format } from 'node:util';", (i: number) => `format('module-%d', ${i})`],
  ["import { EventEmitter } from 'node:events';", (i: number) => `String(new EventEmitter().listenerCount('x${i}'))`],
] as const;

/** Source of module i. `leaf` carries the edit counter and the accept switch. */
export function moduleSource(
  i: number,
  n: number,
  b: number,
  leaf?: { version: number; accept: boolean; salt?: string },
  layout: Layout = 'spread',
): string {
  const kids = children(i, n, b);
  const builtin = BUILTINS[i % BUILTINS.length]!;
  const L: string[] = [];
  L.push(`// Generated module ${i} of ${n}.`);
  L.push(builtin[0]);
  L.push(`import type { Logger, Result } from '${specifier(i, 'types', layout)}';`);
  for (const c of kids) L.push(`import { compute${c}, weight${c}, type Record${c} } from '${specifier(i, c, layout)}';`);
  L.push('');
  L.push(`export interface Record${i} {`);
  L.push('  id: number;');
  L.push('  name: string;');
  L.push('  tags: readonly string[];');
  L.push('  score: number;');
  if (kids.length > 0) L.push(`  children?: Array<${kids.map((c) => `Record${c}`).join(' | ')}>;`);
  L.push('}');
  L.push('');
  L.push(`export type Mode${i} = 'fast' | 'safe' | 'off';`);
  L.push('');
  L.push(
    `export const DEFAULTS_${i}: Readonly<Record${i}> = Object.freeze({ id: ${i}, name: ${builtin[1](i)}, tags: ['t${i % 7}', 'g${Math.floor(i / PER_DIR)}'], score: ${i % 13} });`,
  );
  if (leaf) {
    L.push('');
    L.push(`export const LEAF_VERSION = ${leaf.version};`);
    L.push(`export const LEAF_LABEL = 'edit #${leaf.version}${leaf.salt ? ` (${leaf.salt})` : ''}';`);
  }
  L.push('');
  L.push(`export class Store${i} {`);
  L.push(`  readonly #items = new Map<number, Record${i}>();`);
  L.push(`  constructor(private readonly log?: Logger) {}`);
  L.push(`  add(record: Record${i}): this {`);
  L.push('    this.#items.set(record.id, record);');
  L.push(`    this.log?.debug(\`store ${i}: added \${record.id}\`);`);
  L.push('    return this;');
  L.push('  }');
  L.push('  get size(): number {');
  L.push('    return this.#items.size;');
  L.push('  }');
  L.push('  total(): number {');
  L.push('    let sum = 0;');
  L.push('    for (const r of this.#items.values()) sum += r.score;');
  L.push('    return sum;');
  L.push('  }');
  L.push('}');
  L.push('');
  L.push(`export function normalize${i}(input: Partial<Record${i}>, mode: Mode${i} = 'safe'): Record${i} {`);
  L.push(`  const base = { ...DEFAULTS_${i}, ...input };`);
  L.push("  if (mode === 'fast') return base;");
  L.push('  return { ...base, name: base.name.trim().toLowerCase(), tags: [...new Set(base.tags)] };');
  L.push('}');
  L.push('');
  L.push(`export function compute${i}(seed: number, log?: Logger): number {`);
  L.push(`  const store = new Store${i}(log).add(normalize${i}({ id: seed, score: seed % 10 }));`);
  L.push(`  ${kids.length > 0 ? 'let' : 'const'} value = store.total() + DEFAULTS_${i}.score;`);
  for (const c of kids) L.push(`  value += compute${c}(seed + ${c}, log);`);
  L.push('  return value % 1_000_003;');
  L.push('}');
  L.push('');
  L.push(`export function check${i}(value: number): Result<number> {`);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the generated TypeScript holds a template literal
  L.push('  return Number.isFinite(value) ? { ok: true, value } : { ok: false, error: new Error(`bad value ${value}`) };');
  L.push('}');
  L.push('');
  L.push(`/** Modules in this subtree, computed at load time from the children's exports. */`);
  L.push(`export const weight${i}: number = 1${kids.map((c) => ` + weight${c}`).join('')};`);
  if (leaf?.accept) {
    L.push('');
    L.push('if (import.meta.hot) import.meta.hot.accept();');
  }
  if (i === 0) {
    L.push('');
    L.push(`const expected = ${n};`);
    L.push(`if (weight0 !== expected) throw new Error(\`loaded \${weight0} modules, expected \${expected}\`);`);
    L.push("if (!check0(weight0).ok) throw new Error('check failed');");
    L.push("console.log('ready');");
  }
  L.push('');
  return L.join('\n');
}

const TYPES = `// Shared types, imported with \`import type\` only.
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: Error };
`;

const TSCONFIG = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "skipLibCheck": true,
    "verbatimModuleSyntax": true,
    "noEmit": true
  },
  "include": ["src"]
}
`;

export function generateProject(dir: string, options: GenerateOptions): GeneratedProject {
  const n = options.modules;
  const b = options.branching ?? 4;
  const layout = options.layout ?? 'spread';
  if (!Number.isInteger(n) || n < 2) throw new Error(`modules must be an integer ≥ 2, got ${n}`);
  if (!Number.isInteger(b) || b < 1) throw new Error(`branching must be an integer ≥ 1, got ${b}`);
  const root = resolve(dir);
  if (options.clean ?? true) rmSync(root, { recursive: true, force: true });
  const leafIndex = n - 1;
  let lines = 0;
  const write = (rel: string, text: string): void => {
    const file = join(root, rel);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    lines += text.split('\n').length - 1;
  };
  write('package.json', `${JSON.stringify({ name: `bench-${n}`, private: true, type: 'module' }, null, 2)}\n`);
  write('tsconfig.json', TSCONFIG);
  write('src/types.ts', TYPES);
  for (let i = 0; i < n; i++) {
    write(
      modulePath(i, layout),
      moduleSource(i, n, b, i === leafIndex ? { version: 0, accept: options.accept ?? false } : undefined, layout),
    );
  }
  const chain: string[] = [];
  for (let i = leafIndex; ; i = parent(i, b)) {
    chain.unshift(modulePath(i, layout));
    if (i === 0) break;
  }
  return {
    root,
    entry: join(root, modulePath(0, layout)),
    leaf: join(root, modulePath(leafIndex, layout)),
    tsconfig: join(root, 'tsconfig.json'),
    modules: n,
    branching: b,
    layout,
    chain,
    lines,
  };
}

/**
 * New content for the leaf: a new version number, so every write is a real change. `salt` makes
 * the content unique to one run, so a disk cache shared between runs cannot turn edits into hits.
 */
export function leafSource(
  project: Pick<GeneratedProject, 'modules' | 'branching'> & { layout?: Layout },
  version: number,
  accept: boolean,
  salt?: string,
): string {
  return moduleSource(
    project.modules - 1,
    project.modules,
    project.branching,
    { version, accept, ...(salt ? { salt } : {}) },
    project.layout,
  );
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      modules: { type: 'string', default: '300' },
      branching: { type: 'string', default: '4' },
      accept: { type: 'boolean', default: false },
      layout: { type: 'string', default: 'spread' },
    },
  });
  const dir = positionals[0];
  if (!dir) {
    console.error('usage: node dist/bench/generate.js <dir> [--modules 300] [--branching 4] [--accept] [--layout flat]');
    process.exit(2);
  }
  const layout = values.layout === 'flat' ? 'flat' : 'spread';
  const p = generateProject(dir, { modules: Number(values.modules), branching: Number(values.branching), accept: values.accept, layout });
  console.log(`${p.modules} modules (${p.lines} lines) in ${p.root}`);
  console.log(`entry ${p.entry}`);
  console.log(`leaf  ${p.leaf} (chain of ${p.chain.length}: ${p.chain.join(' → ')})`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
