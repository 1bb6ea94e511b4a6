/**
 * Injection through the real `devhot` command: the tag carries the channel's token, so a page
 * requested under a DNS-rebinding Host (a foreign name that resolves to 127.0.0.1) gets no tag,
 * while the same page under this machine's names gets it (issue #11.6, the app side).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { createFixture, freePort, startDevhot, waitForBody } from './helpers/cli.js';

const PAGE = '<!doctype html><html><body><h1>hi</h1></body></html>';
const SERVER = `import http from 'node:http';
http.createServer((_req, res) => {
  res.setHeader('Content-Type', 'text/html');
  res.end(${JSON.stringify(PAGE)});
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

function getAs(port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent: false, headers: { Host: host } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

test('a DNS-rebinding Host gets the page without the tag (and so without the token); localhost gets it', async (t) => {
  const fixture = createFixture(t, { 'server.ts': SERVER });
  const port = await freePort();
  await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  await waitForBody(port, (b) => b.includes('<h1>hi</h1>'));
  assert.match(await getAs(port, `localhost:${port}`), /@devhot\/client\.js\?token=/);
  assert.match(await getAs(port, `127.0.0.1:${port}`), /@devhot\/client\.js\?token=/);
  for (const host of [`rebind.evil.example:${port}`, `localhost.evil.example:${port}`, `10.0.0.7:${port}`]) {
    assert.equal(await getAs(port, host), PAGE, `Host: ${host}`);
  }
});
