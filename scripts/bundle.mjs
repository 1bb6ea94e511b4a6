// Bundles what devhot's two processes load at every start, each into one file, in place (as tsc
// emitted them, after it):
//
// - the app process: dist/src/app/main.js, with the runner, the hooks' client and the shared
//   modules it imports (boot.js, which turns on Node's compile cache first, stays a file of its
//   own and imports it);
// - the supervisor: dist/src/supervisor/supervisor.js and what it imports, which the command
//   (dist/src/cli.js) loads once it has forked the first app process.
//
// Node 20 has no compile cache, and its ESM loader resolves, reads and compiles each file on its
// own. Packages stay external (Node loads them). A module the process also loads outside the
// bundle (cli.js's own imports: the errors' classes, app-fork.js with the early app process)
// stays external too, imported by its path: one copy of it per process. Each bundle keeps its
// path, so the imports of it and the `new URL(..., import.meta.url)`s of the bundled modules
// (the hooks thread's file, the watchdog's worker, the app's boot.js) resolve as before: the
// script refuses to bundle a module that reaches a file that way (or reads import.meta.dirname or
// .filename) from another folder depth. The maps go back to the .ts sources through tsc's. Run by
// `npm run build`.
//
// Node's builtins come into the bundles as their CommonJS exports (`process.getBuiltinModule`),
// not as ES modules: Node makes a builtin's ES module by reading every export of it, and the
// lazy ones load more of Node. `import ... from 'node:http'` alone, on Node 22 and 24, loads
// undici (0.8 MB of source, for `http.WebSocket`), http2, tls, zlib and assert, 60 more builtin
// modules than `require('node:http')`; nothing of devhot uses them. The CLI bench's RSS after
// the edits at 3,000 modules (`--sizes 3000 --peers devhot --restarts 0 --layouts flat`):
// Node 24 282-283 -> 269 MB (2 runs each, supervisor 79 -> 74-75 MB), Node 22 263 -> 251 MB,
// Node 20 unchanged (230 / 231 MB; its http has no lazy exports); starts unchanged
// (start-pairs, 10 modules, 12 pairs: Node 24 176 / 181 ms, Node 20 302 / 300 ms), 2026-12-01.
import { build } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));

/** `entry` bundled in place; `loader` is the process's module that imports it. */
const BUNDLES = [
  { entry: 'dist/src/app/main.js', loader: 'dist/src/app/boot.js' },
  { entry: 'dist/src/supervisor/supervisor.js', loader: 'dist/src/cli.js' },
];

const common = {
  absWorkingDir: repo,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  metafile: true,
  logLevel: 'warning',
  // native.ts's import() with attributes is meant for Node, not for esbuild to follow.
  logOverride: { 'unsupported-dynamic-import': 'silent' },
};

/** The files `loader` loads when `entry` is left out: what the bundle must import, not copy. */
async function loadedBeside({ entry, loader }) {
  const result = await build({
    ...common,
    entryPoints: [loader],
    write: false,
    plugins: [externalFiles(new Set([resolve(repo, entry)]), resolve(repo, loader))],
  });
  return new Set(Object.keys(result.metafile.inputs).map((file) => resolve(repo, file)));
}

/** An esbuild plugin: the relative imports of `files` stay imports, of their path from `outfile`. */
function externalFiles(files, outfile) {
  return {
    name: 'external-files',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        const file = resolve(args.resolveDir, args.path);
        if (!files.has(file)) return undefined;
        const path = relative(dirname(outfile), file);
        return { path: path.startsWith('.') ? path : `./${path}`, external: true };
      });
    },
  };
}

/**
 * What devhot's compiled modules import by name from each builtin (`import { a, b as c } from
 * 'node:x'`), as tsc writes it, in every .js file under dist/src: a superset of any bundle's.
 */
function builtinImports() {
  const names = new Map();
  const dir = join(repo, 'dist/src');
  for (const file of readdirSync(dir, { recursive: true })) {
    if (!file.endsWith('.js')) continue;
    for (const [, list, builtin] of readFileSync(join(dir, file), 'utf8').matchAll(
      /^import\s+(?:[\w$]+\s*,\s*)?\{([^}]*)\}\s*from\s*['"](node:[\w/]+)['"]/gm,
    )) {
      const set = names.get(builtin) ?? new Set();
      for (const spec of list.split(',')) {
        const name = spec.trim().split(/\s+as\s+/)[0];
        if (name && !name.startsWith('type ')) set.add(name);
      }
      names.set(builtin, set);
    }
  }
  return names;
}

/**
 * An esbuild plugin: `import { a } from 'node:x'` takes `a` from the builtin's CommonJS exports
 * when the bundle loads, as Node's ES module of it had it then. Only the names devhot imports
 * are read (a builtin's other exports may be getters that load more or warn: `fs.F_OK` is data on
 * Node 20 and a deprecation warning on Node 24, where a bundle built on Node 20 runs too), and a
 * name that is not a plain value of the builtin here fails the build.
 */
function builtinExports(imported) {
  return {
    name: 'builtin-exports',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (args) =>
        args.kind === 'import-statement' ? { path: args.path, namespace: 'builtin' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'builtin' }, ({ path }) => {
        const exports = process.getBuiltinModule(path);
        const lines = [`const m = process.getBuiltinModule(${JSON.stringify(path)});`, 'export default m;'];
        for (const name of imported.get(path) ?? []) {
          if (!('value' in (Object.getOwnPropertyDescriptor(exports, name) ?? {}))) {
            throw new Error(
              `bundle: devhot imports ${name} from ${path}, which is not a plain export of it on Node ${process.version} (a getter, or absent). Read it from the default import where it is used.`,
            );
          }
          lines.push(`export const ${name} = m.${name};`);
        }
        return { contents: lines.join('\n'), loader: 'js' };
      });
    },
  };
}

/** Folders below dist/src to `file`: a bundled module must sit as deep as its bundle. */
const depth = (file) => relative(join(repo, 'dist/src'), resolve(repo, file)).split('/').length;

const imported = builtinImports();
for (const bundle of BUNDLES) {
  const outfile = resolve(repo, bundle.entry);
  const beside = await loadedBeside(bundle);
  beside.delete(outfile);
  const result = await build({
    ...common,
    entryPoints: [bundle.entry],
    outfile: bundle.entry,
    allowOverwrite: true,
    sourcemap: 'linked',
    legalComments: 'none',
    plugins: [externalFiles(beside, outfile), builtinExports(imported)],
  });
  // A bundled module that reaches a file by a path relative to its own would now reach it from
  // the bundle's folder.
  const misplaced = Object.keys(result.metafile.inputs).filter(
    (file) =>
      !file.startsWith('builtin:') &&
      depth(file) !== depth(bundle.entry) &&
      /\bimport\.meta\.(?:url|dirname|filename)\b/.test(readFileSync(join(repo, file), 'utf8')),
  );
  if (misplaced.length > 0) {
    throw new Error(
      `bundle: ${misplaced.join(', ')} use import.meta's location from another folder depth than ${bundle.entry}; keep them out of the bundle.`,
    );
  }
}
