/**
 * Listening as under node: devhot holds a copy of each listening socket (for restarts and the
 * fallback page), which must not change what the app can do with its own. A server closed and
 * listened again on the same port (an app's own graceful restart, a cluster primary's handle)
 * answers again, as under plain node, where the port is free once closed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { cliEnv, createFixture, freePort, get, startDevhot, waitForBody } from './helpers/cli.js';

/** GET /again closes the server and listens anew on the same port; each listen counts a generation. */
const SERVER = `import http from 'node:http';
let generation = 0;
const make = () =>
  http.createServer((req, res) => {
    if (req.url === '/again') server.close(() => (server = make()).listen(Number(process.env.PORT), '127.0.0.1', () => generation++));
    res.end(\`generation \${generation}\`);
  });
let server = make();
server.listen(Number(process.env.PORT), '127.0.0.1', () => generation++);
`;

/** What a client sees across two close-and-listen cycles. */
async function cycle(port: number): Promise<string[]> {
  const seen = [await waitForBody(port, 'generation 1')];
  for (const next of ['generation 2', 'generation 3']) {
    await get(port, '/again');
    // Under node, a request between the close and the new listen is refused: waitForBody polls past it.
    seen.push(await waitForBody(port, next, '/', 5000));
  }
  return seen;
}

test('a server closed and listened again on its port answers again, as under node', async (t) => {
  const fixture = createFixture(t, { 'server.mjs': SERVER });
  const nodePort = await freePort();
  const node = spawn(process.execPath, ['server.mjs'], { cwd: fixture.root, env: cliEnv({ PORT: String(nodePort) }), stdio: 'ignore' });
  t.after(() => node.kill('SIGKILL'));
  const underNode = await cycle(nodePort);
  assert.deepEqual(underNode, ['generation 1', 'generation 2', 'generation 3']);

  const port = await freePort();
  const devhot = await startDevhot(t, { cwd: fixture.root, args: ['server.mjs'], env: { PORT: String(port) } });
  assert.deepEqual(await cycle(port), underNode, devhot.describe());
  assert.deepEqual(
    devhot.find((e) => e.event === 'error'),
    [],
    devhot.describe(),
  );
});
