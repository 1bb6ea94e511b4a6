/**
 * Chromium for tests that need a real browser: Debian's /usr/bin/chromium driven by
 * playwright-core, a fresh profile per page, polling page state with a deadline. Skipped only
 * when the browser is missing outside CI; in CI (.ci/run installs it) a missing browser fails.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { poll, type After } from './poll.js';

const CHROMIUM = '/usr/bin/chromium';

/** A reason to skip, for node:test's `skip` option, or false. */
export const skipWithoutChromium: string | false =
  !fs.existsSync(CHROMIUM) && !process.env.CI
    ? `${CHROMIUM} is missing (apt-get install chromium); browser tests skipped outside CI`
    : false;

/** A fresh browser (own profile directory) with one page; closed and removed after the test. */
export async function openPage(t: After): Promise<Page> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-chromium-'));
  let context: BrowserContext;
  try {
    // launchPersistentContext: playwright refuses --user-data-dir in `args`; this is the way to
    // give it a profile directory of our own.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  } catch (error) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  t.after(async () => {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => process.stderr.write(`browser test: page error: ${error.message}\n`));
  if (process.env.DEBUG_BROWSER) page.on('console', (m) => process.stderr.write(`browser console: ${m.text()}\n`));
  return page;
}

/** Evaluate an expression in the page, polling until truthy (navigation in between is fine). */
export function until(page: Page, expression: string, what: string, timeout = 10_000): Promise<unknown> {
  return poll(() => page.evaluate(expression), what, timeout, 50);
}

export const MARK = 'window.__marker = 1';
export const RELOADED = 'window.__marker === undefined && document.readyState === "complete"';
export const CONNECTED = 'window.__devhot?.connected === true';
export const OVERLAY_TEXT = `document.querySelector('devhot-error-overlay')?.shadowRoot?.textContent ?? ''`;
