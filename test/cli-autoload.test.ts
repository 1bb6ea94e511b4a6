/**
 * The real @fastify/autoload (issue #10.3), in the shape of fastify's demo: the package imports
 * every route file of the project itself, with Node's import() of a `.ts` path. Under devhot it
 * answers as under tsx (each module evaluated once, so the route's db.ts and the server's are one
 * instance), and a save of a route file is served next, with the state of what it did not change
 * kept.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, cliEnv, createFixture, freePort, get, isUpdate, startDevhot, waitForBody } from './helpers/cli.js';

const TSX_CLI = path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

const root = (message: string) => `import type { FastifyInstance } from 'fastify';
import { db } from '../db.js';
export default async function root(app: FastifyInstance): Promise<void> {
  app.get('/', async () => '${message}');
  app.get('/db', async () => \`opened \${(globalThis as { opened?: number }).opened} id \${db.id}\`);
}
`;

const TREE = {
  'package.json': JSON.stringify({ name: 'autoload-demo', type: 'module' }),
  'server.ts': `import { join } from 'node:path';
import Fastify from 'fastify';
import autoload from '@fastify/autoload';
import { db } from './db.js';
const app = Fastify();
await app.register(autoload, { dir: join(import.meta.dirname, 'routes') });
app.get('/server-db', async () => \`id \${db.id}\`);
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
`,
  // What a database pool does: opened once per process, whoever imports it.
  'db.ts': `const g = globalThis as { opened?: number };
g.opened = (g.opened ?? 0) + 1;
export const db = { id: Math.random().toString(36).slice(2) };
`,
  'routes/root.ts': root('v1'),
  'routes/users/index.ts': `import type { FastifyInstance } from 'fastify';
export default async function users(app: FastifyInstance): Promise<void> {
  app.get('/', async () => ['ada', 'grace']);
}
`,
};

/** What a client sees: the routes' bodies, with the pool's random id replaced by whether the server's and the routes' pools are one. */
async function observe(port: number): Promise<string[]> {
  const [home, users, db, serverDb] = await Promise.all(['/', '/users', '/db', '/server-db'].map((p) => get(port, p)));
  const routeId = db!.body.split(' id ')[1];
  return [home!.body, users!.body, db!.body.split(' id ')[0]!, `same pool: ${serverDb!.body === `id ${routeId}`}`];
}

test('@fastify/autoload loads the project routes as under tsx: the same answers, each module evaluated once', async (t) => {
  const fixture = createFixture(t, TREE);
  const tsxPort = await freePort();
  // The tsx command (not `node --import tsx`): autoload recognises tsx by its preload module.
  const tsx = spawn(process.execPath, [TSX_CLI, 'server.ts'], {
    cwd: fixture.root,
    env: cliEnv({ PORT: String(tsxPort) }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let tsxErr = '';
  tsx.stderr.on('data', (chunk: Buffer) => (tsxErr += chunk));
  t.after(() => tsx.kill('SIGKILL'));
  await waitForBody(tsxPort, 'v1').catch((error: Error) => assert.fail(`tsx did not serve: ${error.message}\n${tsxErr}`));
  const underTsx = await observe(tsxPort);
  assert.deepEqual(underTsx, ['v1', '["ada","grace"]', 'opened 1', 'same pool: true']);

  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'v1');
  assert.deepEqual(await observe(port), underTsx, devhot.describe());
});

test('@fastify/autoload: a save of a route file it loaded is served next; the pool is kept', async (t) => {
  const fixture = createFixture(t, TREE);
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'v1');
  const poolBefore = (await get(port, '/server-db')).body;

  for (const version of ['v2', 'v3']) {
    const from = devhot.mark();
    fixture.write('routes/root.ts', root(version));
    await waitForBody(port, version);
    const applied = await devhot.waitEvent(isUpdate('applied'), `the update to ${version}`, { from });
    // autoload imported the route at run time, from the entry: the entry re-runs and imports it anew.
    assert.equal(applied.result.rung, 'entry-reexecuted', devhot.describe());
  }
  assert.deepEqual(await observe(port), ['v3', '["ada","grace"]', 'opened 1', 'same pool: true']);
  assert.equal((await get(port, '/server-db')).body, poolBefore, 'db.ts was not evaluated again');
});
