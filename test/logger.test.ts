/**
 * The logger's time stamp: the local wall clock as HH:MM:SS, as Node's own ICU formats it for a
 * 24-hour locale, without devhot loading ICU's data to get it (logger.ts says what that cost).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { clockTime, createLogger } from '../src/logger.js';

const plain = new Proxy({}, { get: () => (text: string) => text }) as Parameters<typeof createLogger>[0]['colors'];
const savedTz = process.env.TZ;

describe('the logger time stamp', () => {
  after(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it('is the local time, as en-GB formats it, in zones on either side of UTC', () => {
    const instants = ['2026-12-02T08:05:09Z', '2026-12-02T23:59:59Z', '2026-07-01T00:00:00Z', '2026-03-29T01:30:00Z'];
    for (const tz of ['UTC', 'Asia/Kolkata', 'America/Los_Angeles', 'Europe/London']) {
      // Node reads TZ again when it changes.
      process.env.TZ = tz;
      for (const iso of instants) {
        const date = new Date(iso);
        assert.equal(clockTime(date), date.toLocaleTimeString('en-GB', { hour12: false }), `${iso} in ${tz}`);
      }
    }
  });

  it('starts each human line', () => {
    const lines: string[] = [];
    const logger = createLogger({ root: '/', json: false, clearScreen: false, colors: plain, write: (text) => lines.push(text) });
    const before = Date.now();
    logger.log({ event: 'info', message: 'hello' });
    const match = /^(\d\d):(\d\d):(\d\d) hello\n$/.exec(lines.join(''));
    assert.ok(match, `got ${JSON.stringify(lines.join(''))}`);
    // The stamp is one of the seconds the call spanned.
    const stamps = new Set([clockTime(new Date(before)), clockTime(new Date())]);
    assert.ok(stamps.has(`${match[1]}:${match[2]}:${match[3]}`), `${match[0]} against ${[...stamps]}`);
  });
});
