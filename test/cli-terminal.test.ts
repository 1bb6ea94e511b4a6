/**
 * devhot in a real terminal: `script` gives it a pseudo-terminal, so stdin is a TTY and the
 * shortcuts are on (CI is unset for the child). `r` restarts with nothing refused, `h` prints
 * help, other lines reach the app's stdin, `q` quits and frees the port.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { test } from 'node:test';
import { BIN, canListen, createFixture, freePort, onCleanup, waitForBody } from './helpers/cli.js';
import { poll } from './helpers/poll.js';

const SERVER = `
import http from 'node:http';
let last = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { last = String(chunk).trim(); });
http
  .createServer((req, res) => res.end(req.url === '/stdin' ? last : String(process.pid)))
  .listen(Number(process.env.PORT), '127.0.0.1');
`;

/** A bounded loop of requests on fresh connections, counting every failure. */
function loadClient(port: number, running: () => boolean) {
  const state = { ok: 0, failures: [] as string[], pids: new Set<string>() };
  const once = () =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          if (res.statusCode === 200) {
            state.ok++;
            state.pids.add(body);
          } else state.failures.push(`status ${res.statusCode}`);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        state.failures.push(e.code ?? e.message);
        resolve();
      });
    });
  const loop = (async () => {
    const deadline = Date.now() + 30_000;
    while (running() && Date.now() < deadline) await once();
  })();
  return { state, loop };
}

test('in a terminal: h shows help, other lines reach the app, r restarts refusing nothing, q quits', async (t) => {
  const fixture = createFixture(t, { 'server.ts': SERVER });
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), NO_COLOR: '1' };
  delete env.CI;
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} server.ts`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: fixture.root,
    env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  onCleanup(t, () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const seen = (text: string, timeout = 15_000) => poll(() => out.includes(text), `"${text}" in the terminal:\n${out}`, timeout, 10);

  await seen('press h + enter');
  const firstPid = await waitForBody(port, (b) => /^\d+$/.test(b));

  child.stdin.write('h\n');
  await seen('to restart the app');
  await seen('to quit');

  child.stdin.write('hello app\n');
  await waitForBody(port, 'hello app', '/stdin');

  let running = true;
  const client = loadClient(port, () => running);
  await poll(() => client.state.ok > 20, 'requests before the restart');
  child.stdin.write('r\n');
  await seen('restart: r pressed');
  await seen('restarted in');
  const secondPid = await waitForBody(port, (b) => /^\d+$/.test(b) && b !== firstPid);
  await poll(() => client.state.pids.has(secondPid), 'the load client to reach the new process');
  running = false;
  await client.loop;
  assert.deepEqual(client.state.failures, [], `${client.state.failures.length} of ${client.state.ok} requests failed across r`);

  child.stdin.write('q\n');
  assert.equal(await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]), 0, out);
  await poll(() => canListen(port), `port ${port} to be free after q`);
});
