/**
 * A request handler that throws synchronously (issue #11.11), on node:http under devhot: the
 * request used to hang (devhot keeps the app alive on uncaught errors). It gets the answer
 * express's default handler gives in development, which this test takes from express itself,
 * and the error is reported as uncaught errors are, with its frame. The app keeps serving, on
 * the same keep-alive connection too.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import { createFixture, freePort, startDevhot, waitForBody } from './helpers/cli.js';

const SERVER = `import http from 'node:http';
http.createServer((req, res) => {
  if (req.url === '/boom') throw new Error('kaboom');
  res.end('ok');
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, path: string, agent: http.Agent | false = false): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} got no answer within 3 s`)));
    req.on('error', reject);
  });
}

/** What express 5's default handler answers for `throw new Error('kaboom')` in a route. */
async function expressAnswer(t: { after(fn: () => unknown): void }): Promise<Raw> {
  const app = express();
  app.get('/boom', () => {
    throw new Error('kaboom');
  });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const env = process.env.NODE_ENV;
  delete process.env.NODE_ENV; // finalhandler reads it per request: development
  try {
    return await request((server.address() as AddressInfo).port, '/boom');
  } finally {
    if (env !== undefined) process.env.NODE_ENV = env;
  }
}

/** The page with the stack and devhot's client tag taken out, to compare shapes. */
const skeleton = (body: string) => body.replace(/<script type="module"[^>]*><\/script>/, '').replace(/<pre>[\s\S]*<\/pre>/, '<pre>…</pre>');

test("node:http: a synchronous throw in a handler answers 500 like express's default handler, reports the error with its frame, and the app keeps serving", async (t) => {
  const fixture = createFixture(t, { 'server.ts': SERVER });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, 'ok');

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const res = await request(port, '/boom', agent);
  const reference = await expressAnswer(t);
  assert.equal(res.status, reference.status);
  for (const name of ['content-type', 'x-content-type-options']) assert.equal(res.headers[name], reference.headers[name], name);
  assert.match(String(res.headers['content-security-policy']), /^default-src 'none'/);
  assert.equal(skeleton(res.body), skeleton(reference.body));
  // The stack as express shows it, with the .ts source's line.
  assert.match(res.body, /<pre>Error: kaboom<br> &nbsp; &nbsp;at .*server\.ts:3:/);
  assert.match(reference.body, /<pre>Error: kaboom<br> &nbsp; &nbsp;at /);

  const reported = await devhot.waitEvent((e) => e.event === 'error' && e.source === 'uncaught', 'the reported error');
  assert.equal(reported.error.file, fixture.file('server.ts'));
  assert.equal(reported.error.line, 3);
  assert.match(reported.error.frame, /> 3 \| +if \(req\.url === '\/boom'\) throw new Error\('kaboom'\);/);

  // The same keep-alive connection goes on, and so does the app.
  const next = await request(port, '/', agent);
  assert.equal(next.body, 'ok');
  assert.equal(devhot.find((e) => e.event === 'exit' || e.event === 'restart').length, 0, devhot.describe());
});
