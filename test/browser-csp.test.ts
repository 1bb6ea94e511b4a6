/**
 * Content-Security-Policy in a real browser (issue #10.7): the express starters use helmet,
 * whose default policy (`script-src 'self'`, `upgrade-insecure-requests`) blocked the injected
 * client, so saves did not reload the page and errors showed no overlay. Under devhot, in
 * Chromium: the page loads, the client connects with no CSP violation, a save reloads the page
 * and an error shows the overlay, styled. Then a nonce policy with 'strict-dynamic' and a
 * `style-src` without 'unsafe-inline'.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { createFixture, freePort, isUpdate, startDevhot, waitForBody, type Devhot, type Fixture } from './helpers/cli.js';
import { CONNECTED, MARK, OVERLAY_TEXT, openPage, RELOADED, skipWithoutChromium as skip, until } from './helpers/browser.js';
import type { After } from './helpers/poll.js';

const SERVER = (helmetOptions: string) => `
import crypto from 'node:crypto';
import express from 'express';
import helmet from 'helmet';
import { page } from './views.js';
const app = express();
app.use((_req, res, next) => {
  res.locals.nonce = crypto.randomBytes(16).toString('base64');
  next();
});
app.use(helmet(${helmetOptions}));
app.get('/app.js', (_req, res) => void res.type('js').send('window.pageScriptRan = true;'));
app.get('/', (_req, res) => void res.send(page(res.locals.nonce)));
app.listen(Number(process.env.PORT), '127.0.0.1');
`;
const VIEWS = (title: string) => `
export const page = (nonce: string) => \`<!doctype html>
<html>
  <head><title>csp</title><script nonce="\${nonce}" src="/app.js"></script></head>
  <body><h1>${title}</h1></body>
</html>\`;
`;

/** Every CSP violation the page reports, recorded from the first script on. */
const RECORD_VIOLATIONS = `
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
`;

async function openApp(t: After, port: number, devhot: Devhot): Promise<Page> {
  const html = await waitForBody(port, (b) => b.includes('<h1>'));
  assert.match(html, /@devhot\/client\.js/, 'the page has the tag');
  const page = await openPage(t);
  await page.addInitScript(RECORD_VIOLATIONS);
  await page.goto(`http://127.0.0.1:${port}/`);
  await until(
    page,
    CONNECTED,
    `the client to connect; violations: ${await page.evaluate('JSON.stringify(window.__violations)')}${devhot.describe()}`,
  );
  assert.deepEqual(await page.evaluate('window.__violations'), [], 'no CSP violation');
  return page;
}

/** A save reloads the page; a syntax error shows the overlay, styled; its fix removes it. */
async function saveReloadsAndErrorShows(page: Page, fixture: Fixture, devhot: Devhot): Promise<void> {
  await page.evaluate(MARK);
  let from = devhot.mark();
  fixture.write('views.ts', VIEWS('v2'));
  await devhot.waitEvent(isUpdate('applied'), 'the update', { from });
  await until(page, `${RELOADED} && document.querySelector('h1')?.textContent === 'v2'`, 'the reload showing v2');
  await until(page, CONNECTED, 'the client to connect after the reload');

  from = devhot.mark();
  fixture.write('views.ts', `${VIEWS('v3')}const broken = ;\n`);
  await devhot.waitEvent(isUpdate('error'), 'the failed update', { from });
  await until(page, `${OVERLAY_TEXT}.includes('views.ts:')`, 'the overlay naming views.ts');
  // Styled: the page's style-src does not reach the overlay's constructed stylesheet.
  assert.equal(await page.evaluate(`getComputedStyle(document.querySelector('devhot-error-overlay')).position`), 'fixed');
  assert.deepEqual(await page.evaluate('window.__violations'), [], 'no CSP violation');
  fixture.write('views.ts', VIEWS('v3'));
  await until(page, `document.querySelector('h1')?.textContent === 'v3'`, 'the fixed page');
}

test("helmet's default CSP on express: the client connects, a save reloads the page, an error shows the overlay", { skip }, async (t) => {
  const fixture = createFixture(t, { 'server.ts': SERVER(''), 'views.ts': VIEWS('v1') });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  const page = await openApp(t, port, devhot);
  assert.equal(await page.evaluate('window.pageScriptRan'), true, "the page's own script runs");
  await saveReloadsAndErrorShows(page, fixture, devhot);
});

test("a nonce policy with 'strict-dynamic' and style-src 'self': the tag carries the page's nonce; the page's own script still runs", {
  skip,
}, async (t) => {
  const options = `{
  contentSecurityPolicy: {
    directives: {
      scriptSrc: [(_req, res) => \`'nonce-\${(res as any).locals.nonce}'\`, "'strict-dynamic'"],
      styleSrc: ["'self'"],
    },
  },
}`;
  const fixture = createFixture(t, { 'server.ts': SERVER(options), 'views.ts': VIEWS('v1') });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts'], env: { PORT: String(port) } });
  const page = await openApp(t, port, devhot);
  assert.equal(await page.evaluate('window.pageScriptRan'), true, "the page's nonced script runs");
  await saveReloadsAndErrorShows(page, fixture, devhot);
});
