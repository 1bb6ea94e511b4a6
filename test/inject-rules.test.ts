/**
 * The rules of HTML injection that are not about transport: where the real `</body>` is
 * (html-scan.ts), what a Content-Security-Policy gets (csp.ts), partial responses, and which
 * Hosts get the tag. Pure functions first, then real servers in this process (the patch is per
 * process; this file installs it for itself): node:http, and express with helmet's defaults.
 */
import { listen, rawRequest } from './helpers/http.js';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import express from 'express';
import helmet from 'helmet';
import { amendCsp, tagNonce } from '../src/app/csp.js';
import { bodyCloseIndex } from '../src/app/html-scan.js';
import { installHtmlInjection } from '../src/app/inject.js';
import { hostRuleFor } from '../src/shared/host-rules.js';

const SOURCES = { script: 'http://127.0.0.1:1', connect: 'ws://127.0.0.1:1' };
const TAG = '<script type="module" src="http://127.0.0.1:1/@devhot/client.js?token=t"></script>';
installHtmlInjection(TAG);

// ---------------------------------------------------------------------------------------------
// Where the tag goes

test('the real </body>: not one in a script string, a comment, a template, a textarea, a style, a title or an attribute', () => {
  const tail = '<p>end</p></body></html>';
  for (const decoy of [
    '<script>const s = "</body>";</script>',
    "<script type='module'>document.write('</body>')</script>",
    '<!-- old layout: </body> -->',
    '<template><div></div></body></template>',
    '<template><template></body></template></body></template>',
    '<textarea></body></textarea>',
    '<style>/* </body> */</style>',
    '<title></body></title>',
    '<div title="</body>" data-x=\'</body>\'>x</div>',
    '<script/>"</body>"</script>',
    '<SCRIPT>"</BODY>"</SCRIPT >',
  ]) {
    const html = `<!doctype html><html><body>${decoy}${tail}`;
    assert.equal(bodyCloseIndex(html), html.length - '</body></html>'.length, decoy);
  }
  assert.equal(bodyCloseIndex('<html><body>no end'), -1);
  assert.equal(bodyCloseIndex('<html><body><script>"</body>"'), -1, 'an unterminated script has no real </body> after it');
  assert.equal(bodyCloseIndex('<html><body></BODY >'), 12);
});

// ---------------------------------------------------------------------------------------------
// Content-Security-Policy

const HELMET =
  "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests";

test("CSP: helmet's default policy gets the channel's origin in script-src and a connect-src that copies default-src", () => {
  assert.equal(
    tagNonce([HELMET], () => 'fresh'),
    undefined,
  );
  assert.equal(
    amendCsp(HELMET, SOURCES, undefined),
    "default-src 'self'; base-uri 'self'; font-src 'self' https: data:; form-action 'self'; frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; " +
      "script-src 'self' http://127.0.0.1:1; script-src-attr 'none'; style-src 'self' https: 'unsafe-inline'; upgrade-insecure-requests; connect-src 'self' ws://127.0.0.1:1",
  );
});

test("CSP: default-src 'none' → script-src and connect-src of their own, 'none' replaced", () => {
  assert.equal(
    amendCsp("default-src 'none'", SOURCES, undefined),
    "default-src 'none'; script-src http://127.0.0.1:1; connect-src ws://127.0.0.1:1 'self'",
  );
});

test('CSP: a nonce policy lends its nonce to the tag; strict-dynamic without a nonce gets a fresh one; unsafe-inline policies get a host, never a nonce', () => {
  const nonced = "script-src 'nonce-abc123' 'strict-dynamic'; object-src 'none'";
  assert.equal(
    tagNonce([nonced], () => 'fresh'),
    'abc123',
  );
  assert.equal(amendCsp(nonced, SOURCES, 'abc123'), "script-src 'nonce-abc123' 'strict-dynamic'; object-src 'none'");

  const hashed = "script-src 'sha256-AAAA' 'strict-dynamic'";
  assert.equal(
    tagNonce([hashed], () => 'fresh'),
    'fresh',
  );
  assert.equal(amendCsp(hashed, SOURCES, 'fresh'), "script-src 'sha256-AAAA' 'strict-dynamic' 'nonce-fresh'");

  // Two headers: one with a nonce, one relying on 'unsafe-inline' (a nonce would switch it off).
  const inline = "script-src 'self' 'unsafe-inline'";
  assert.equal(
    tagNonce([inline, nonced], () => 'fresh'),
    'abc123',
  );
  assert.equal(amendCsp(inline, SOURCES, 'abc123'), "script-src 'self' 'unsafe-inline' http://127.0.0.1:1");
});

test('CSP: several policies in one header are each amended; script-src-elem wins over script-src; nothing restricted, nothing added', () => {
  assert.equal(
    amendCsp("script-src 'self', default-src 'none'; img-src *", SOURCES, undefined),
    "script-src 'self' http://127.0.0.1:1, default-src 'none'; img-src *; script-src http://127.0.0.1:1; connect-src ws://127.0.0.1:1 'self'",
  );
  assert.equal(
    amendCsp("script-src 'self'; script-src-elem 'self'; connect-src 'self'", SOURCES, undefined),
    "script-src 'self'; script-src-elem 'self' http://127.0.0.1:1; connect-src 'self' ws://127.0.0.1:1",
  );
  assert.equal(amendCsp("frame-ancestors 'self'", SOURCES, undefined), "frame-ancestors 'self'");
});

// ---------------------------------------------------------------------------------------------
// Real servers

/** A GET, its body as latin1 text (byte for byte: injection must not re-encode a page). */
async function request(port: number, path = '/', headers: http.OutgoingHttpHeaders = {}) {
  const res = await rawRequest(port, path, 'GET', headers);
  return { ...res, body: res.body.toString('latin1') };
}

const PAGE = '<!doctype html><html><body><script>const end = "</body>";</script><p>hi</p></body></html>';

test('the tag goes before the real </body> of a page served by node:http, or at the end when there is none', async (t) => {
  // HTML lets a page leave out </body>; the one in the script string is not the end of the body.
  const noEnd = '<!doctype html><html><body><p>hi</p><script>const end = "</body>";</script>';
  const commented = `${PAGE}<!-- the layout used to end here: </body> -->`;
  const pages: Record<string, string> = { '/': PAGE, '/no-end': noEnd, '/commented': commented };
  const port = await listen(t, (req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(pages[req.url ?? '/']);
  });
  assert.equal((await request(port)).body, PAGE.replace('<p>hi</p></body>', `<p>hi</p>${TAG}</body>`));
  assert.equal((await request(port, '/no-end')).body, noEnd + TAG);
  assert.equal((await request(port, '/commented')).body, commented.replace('<p>hi</p></body>', `<p>hi</p>${TAG}</body>`));
});

test('206 and Content-Range responses pass through byte for byte', async (t) => {
  const port = await listen(t, (req, res) => {
    if (req.url === '/206') {
      res.writeHead(206, { 'Content-Type': 'text/html', 'Content-Range': `bytes 0-${PAGE.length - 1}/${PAGE.length + 10}` });
    } else {
      // A Content-Range on a 200 is odd, but it still describes a part.
      res.setHeader('Content-Type', 'text/html');
      res.setHeader('Content-Range', `bytes 0-${PAGE.length - 1}/${PAGE.length}`);
    }
    res.end(PAGE);
  });
  for (const path of ['/206', '/range']) {
    const res = await request(port, path);
    assert.equal(res.body, PAGE, path);
  }
});

test('only requests for this machine get the tag: a DNS-rebinding Host gets the page untouched', async (t) => {
  const port = await listen(t, (_req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(PAGE);
  });
  for (const host of [
    `localhost:${port}`,
    `127.0.0.1:${port}`,
    `127.9.9.9:${port}`,
    `[::1]:${port}`,
    `app.localhost:${port}`,
    'LOCALHOST',
  ]) {
    assert.ok((await request(port, '/', { Host: host })).body.includes(TAG), host);
  }
  for (const host of [`evil.example:${port}`, 'localhost.evil.example', '127.0.0.1.nip.io', `192.168.1.20:${port}`, '[::ffff:7f00:1]']) {
    assert.equal((await request(port, '/', { Host: host })).body, PAGE, `Host: ${host}`);
  }
  // Exposed with --host 0.0.0.0: IP literals (which cannot be rebound) get it too, names still not.
  installHtmlInjection(TAG, { hosts: hostRuleFor('0.0.0.0') });
  t.after(() => installHtmlInjection(TAG));
  assert.ok((await request(port, '/', { Host: `192.168.1.20:${port}` })).body.includes(TAG));
  assert.equal((await request(port, '/', { Host: `evil.example:${port}` })).body, PAGE);
});

test("express + helmet's defaults: the page's CSP allows the client and nothing else changes", async (t) => {
  const app = express();
  app.use(helmet());
  app.get('/', (_req, res) => res.type('html').send(PAGE));
  app.get('/plain', (_req, res) => res.type('html').send(PAGE));
  const port = await listen(t, app);
  const res = await request(port);
  assert.ok(res.body.includes(TAG), res.body);
  const csp = String(res.headers['content-security-policy']);
  assert.match(csp, /script-src 'self' http:\/\/127\.0\.0\.1:1;/);
  assert.match(csp, /connect-src 'self' ws:\/\/127\.0\.0\.1:1$/);
  // A request from elsewhere gets neither the tag nor a wider policy.
  const foreign = await request(port, '/plain', { Host: 'evil.example' });
  assert.equal(foreign.body, PAGE);
  assert.doesNotMatch(String(foreign.headers['content-security-policy']), /127\.0\.0\.1:1/);
});

test('a nonce policy: the tag carries the page nonce; several CSP headers (writeHead array) are each amended', async (t) => {
  const port = await listen(t, (_req, res) => {
    res.writeHead(200, [
      'Content-Type',
      'text/html',
      'Content-Security-Policy',
      "script-src 'nonce-r4nd0m' 'strict-dynamic'; default-src 'self'",
      'Content-Security-Policy',
      "script-src 'self' 'unsafe-inline'",
      'Content-Security-Policy-Report-Only',
      "default-src 'none'",
    ]);
    res.end(PAGE);
  });
  const res = await request(port);
  assert.ok(res.body.includes(TAG.replace('<script ', '<script nonce="r4nd0m" ')), res.body);
  assert.deepEqual(String(res.headers['content-security-policy']).split(', '), [
    "script-src 'nonce-r4nd0m' 'strict-dynamic'; default-src 'self'; connect-src 'self' ws://127.0.0.1:1",
    "script-src 'self' 'unsafe-inline' http://127.0.0.1:1",
  ]);
  assert.equal(
    res.headers['content-security-policy-report-only'],
    "default-src 'none'; script-src http://127.0.0.1:1; connect-src ws://127.0.0.1:1 'self'",
  );
});
