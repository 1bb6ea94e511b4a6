/**
 * Which transformer emits decorator metadata for devhot (issue #13): TypeScript's
 * `transpileModule` against `@swc/core`, with esbuild (which emits none) as the baseline, on the
 * generated Nest project of 304 files (bench/nest-project.ts), CommonJS output with source maps,
 * as devhot asks for it:
 *
 *   - load: the time to load the transformer's package (paid once, at the first decorated file);
 *   - cold: every file once, in a fresh process (what a start without a disk cache pays);
 *   - warm: every file again (JIT warmed up);
 *   - save: the median of 50 transforms of the controller (what one save pays).
 *
 * devhot uses @swc/core (a dependency): --swc points at another installed copy to compare.
 *
 *   npm run build && node dist/bench/decorator-transform.bench.js [--features 60] [--swc /path/to/@swc/core]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createNestProject } from './nest-project.js';
import { quantile } from './stats.js';

const { values: args } = parseArgs({
  options: {
    features: { type: 'string', default: '60' },
    swc: { type: 'string' },
    /** Internal: run one transformer in this process and print its figures as JSON. */
    child: { type: 'string' },
    root: { type: 'string' },
  },
});

type Transform = (file: string, source: string) => string;

interface Figures {
  load: number;
  cold: number;
  warm: number;
  save: number;
  bytes: number;
}

const require = createRequire(import.meta.url);

function loadTransformer(name: string): Transform {
  if (name === 'esbuild') {
    const esbuild = require('esbuild') as typeof import('esbuild');
    return (file, source) =>
      esbuild.transformSync(source, {
        loader: 'ts',
        format: 'cjs',
        sourcemap: 'external',
        sourcefile: file,
        tsconfigRaw: { compilerOptions: { experimentalDecorators: true } },
      }).code;
  }
  if (name === 'typescript') {
    const ts = require('typescript') as typeof import('typescript');
    return (file, source) =>
      ts.transpileModule(source, {
        fileName: file,
        compilerOptions: {
          module: ts.ModuleKind.CommonJS,
          target: ts.ScriptTarget.ES2023,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          sourceMap: true,
        },
      }).outputText;
  }
  const swc = require(args.swc ?? '@swc/core') as {
    transformSync(source: string, options: object): { code: string };
  };
  return (file, source) =>
    swc.transformSync(source, {
      filename: file,
      sourceMaps: true,
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
      },
      module: { type: 'commonjs' },
    }).code;
}

function measure(name: string, root: string): Figures {
  const sources = JSON.parse(readFileSync(join(root, 'files.json'), 'utf8')) as Array<[string, string]>;
  let t = performance.now();
  const transform = loadTransformer(name);
  const load = performance.now() - t;
  const pass = () => {
    let bytes = 0;
    const t0 = performance.now();
    for (const [file, source] of sources) bytes += transform(file, source).length;
    return { ms: performance.now() - t0, bytes };
  };
  const cold = pass();
  const warm = pass();
  const controller = sources.find(([file]) => file.endsWith('app.controller.ts'))!;
  const saves: number[] = [];
  for (let i = 0; i < 50; i++) {
    t = performance.now();
    transform(controller[0], controller[1].replace(' v0', ` v${i}`));
    saves.push(performance.now() - t);
  }
  return { load, cold: cold.ms, warm: warm.ms, save: quantile(saves, 0.5)!, bytes: cold.bytes };
}

if (args.child) {
  process.stdout.write(JSON.stringify(measure(args.child, args.root!)));
} else {
  const dir = mkdtempSync(join(tmpdir(), 'devhot-decorators-'));
  try {
    const project = createNestProject(join(dir, 'app'), { features: Number(args.features) });
    const files = project.files.map((f) => [f, readFileSync(f, 'utf8')]);
    require('node:fs').writeFileSync(join(dir, 'files.json'), JSON.stringify(files));
    console.log(`${files.length} .ts files, Node ${process.versions.node}; each transformer in a fresh process (ms)`);
    const rows: Array<[string, Figures]> = [];
    for (const name of ['esbuild', 'typescript', 'swc']) {
      const extra = args.swc ? ['--swc', args.swc] : [];
      try {
        const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', name, '--root', dir, ...extra], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        rows.push([name, JSON.parse(out) as Figures]);
      } catch (error) {
        console.log(`${name}: not measured (${(error as Error).message.split('\n')[0]})`);
      }
    }
    const base = rows[0]?.[1];
    console.log('transformer   load    cold (all)   warm (all)   save (median)   vs esbuild cold');
    for (const [name, f] of rows) {
      const ratio = base ? `${((f.load + f.cold) / (base.load + base.cold)).toFixed(1)}×` : '';
      console.log(
        `${name.padEnd(12)} ${f.load.toFixed(0).padStart(5)} ${f.cold.toFixed(0).padStart(11)} ${f.warm.toFixed(0).padStart(12)} ${f.save.toFixed(2).padStart(15)}   ${ratio}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
