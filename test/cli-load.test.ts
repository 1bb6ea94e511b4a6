/**
 * No request is refused or lost because of a reload, on any rung. Two clients send requests
 * back to back on loopback — fetch with its default keep-alive pool, and node:http with a fresh
 * connection per request — while 20 saves go through each rung: hot update (a self-accepting
 * module), entry re-execution (a route edit nothing accepts) and process restart (an --env-file
 * edit). Each save waits until both clients have seen its effect, so the distinct bodies prove
 * that every save took effect.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFixture, freePort, isRestart, onCleanup, isUpdate, startDevhot, waitForBody, type DevhotEvent } from './helpers/cli.js';
import { freshConnectionClient, keepAliveClient } from './helpers/load.js';
import { poll } from './helpers/poll.js';

const SAVES = 20;

const hotModule = (v: string) => `import { state } from './state.js';
state.hot = '${v}';
import.meta.hot?.accept();
`;
const routeModule = (v: string) => `export const route = '${v}';\n`;
const envFile = (v: string) => `TOKEN=${v}\n`;

test('no request fails while 20 saves go through each rung (hot update, entry re-execution, restart)', { timeout: 90_000 }, async (t) => {
  const fixture = createFixture(t, {
    'state.ts': `export const state = { hot: '' };\n`,
    'hot.ts': hotModule('h0'),
    'route.ts': routeModule('r0'),
    '.env': envFile('e0'),
    'server.ts': `
import http from 'node:http';
import { state } from './state.js';
import './hot.js';
import { route } from './route.js';
http
  .createServer((_req, res) => {
    res.end([state.hot, route, process.env.TOKEN, process.pid].join(' '));
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`,
  });
  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.ts', '--env-file', '.env'], env: { PORT: String(port) } });
  await waitForBody(port, (b) => b.startsWith('h0 r0 e0 '));

  let running = true;
  const clients = [keepAliveClient(port, () => running), freshConnectionClient(port, () => running)];
  onCleanup(t, async () => {
    running = false;
    await Promise.all(clients.map((c) => c.loop));
  });
  /** Both clients' latest response has `part` at `index`. */
  const seenByBoth = (index: number, value: string) =>
    poll(() => clients.every((c) => c.latest.split(' ')[index] === value), `both clients to see ${value}`, 15_000, 5);

  /**
   * The value can be seen before its update is reported: a live binding serves the new module
   * while the entry is still re-executing. So wait (bounded) for the events, then count exactly.
   */
  const eventsFor = async (what: (e: DevhotEvent) => boolean, from: number, count: number): Promise<DevhotEvent[]> => {
    // A timeout here is not the failure: the exact count below says what is missing.
    await poll(() => devhot.find(what, from).length >= count, `${count} events`, 15_000, 5).catch(() => {});
    return devhot.find(what, from);
  };
  const rungs: Array<{ name: string; index: number; save: (i: number) => void; prefix: string; check: (from: number) => Promise<void> }> = [
    {
      name: 'hot update',
      index: 0,
      prefix: 'h',
      save: (i) => fixture.write('hot.ts', hotModule(`h${i}`)),
      check: async (from) => {
        const applied = await eventsFor(isUpdate('applied'), from, SAVES);
        assert.equal(
          applied.length,
          SAVES,
          devhot
            .find(() => true, from)
            .map((e) => JSON.stringify(e))
            .join('\n'),
        );
        for (const e of applied) {
          assert.equal(e.result.rung, 'hot-update');
          assert.deepEqual(e.result.reexecuted, ['hot.ts']);
        }
      },
    },
    {
      name: 'entry re-execution',
      index: 1,
      prefix: 'r',
      save: (i) => fixture.write('route.ts', routeModule(`r${i}`)),
      check: async (from) => {
        const applied = await eventsFor(isUpdate('applied'), from, SAVES);
        assert.equal(applied.length, SAVES, devhot.describe());
        for (const e of applied) assert.equal(e.result.rung, 'entry-reexecuted');
      },
    },
    {
      name: 'process restart',
      index: 2,
      prefix: 'e',
      save: (i) => fixture.write('.env', envFile(`e${i}`)),
      check: async (from) => {
        assert.equal((await eventsFor(isRestart('ready'), from, SAVES)).length, SAVES, devhot.describe());
        assert.equal(devhot.find(isRestart('failed'), from).length, 0, devhot.describe());
      },
    },
  ];

  await seenByBoth(0, 'h0');
  for (const rung of rungs) {
    const from = devhot.mark();
    for (let i = 1; i <= SAVES; i++) {
      rung.save(i);
      await seenByBoth(rung.index, `${rung.prefix}${i}`);
    }
    await rung.check(from);
  }
  running = false;
  await Promise.all(clients.map((c) => c.loop));

  for (const c of clients) {
    assert.deepEqual(c.failures, [], `${c.name}: ${c.failures.length} of ${c.ok + c.failures.length} requests failed`);
    assert.ok(c.ok > 3 * SAVES, `${c.name} sent only ${c.ok} requests`);
  }
  const all = clients.flatMap((c) => c.bodies);
  // Never a half-saved module: every response has all its parts.
  const malformed = all.filter((b) => !/^h\d+ r\d+ e\d+ \d+$/.test(b));
  assert.deepEqual([...new Set(malformed)], [], 'responses from a half-applied save');
  for (const rung of rungs) {
    const distinct = new Set(all.map((b) => b.split(' ')[rung.index]));
    assert.equal(distinct.size, SAVES + 1, `${rung.name}: distinct values ${[...distinct].join(',')}`);
  }
  // Only the restarts changed the process.
  assert.equal(new Set(all.map((b) => b.split(' ')[3])).size, SAVES + 1);
  t.diagnostic(`requests: ${clients.map((c) => `${c.name} ${c.ok}`).join(', ')}`);
});
