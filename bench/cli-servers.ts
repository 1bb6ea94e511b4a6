/**
 * The entry of the CLI benchmark's project, in the form each peer is meant to be used (its
 * README's setup), so every peer is measured at its best. Each answers `GET /` with
 * `v<LEAF_VERSION>` and the header `x-env: $BENCH_TOKEN`, on 127.0.0.1:$PORT.
 *
 *   plain        node:http with static imports, no HMR API: devhot (entry re-execution), and the
 *                restarting peers (tsx watch, nodemon, node --watch).
 *   accept-deps  the entry accepts its two imports (dynohot's "swappable middleware" pattern,
 *                Vite's `accept(deps, cb)`): a save re-evaluates the changed module and its
 *                importers up to the entry, which takes the new version and keeps its server.
 *                dynohot and vite-node: without an accepting module they re-run the entry,
 *                whose listen() then fails with EADDRINUSE.
 *   hot-hook     hot-hook's pattern: the module tree behind a boundary (src/app.ts, declared in
 *                package.json "hotHook.boundaries"), imported per request with `await import()`,
 *                so each request gets the version current at that time.
 *   bun          Bun.serve, which `bun --hot` swaps in place when the entry is re-evaluated
 *                (its docs' setup; a node:http server would be listened a second time).
 */
import { posix } from 'node:path';
import { modulePath, type Layout } from './generate.js';

export type ServerKind = 'plain' | 'accept-deps' | 'hot-hook' | 'bun';

export interface ServerFiles {
  /** Files to write, relative to the project root (src/server.ts, src/app.ts). */
  files: Record<string, string>;
  /** Fields to add to package.json. */
  packageJson?: Record<string, unknown>;
}

const PORT = `const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT is not set');
`;

const HEADERS = `{
    'content-type': 'text/plain',
    'content-length': String(Buffer.byteLength(body)),
    'x-env': process.env.BENCH_TOKEN ?? '',
    'x-modules': String(modules),
  }`;

/** `./g29/m2999.js`: the leaf as the entry imports it (NodeNext style). */
function leafSpecifier(modules: number, layout: Layout): string {
  return `./${posix.relative('src', modulePath(modules - 1, layout)).replace(/\.ts$/, '.js')}`;
}

export function serverFiles(kind: ServerKind, modules: number, layout: Layout): ServerFiles {
  const leaf = leafSpecifier(modules, layout);
  const imports = `import { weight0 } from './main.js';\nimport { LEAF_VERSION } from '${leaf}';\n`;
  switch (kind) {
    case 'plain':
      return {
        files: {
          'src/server.ts': `// Entry of the CLI benchmark project (generated).
import { createServer } from 'node:http';
${imports}
${PORT}
const modules = weight0;
const server = createServer((_req, res) => {
  const body = \`v\${LEAF_VERSION}\`;
  res.writeHead(200, ${HEADERS});
  res.end(body);
});
server.listen(port, '127.0.0.1');
`,
        },
      };
    case 'accept-deps':
      return {
        files: {
          'src/server.ts': `// Entry of the CLI benchmark project (generated): accepts its imports.
import { createServer } from 'node:http';
${imports}
${PORT}
let version = LEAF_VERSION;
let modules = weight0;
const server = createServer((_req, res) => {
  const body = \`v\${version}\`;
  res.writeHead(200, ${HEADERS});
  res.end(body);
});
server.listen(port, '127.0.0.1');

(import.meta as any).hot?.accept(['./main.js', '${leaf}'], (mods: any[]) => {
  if (mods[0]) modules = mods[0].weight0;
  if (mods[1]) version = mods[1].LEAF_VERSION;
});
`,
        },
      };
    case 'hot-hook':
      return {
        files: {
          'src/server.ts': `// Entry of the CLI benchmark project (generated): hot-hook's boundary, imported per request.
import { createServer } from 'node:http';

${PORT}
const server = createServer(async (req, res) => {
  const { handle } = await import('./app.js');
  handle(req, res);
});
server.listen(port, '127.0.0.1');
`,
          'src/app.ts': `// hot-hook's boundary (package.json "hotHook.boundaries"): reloaded when anything below it changes.
import type { IncomingMessage, ServerResponse } from 'node:http';
${imports}
const modules = weight0;
export function handle(_req: IncomingMessage, res: ServerResponse): void {
  const body = \`v\${LEAF_VERSION}\`;
  res.writeHead(200, ${HEADERS});
  res.end(body);
}
`,
        },
        packageJson: { hotHook: { boundaries: ['./src/app.ts'] } },
      };
    case 'bun':
      return {
        files: {
          'src/server.ts': `// Entry of the CLI benchmark project (generated): Bun.serve, swapped in place by bun --hot.
${imports}
${PORT}
declare const Bun: { serve(options: object): unknown };
const modules = weight0;
Bun.serve({
  port,
  hostname: '127.0.0.1',
  fetch() {
    const body = \`v\${LEAF_VERSION}\`;
    return new Response(body, { headers: ${HEADERS} });
  },
});
`,
        },
      };
    default: {
      const unknown: never = kind;
      throw new Error(`unknown server kind ${String(unknown)}`);
    }
  }
}
