/**
 * NestJS benchmark (issue #13): save → new response for the generated Nest project
 * (bench/nest-project.ts, 304 files) under devhot and under `nest start --watch` (@nestjs/cli:
 * tsc in watch mode, then a new node process on dist/main.js), in the same run. For each peer:
 * start → first 200 response, then `--edits` saves of src/app.controller.ts, each timed from the
 * write until `GET /` answers the new version (a fresh connection per request, 5 ms apart);
 * failed requests (refused, reset) during the edits are counted.
 *
 *   npm run build && node dist/bench/nest.bench.js [--features 60] [--edits 10] [--peers devhot,nest]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createNestProject } from './nest-project.js';
import { quantile } from './stats.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: args } = parseArgs({
  options: {
    features: { type: 'string', default: '60' },
    edits: { type: 'string', default: '10' },
    peers: { type: 'string', default: 'devhot,nest' },
    timeout: { type: 'string', default: '60' },
  },
});
const edits = Number(args.edits);
const timeoutMs = Number(args.timeout) * 1000;

const PEERS: Record<string, (root: string) => string[]> = {
  devhot: () => [join(repo, 'bin', 'devhot.js'), 'src/main.ts', '--json'],
  nest: () => [join(repo, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js'), 'start', '--watch'],
};

function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => ok(port));
    });
  });
}

function get(port: number): Promise<string> {
  return new Promise((ok, fail) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? ok(body) : fail(new Error(`status ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', fail);
  });
}

/** Poll until the body ends with `suffix`; the failures seen meanwhile (ignored while starting). */
async function waitFor(port: number, suffix: string): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let failures = 0;
  while (performance.now() < deadline) {
    try {
      if ((await get(port)).endsWith(suffix)) return failures;
    } catch {
      failures++;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no "${suffix}" within ${timeoutMs} ms`);
}

async function measure(name: string, dir: string): Promise<{ start: number; saves: number[]; failed: number }> {
  const project = createNestProject(join(dir, name), { features: Number(args.features) });
  const port = await freePort();
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, PEERS[name]!(project.root), {
    cwd: project.root,
    env: { ...process.env, PORT: String(port), NO_COLOR: '1' },
    stdio: 'ignore',
    detached: true,
  });
  try {
    await waitFor(port, ' v0');
    const start = performance.now() - t0;
    const saves: number[] = [];
    let failed = 0;
    for (let i = 1; i <= edits; i++) {
      const t = performance.now();
      writeFileSync(project.controller, project.controllerText(i));
      failed += await waitFor(port, ` v${i}`);
      saves.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 200));
    }
    return { start, saves, failed };
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

const dir = join(repo, '.devhot-tmp', `nest-bench-${process.pid}`);
mkdirSync(dir, { recursive: true });
try {
  const rows: Array<[string, Awaited<ReturnType<typeof measure>>]> = [];
  for (const name of args.peers.split(',')) rows.push([name, await measure(name, dir)]);
  console.log(`Nest project of ${Number(args.features) * 5 + 4} files, ${edits} saves of the controller, Node ${process.versions.node}`);
  console.log('peer      start (ms)   save → new response: median   p90    failed requests');
  const base = quantile(rows[0]![1].saves, 0.5)!;
  for (const [name, r] of rows) {
    const median = quantile(r.saves, 0.5)!;
    console.log(
      `${name.padEnd(8)} ${r.start.toFixed(0).padStart(10)} ${median.toFixed(0).padStart(28)} ${quantile(r.saves, 0.9)!.toFixed(0).padStart(6)} ${String(r.failed).padStart(17)}   ${(median / base).toFixed(1)}× devhot`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
