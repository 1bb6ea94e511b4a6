/**
 * Soak (issue #11): 200 saves that mix good saves (hot updates, entry re-executions), syntax
 * errors, modules that throw and process restarts, under continuous load from three clients
 * (POSTs on keep-alive connections whose bodies must come back intact, GETs on fresh
 * connections). It must show no refused, reset, 5xx or lost request, no process left behind, and
 * a flat descriptor count and RSS for the supervisor. The figures are printed as diagnostics.
 *
 * SOAK_SAVES=1000 node test/run.js soak runs a longer one.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { test } from 'node:test';
import {
  createFixture,
  fdCount,
  onCleanup,
  freePort,
  isRestart,
  isUpdate,
  processesIn,
  rssKb,
  startDevhot,
  waitForBody,
  type DevhotEvent,
} from './helpers/cli.js';
import { poll } from './helpers/poll.js';

const SAVES = Number(process.env.SOAK_SAVES ?? 200);

const SERVER = `import http from 'node:http';
import { route } from './route.js';
import { state } from './state.js';
import './hot.js';
http
  .createServer((req, res) => {
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks)));
      return;
    }
    res.end(\`\${route()} \${state.hot} \${process.env.TOKEN}\`);
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;
const STATE = `export const state = { hot: 'h0' };\n`;
const hot = (v: string) => `import { state } from './state.js';\nstate.hot = '${v}';\nimport.meta.hot?.accept();\n`;
const route = (v: string) => `export const route = (): string => '${v}';\n`;

interface Load {
  requests: number;
  failures: string[];
  stop(): Promise<void>;
}

/** POST random bodies on keep-alive connections, GET on fresh ones, until stopped. */
function startLoad(port: number): Load {
  const load: Load = { requests: 0, failures: [], stop: async () => {} };
  let running = true;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const once = (options: http.RequestOptions, body?: Buffer) =>
    new Promise<void>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, timeout: 15_000, ...options }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          load.requests++;
          const got = Buffer.concat(chunks);
          if (res.statusCode !== 200)
            load.failures.push(`${options.method ?? 'GET'}: status ${res.statusCode} ${got.toString().slice(0, 200)}`);
          else if (body && !got.equals(body)) load.failures.push(`POST: body of ${body.length} bytes came back as ${got.length} bytes`);
          resolve();
        });
        res.on('error', (error) => {
          load.failures.push(`${options.method ?? 'GET'}: response ${error.message}`);
          resolve();
        });
        // A response cut short may end with 'close' alone.
        res.on('close', () => {
          if (!res.complete) load.failures.push(`${options.method ?? 'GET'}: response cut short`);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('lost: no answer within 15 s')));
      req.on('error', (error) => {
        load.failures.push(`${options.method ?? 'GET'}: ${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`);
        resolve();
      });
      req.end(body);
    });
  const loop = async (make: () => Promise<void>) => {
    while (running) await make();
  };
  const loops = [
    loop(() => {
      const body = randomBytes(1 + Math.floor(Math.random() * 16_384));
      return once({ method: 'POST', path: '/echo', agent, headers: { 'Content-Length': body.length } }, body);
    }),
    loop(() => {
      const body = randomBytes(1 + Math.floor(Math.random() * 2048));
      return once({ method: 'POST', path: '/echo', agent, headers: { 'Content-Length': body.length } }, body);
    }),
    loop(() => once({ method: 'GET', path: '/', agent: false })),
  ];
  let stopped: Promise<void> | undefined;
  load.stop = () => {
    running = false;
    stopped ??= Promise.all(loops).then(() => agent.destroy());
    return stopped;
  };
  return load;
}

/** The ten saves of one round, each with the event that says it was handled. */
function round(n: number): Array<[string, string, (e: DevhotEvent) => boolean]> {
  const v = `r${n}`;
  return [
    ['hot.ts', hot(`${v}a`), isUpdate('applied', 'hot-update')],
    ['route.ts', route(`${v}a`), isUpdate('applied')],
    ['route.ts', 'export const route = (): string => ;\n', isUpdate('error')],
    ['route.ts', route(`${v}b`), isUpdate('applied')],
    ['route.ts', `throw new Error('soak ${v}');\nexport const route = (): string => 'never';\n`, isUpdate('error')],
    ['route.ts', route(`${v}c`), isUpdate('applied')],
    ['.env', `TOKEN=${v}\n`, isRestart('ready')],
    ['hot.ts', hot(`${v}b`), isUpdate('applied', 'hot-update')],
    ['route.ts', route(`${v}d`), isUpdate('applied')],
    ['hot.ts', hot(`${v}c`), isUpdate('applied', 'hot-update')],
  ];
}

test(`soak: ${SAVES} saves under load lose no request and leave the supervisor flat`, { timeout: 300_000 }, async (t) => {
  const fixture = createFixture(t, {
    'server.ts': SERVER,
    'state.ts': STATE,
    'hot.ts': hot('h0'),
    'route.ts': route('v0'),
    '.env': 'TOKEN=t0\n',
  });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', '--env-file', '.env'], env: { PORT: String(port) } });
  await waitForBody(port, 'v0 h0 t0');
  const t0 = Date.now();
  const load = startLoad(port);
  onCleanup(t, () => load.stop());
  const samples: Array<{ save: number; fds: number; rss: number }> = [];
  const sample = (save: number) => samples.push({ save, fds: fdCount(devhot.pid), rss: rssKb(devhot.pid) });
  let save = 0;
  for (let r = 0; save < SAVES; r++) {
    for (const [file, content, handled] of round(r)) {
      if (save >= SAVES) break;
      const from = devhot.mark();
      fixture.write(file, content);
      await devhot.waitEvent(handled, `save ${save} (${file})`, { from, timeout: 20_000 });
      save++;
      if (save % 20 === 0) sample(save);
    }
  }
  // Let the last restart's old process drain, then the load ends.
  const apps = () => processesIn(fixture.root).filter((pid) => pid !== devhot.pid);
  await poll(() => apps().length <= 2, `one app process (and its esbuild) left, not ${apps().join(' ')}`, 15_000);
  await load.stop();
  const seconds = (Date.now() - t0) / 1000;
  const warm = samples[0]!;
  const last = samples[samples.length - 1]!;
  t.diagnostic(
    `${SAVES} saves in ${seconds.toFixed(1)} s; ${load.requests} requests, ${load.failures.length} failed; ` +
      `supervisor fds ${samples.map((s) => s.fds).join(' ')}; RSS kB ${samples.map((s) => s.rss).join(' ')}`,
  );
  const notable = devhot.find((e) => e.event === 'warn' || (e.event === 'update' && /TIMEOUT/.test(e.result?.error?.code ?? '')));
  assert.deepEqual(
    load.failures.slice(0, 10),
    [],
    `${load.failures.length} of ${load.requests} requests failed; devhot said: ${JSON.stringify(notable).slice(0, 2000)}`,
  );
  assert.ok(load.requests > SAVES, `only ${load.requests} requests`);
  assert.ok(last.fds - warm.fds <= 4, `supervisor descriptors ${warm.fds} → ${last.fds}`);
  assert.ok(last.rss - warm.rss < 25_000, `supervisor RSS ${warm.rss} → ${last.rss} kB`);

  // Exit: nothing of the project's keeps running.
  process.kill(devhot.pid, 'SIGTERM');
  await devhot.exited;
  await poll(() => processesIn(fixture.root).length === 0, 'no process left in the project', 5000);
});
