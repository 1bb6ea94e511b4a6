/**
 * Real frameworks through the runner: express 5 and fastify 5 (installed as dev dependencies)
 * serve real HTTP on 127.0.0.1; after an edit the next request gets the new response, on the
 * same port, and no request in between is refused.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { G, expectStatus, startProject } from './helpers/project.js';

/**
 * One request on a fresh connection (`agent: false`). A pooled keep-alive socket (fetch's default)
 * may still point at the server an update just closed; that race belongs to the client.
 */
function get(port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const EXPRESS_MAIN = (key: string) => `
import express from 'express';
import type { Server } from 'node:http';
import { hello } from './routes.ts';

const app = express();
app.get('/', (_req, res) => { res.send(hello()); });
// Listen on the port of the previous instance (port 0 the first time).
const port: number = import.meta.hot?.data.port ?? 0;
const server: Server = await new Promise((resolve, reject) => {
  const s = app.listen(port, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
});
const address = server.address();
globalThis.${key} = typeof address === 'object' && address ? address.port : -1;
import.meta.hot?.dispose(async (data) => {
  data.port = globalThis.${key};
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
`;

test('express 5: editing a route re-executes the entry, which listens again on the same port', async (t) => {
  const K = '__t_express_port';
  const { project, runner } = await startProject(
    t,
    { 'routes.ts': `export const hello = () => 'express v1';\n`, 'main.ts': EXPRESS_MAIN(K) },
    { linkNodeModules: true },
  );
  const port = G[K] as number;
  assert.ok(port > 0);
  assert.equal(await get(port), '200 express v1');

  const result = expectStatus(await runner.update([project.edit('routes.ts', 'v1', 'v2')]), 'applied');
  assert.equal(result.rung, 'entry-reexecuted');
  assert.equal(G[K], port);
  assert.equal(await get(port), '200 express v2');

  // A broken save keeps the last good code serving: a syntax error disposes nothing...
  const syntax = expectStatus(
    await runner.update([project.write('routes.ts', `export const hello = () => { throw new Error('x') ;\n`)]),
    'error',
  );
  assert.equal(syntax.phase, 'transform');
  assert.equal(await get(port), '200 express v2');
  // ...and a module that throws on evaluation gets the disposed entry running its last good version again.
  const thrown = expectStatus(
    await runner.update([project.write('routes.ts', `throw new Error('route broke');\nexport const hello = () => 'never';\n`)]),
    'error',
  );
  assert.equal(thrown.phase, 'evaluate');
  assert.equal(G[K], port);
  assert.equal(await get(port), '200 express v2');
  expectStatus(await runner.update([project.write('routes.ts', `export const hello = () => 'express v3';\n`)]), 'applied');
  assert.equal(await get(port), '200 express v3');
});

test('express 5: a self-accepting router module is swapped without touching the server', async (t) => {
  const K = '__t_express_self';
  const { project, runner } = await startProject(
    t,
    {
      'routes.ts': `import type { Request, Response } from 'express';\nexport function handle(_req: Request, res: Response) { res.json({ v: 1 }); }\nimport.meta.hot?.accept();\n`,
      'main.ts': [
        `import express from 'express';`,
        `import { handle } from './routes.ts';`,
        `const app = express();`,
        `app.get('/api', (req, res) => handle(req, res));`,
        `const server = app.listen(0, '127.0.0.1');`,
        `await new Promise((r) => server.once('listening', r));`,
        `globalThis.${K} = { port: (server.address() as any).port, starts: (globalThis.${K}?.starts ?? 0) + 1 };`,
        `import.meta.hot?.dispose(() => new Promise<void>((r) => server.close(() => r())));`,
      ].join('\n'),
    },
    { linkNodeModules: true },
  );
  const { port } = G[K];
  assert.equal(await get(port, '/api'), '200 {"v":1}');
  const result = expectStatus(await runner.update([project.edit('routes.ts', 'v: 1', 'v: 2')]), 'applied');
  assert.equal(result.rung, 'hot-update');
  assert.deepEqual(result.reexecuted, ['routes.ts']);
  assert.equal(G[K].starts, 1);
  assert.equal(await get(port, '/api'), '200 {"v":2}');
});

test('fastify 5: a route plugin edit re-executes the entry; the app closes and listens again', async (t) => {
  const K = '__t_fastify_port';
  const { project, runner } = await startProject(
    t,
    {
      'routes.ts': [
        `import type { FastifyInstance } from 'fastify';`,
        `export default async function routes(app: FastifyInstance) {`,
        `  app.get('/', async () => ({ from: 'fastify', v: 1 }));`,
        `}`,
      ].join('\n'),
      'main.ts': [
        `import Fastify from 'fastify';`,
        `import routes from './routes.ts';`,
        `const app = Fastify({ logger: false });`,
        `await app.register(routes);`,
        `await app.listen({ port: import.meta.hot?.data.port ?? 0, host: '127.0.0.1' });`,
        `globalThis.${K} = (app.server.address() as any).port;`,
        `import.meta.hot?.dispose(async (data) => { data.port = globalThis.${K}; await app.close(); });`,
      ].join('\n'),
    },
    { linkNodeModules: true },
  );
  const port = G[K] as number;
  assert.equal(await get(port), '200 {"from":"fastify","v":1}');

  const result = expectStatus(await runner.update([project.edit('routes.ts', 'v: 1', 'v: 2')]), 'applied');
  assert.equal(result.rung, 'entry-reexecuted');
  assert.equal(G[K], port);
  assert.equal(await get(port), '200 {"from":"fastify","v":2}');
});

test('requests made while self-accepting updates run are all answered with a whole response', async (t) => {
  const K = '__t_express_load';
  const { project, runner } = await startProject(
    t,
    {
      'routes.ts': `export const hello = () => 'load v1';\nimport.meta.hot?.accept();\n`,
      'main.ts': EXPRESS_MAIN(K),
    },
    { linkNodeModules: true },
  );
  const port = G[K] as number;
  let stop = false;
  const seen = new Set<string>();
  const failures: unknown[] = [];
  const load = (async () => {
    for (let i = 0; i < 2000 && !stop; i++) {
      try {
        seen.add(await get(port));
      } catch (error) {
        failures.push(error);
      }
    }
  })();
  for (let v = 2; v <= 6; v++) {
    expectStatus(
      await runner.update([project.write('routes.ts', `export const hello = () => 'load v${v}';\nimport.meta.hot?.accept();\n`)]),
      'applied',
    );
  }
  stop = true;
  await load;
  assert.deepEqual(failures, []);
  assert.ok(seen.has('200 load v6') || (await get(port)) === '200 load v6');
  for (const body of seen) assert.match(body, /^200 load v[1-6]$/);
});
