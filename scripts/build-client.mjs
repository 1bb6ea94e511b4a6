// Bundles the browser client (client/client.ts and what it imports, the protocol's constants
// included) into one self-contained ES module: dist/client/client.js, which the supervisor
// serves at CLIENT_PATH. Type-checking is `tsc -p client/tsconfig.json` (no emit).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));

await build({
  absWorkingDir: repo,
  entryPoints: ['client/client.ts'],
  outfile: 'dist/client/client.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  // Browsers from the last few years; nothing to down-level that devhot's users would miss.
  target: 'es2022',
  tsconfig: 'client/tsconfig.json',
  // Readable in the browser's devtools; it is a dev tool, size hardly matters.
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
});
