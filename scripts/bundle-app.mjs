// Bundles the app process's modules (dist/src/app/main.js and the runner, hooks client and shared
// modules it imports, as tsc emitted them) into that one file, in place: the app loads one
// module instead of ~90 at every start and restart. Node 20 has no compile cache, and its ESM
// loader resolves, reads and compiles each file on its own; packages stay external (Node loads
// them). The file keeps its path, so boot.ts's import and the `new URL(..., import.meta.url)`s of
// the bundled modules (the hooks thread's file, the watchdog's worker, createRequire) resolve as
// before: every one of those modules sits one folder below dist/src, as main.js does. Its map
// goes back to the .ts sources through tsc's maps. Run by `npm run build`, after tsc.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const MAIN = 'dist/src/app/main.js';

const result = await build({
  absWorkingDir: repo,
  entryPoints: [MAIN],
  outfile: MAIN,
  allowOverwrite: true,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  // native.ts's import() with attributes is meant for Node, not for esbuild to follow.
  logOverride: { 'unsupported-dynamic-import': 'silent' },
});

// A bundled module that reaches a file by a path relative to its own would now reach it from
// main.js's folder: only modules one folder below dist/src may be bundled.
const misplaced = Object.keys(result.metafile.inputs).filter((file) => !/^dist\/src\/[^/]+\/[^/]+\.js$/.test(file));
const relative = misplaced.filter((file) => readFileSync(new URL(file, `file://${repo}/`), 'utf8').includes('import.meta.url'));
if (relative.length > 0) {
  throw new Error(
    `bundle-app: ${relative.join(', ')} use import.meta.url from another folder depth than ${MAIN}; move them or keep them out of the bundle.`,
  );
}
