/**
 * The devhot command with real servers: node:http, express 5, fastify 5 and hono on
 * @hono/node-server. For each: a save of the route module changes the next response, a syntax
 * error keeps the last good code serving and is reported with file:line:column, and the fix
 * recovers — all in the same process.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFixture, freePort, get, isUpdate, startDevhot, waitForBody } from './helpers/cli.js';

const ROUTE = (message: string) => `// the route's text, edited by the test\nexport const message: string = '${message}';\n`;
/** esbuild rejects `+;`; the error is on line 2 at the `;`. */
const BROKEN_LINE = `export const message: string = 'v2' +;`;
const BROKEN = `// the route's text, edited by the test\n${BROKEN_LINE}\n`;

const servers: Record<string, string> = {
  'node:http': `
import http from 'node:http';
import { message } from './route.js';
http
  .createServer((req, res) => {
    res.end(req.url === '/pid' ? String(process.pid) : message);
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`,
  express: `
import express from 'express';
import { message } from './route.js';
const app = express();
// Plain text, as an API answers: res.send(string) alone would be text/html, which devhot
// injects its browser client into.
app.get('/', (_req, res) => {
  res.type('text/plain').send(message);
});
app.get('/pid', (_req, res) => {
  res.type('text/plain').send(String(process.pid));
});
app.listen(Number(process.env.PORT), '127.0.0.1');
`,
  fastify: `
import Fastify from 'fastify';
import { message } from './route.js';
const app = Fastify();
app.get('/', async () => message);
app.get('/pid', async () => String(process.pid));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
`,
  hono: `
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { message } from './route.js';
const app = new Hono();
app.get('/', (c) => c.text(message));
app.get('/pid', (c) => c.text(String(process.pid)));
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' });
`,
};

for (const [name, server] of Object.entries(servers)) {
  test(`${name}: a route edit is served next, a syntax error keeps the old code serving, the fix recovers`, async (t) => {
    const fixture = createFixture(t, { 'server.ts': server, 'route.ts': ROUTE('v1') });
    const port = await freePort();
    const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
    assert.deepEqual(devhot.events.find((e) => e.event === 'start')?.urls, [`http://127.0.0.1:${port}/`], devhot.describe());

    assert.equal(await waitForBody(port, 'v1'), 'v1');
    const pid = (await get(port, '/pid')).body;
    assert.match(pid, /^\d+$/);

    // A good save: the next responses are the new code's.
    let from = devhot.mark();
    fixture.write('route.ts', ROUTE('v2'));
    await waitForBody(port, 'v2');
    const applied = await devhot.waitEvent(isUpdate('applied'), 'the applied update', { from });
    assert.equal(applied.result.rung, 'entry-reexecuted', devhot.describe());
    assert.deepEqual(applied.result.reexecuted, ['route.ts', 'server.ts']);

    // A syntax error: reported with where it is, and the previous version keeps answering.
    from = devhot.mark();
    fixture.write('route.ts', BROKEN);
    const failed = await devhot.waitEvent(isUpdate('error'), 'the failed update', { from });
    const error = failed.result.error;
    assert.equal(error.file, fixture.file('route.ts'), devhot.describe());
    assert.equal(error.line, 2);
    assert.equal(error.column, BROKEN_LINE.indexOf(';') + 1);
    assert.equal(error.code, 'DEVHOT_ERR_TRANSFORM');
    assert.match(error.frame, /> 2 \| export const message/);
    for (let i = 0; i < 5; i++) {
      const res = await get(port);
      assert.equal(res.status, 200);
      assert.equal(res.body, 'v2');
    }

    // The fix: applied in the same process.
    from = devhot.mark();
    fixture.write('route.ts', ROUTE('v3'));
    await waitForBody(port, 'v3');
    await devhot.waitEvent(isUpdate('applied'), 'the update after the fix', { from });
    assert.equal((await get(port, '/pid')).body, pid, 'no restart happened');
    assert.equal(devhot.find((e) => e.event === 'restart').length, 0, devhot.describe());
    assert.deepEqual(devhot.stray, []);
  });
}
