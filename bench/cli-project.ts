/**
 * The HTTP-server project the CLI benchmark edits. The module tree comes from generate.ts (the
 * runner benchmark's projects, so both benchmarks measure the same code); this file adds
 *
 *   src/server.ts    the entry (cli-servers.ts: the form each peer is meant to be used in):
 *                    `GET /` answers `v<LEAF_VERSION>` with the header `x-env: $BENCH_TOKEN` (so
 *                    an env-file restart is visible)
 *   .env             BENCH_TOKEN=r0
 *
 * and, for `node --watch` (Node 20 cannot run .ts), a JS variant: every module compiled to an
 * ES module `.js` file by esbuild (types erased, same specifiers), the entry as src/server.mjs.
 *
 * The server imports the leaf directly and the module tree through src/main.ts, so a leaf edit
 * that nothing accepts re-executes the leaf, its importer chain up to main.ts, and the entry.
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { transformSync } from 'esbuild';
import { serverFiles, type ServerKind } from './cli-servers.js';
import { generateProject, leafSource, type GeneratedProject, type Layout } from './generate.js';

export type Variant = 'ts' | 'js';
/** The module format of the project's TypeScript, from its package.json. */
export type ModuleFormat = 'esm' | 'cjs';

export interface CliProject {
  root: string;
  variant: Variant;
  modules: number;
  branching: number;
  /** Entry path relative to root (src/server.ts or src/server.mjs). */
  entry: string;
  /** Absolute path of the leaf the benchmark edits. */
  leaf: string;
  envFile: string;
  /** Whether the leaf calls import.meta.hot.accept(). */
  accept: boolean;
  /** Source text of the leaf at `version` (already compiled to JS for the JS variant). */
  leafText(version: number): string;
  /** Contents of .env for restart number `n`. */
  envText(n: number): string;
}

function compileTs(source: string): string {
  return transformSync(source, { loader: 'ts', format: 'esm', target: 'es2022' }).code;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    if (statSync(file).isDirectory()) walk(file, out);
    else out.push(file);
  }
  return out;
}

export function createCliProject(
  dir: string,
  options: {
    modules: number;
    branching: number;
    variant: Variant;
    accept: boolean;
    salt: string;
    layout: Layout;
    server: ServerKind;
    /** 'cjs': a package without "type": "module", whose .ts files compile to CommonJS. */
    format?: ModuleFormat;
  },
): CliProject {
  const p: GeneratedProject = generateProject(dir, {
    modules: options.modules,
    branching: options.branching,
    accept: options.accept,
    layout: options.layout,
  });
  const root = p.root;
  const server = serverFiles(options.server, options.modules, options.layout);
  for (const [rel, text] of Object.entries(server.files)) writeFileSync(join(root, rel), text);
  if (server.packageJson) {
    const file = join(root, 'package.json');
    writeFileSync(file, `${JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...server.packageJson }, null, 2)}\n`);
  }
  if (options.format === 'cjs') {
    const file = join(root, 'package.json');
    const { type: _type, ...fields } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, `${JSON.stringify(fields, null, 2)}\n`);
  }
  const envFile = join(root, '.env');
  const envText = (n: number) => `BENCH_TOKEN=r${n}\n`;
  writeFileSync(envFile, envText(0));
  // The first measured edit must be a real change even with a disk cache from another run.
  writeFileSync(p.leaf, leafSource(p, 0, options.accept, options.salt));

  if (options.variant === 'js') {
    for (const file of walk(join(root, 'src'))) {
      if (!file.endsWith('.ts')) continue;
      const out = relative(root, file) === join('src', 'server.ts') ? file.replace(/\.ts$/, '.mjs') : file.replace(/\.ts$/, '.js');
      writeFileSync(out, compileTs(readFileSync(file, 'utf8')));
      rmSync(file);
    }
    rmSync(join(root, 'tsconfig.json'), { force: true });
  }
  const leaf = options.variant === 'js' ? p.leaf.replace(/\.ts$/, '.js') : p.leaf;
  return {
    root,
    variant: options.variant,
    modules: options.modules,
    branching: options.branching,
    entry: options.variant === 'js' ? 'src/server.mjs' : 'src/server.ts',
    leaf,
    envFile,
    accept: options.accept,
    leafText(version) {
      const ts = leafSource(p, version, options.accept, options.salt);
      return options.variant === 'js' ? compileTs(ts) : ts;
    },
    envText,
  };
}
