/**
 * HTML injection (src/app/inject.ts) against real servers in this process: node:http, express,
 * fastify and hono's node-server. The patch is per process; this file installs it for itself.
 */
import { listen, type RawResponse, rawRequest as request } from './helpers/http.js';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import zlib from 'node:zlib';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { installHtmlInjection } from '../src/app/inject.js';

const TAG = '<script type="module" src="http://127.0.0.1:1/@devhot/client.js?token=t"></script>';
installHtmlInjection(TAG);
// A second call must not wrap the wrappers (a tag injected twice would show up below).
installHtmlInjection(TAG);

const PAGE = '<!doctype html><html><head><title>é</title></head><body><h1>héllo</h1></BODY></html>';
const INJECTED = PAGE.replace('</BODY>', `${TAG}</BODY>`);

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

/** The tag is in the page exactly once, before </body>, and Content-Length says the truth. */
function assertInjected(res: RawResponse, expected = INJECTED): void {
  assert.equal(res.status, 200);
  const body = res.body.toString('utf8');
  assert.equal(count(body, TAG), 1, `tag once in ${body}`);
  assert.equal(body, expected);
  if (res.headers['content-length'] !== undefined) assert.equal(Number(res.headers['content-length']), res.body.length);
}

test('node:http: end(string) and end(Buffer) get the tag; Content-Length is corrected', async (t) => {
  const port = await listen(t, (req, res) => {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    if (req.url === '/buffer') {
      const body = Buffer.from(PAGE);
      res.setHeader('Content-Length', body.length);
      res.end(body);
    } else if (req.url === '/writehead') {
      res.writeHead(200, { 'content-type': 'text/html', 'Content-Length': String(Buffer.byteLength(PAGE)) }).end(PAGE);
    } else if (req.url === '/array') {
      res.writeHead(200, ['Content-Type', 'text/html', 'Content-Length', String(Buffer.byteLength(PAGE)), 'X-A', '1']);
      res.end(PAGE);
    } else if (req.url === '/nobody') {
      res.end('<!DOCTYPE html><p>no body element</p>');
    } else {
      res.setHeader('Content-Length', Buffer.byteLength(PAGE));
      res.end(PAGE);
    }
  });
  assertInjected(await request(port, '/'));
  assertInjected(await request(port, '/buffer'));
  assertInjected(await request(port, '/writehead'));
  const array = await request(port, '/array');
  assertInjected(array);
  assert.equal(array.headers['x-a'], '1');
  // No Content-Length given: chunked or computed by Node, either way the whole body arrives.
  assertInjected(await request(port, '/nobody'), `<!DOCTYPE html><p>no body element</p>${TAG}`);
});

test('express 5 res.send(html)', async (t) => {
  const app = express();
  app.get('/', (_req, res) => void res.send(PAGE));
  app.get('/json', (_req, res) => void res.json({ html: PAGE }));
  app.get('/big', (_req, res) => void res.send(PAGE.replace('<h1>', `<h1>${'x'.repeat(5000)}`)));
  const port = await listen(t, app);
  const res = await request(port);
  assertInjected(res);
  const big = await request(port, '/big');
  assertInjected(big, INJECTED.replace('<h1>', `<h1>${'x'.repeat(5000)}`));
  // No ETag on an injected page: it would describe the page without the tag (and its token).
  assert.equal(res.headers.etag, undefined);
  const json = await request(port, '/json');
  const etag = json.headers.etag!;
  assert.ok(etag, 'express still tags other responses');
  // A conditional GET that express answers 304 stays empty.
  const notModified = await request(port, '/json', 'GET', { 'if-none-match': etag });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.body.length, 0);
  assert.equal((await request(port, '/', 'GET', { 'if-none-match': '"anything"' })).status, 200);
});

test('fastify 5 reply.type(text/html).send(html)', async (t) => {
  const app = Fastify();
  app.get('/', async (_req, reply) => reply.type('text/html').send(PAGE));
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const port = (app.server.address() as AddressInfo).port;
  assertInjected(await request(port));
});

test('hono c.html() on @hono/node-server', async (t) => {
  const app = new Hono();
  app.get('/', (c) => c.html(PAGE));
  app.get('/headers', (c) => {
    c.header('X-Extra', 'yes');
    return c.html(PAGE);
  });
  app.get('/response', () => new Response(PAGE, { headers: { 'content-type': 'text/html; charset=UTF-8' } }));
  const server = await new Promise<http.Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as http.Server));
  });
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  assertInjected(await request(port, '/'));
  const withHeader = await request(port, '/headers');
  assertInjected(withHeader);
  assert.equal(withHeader.headers['x-extra'], 'yes');
  assertInjected(await request(port, '/response'));
});

test('JSON, gzip-encoded HTML, streamed HTML, HEAD and 304 pass through byte for byte', async (t) => {
  const json = JSON.stringify({ html: PAGE });
  const gz = zlib.gzipSync(PAGE);
  const port = await listen(t, (req, res) => {
    switch (req.url) {
      case '/json':
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) });
        res.end(json);
        return;
      case '/gzip':
        res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Encoding': 'gzip', 'Content-Length': gz.length });
        res.end(gz);
        return;
      case '/stream':
        res.setHeader('Content-Type', 'text/html');
        res.write(PAGE.slice(0, 20));
        res.write(PAGE.slice(20, 40));
        res.end(PAGE.slice(40));
        return;
      case '/stream-head':
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.write(PAGE.slice(0, 30));
        setImmediate(() => res.end(PAGE.slice(30)));
        return;
      case '/utf16':
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-16le' });
        res.end(Buffer.from(PAGE, 'utf16le'));
        return;
      case '/304':
        res.writeHead(304, { 'Content-Type': 'text/html' });
        res.end();
        return;
      default:
        res.setHeader('Content-Type', 'text/html');
        res.setHeader('Content-Length', Buffer.byteLength(PAGE));
        res.end(PAGE);
    }
  });
  const j = await request(port, '/json');
  assert.equal(j.body.toString(), json);
  assert.equal(Number(j.headers['content-length']), Buffer.byteLength(json));

  const g = await request(port, '/gzip');
  assert.deepEqual(g.body, gz);
  assert.equal(zlib.gunzipSync(g.body).toString(), PAGE);

  assert.equal((await request(port, '/stream')).body.toString(), PAGE);
  assert.equal((await request(port, '/stream-head')).body.toString(), PAGE);
  assert.deepEqual((await request(port, '/utf16')).body, Buffer.from(PAGE, 'utf16le'));

  const head = await request(port, '/', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(Number(head.headers['content-length']), Buffer.byteLength(PAGE), 'HEAD keeps the length of the page as it is');
  assert.equal(head.body.length, 0);

  const nm = await request(port, '/304');
  assert.equal(nm.status, 304);
  assert.equal(nm.body.length, 0);
});

test('a page that already has the client (added by hand) is left alone', async (t) => {
  const page = `<html><body><script type="module" src="/@devhot/client.js"></script></body></html>`;
  const port = await listen(t, (_req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(page);
  });
  assert.equal((await request(port)).body.toString(), page);
});

test('an HTML fragment (no </body>, no doctype or <html>) passes through untouched; a page without </body> gets the tag at the end', async (t) => {
  const fragment = '<li class="item">new row</li>';
  const page = '<!doctype html><title>x</title><p>no body close tag';
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(req.url === '/fragment' ? fragment : page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  const frag = await (await fetch(`http://127.0.0.1:${port}/fragment`)).text();
  assert.equal(frag, fragment);
  const whole = await (await fetch(`http://127.0.0.1:${port}/page`)).text();
  assert.equal(whole, page + TAG);
});
