/**
 * No feedback loop (issue #11, item 4): devhot's own output redirected into the project
 * (`devhot server.ts --json > events.jsonl`, `devhot server.ts > dev.log`) and a log the app
 * writes there never re-run a failed update. Each line written is a save of a file that is
 * neither a module of the app nor a restart trigger, and such a save runs nothing.
 *
 * The proof that nothing more happened uses saves as a barrier: saves are handled in order, so
 * once a stylesheet saved after the output was written has been handled (devhot prints `css
 * update`), every save of the output before it was handled too; twice, because the first may
 * share a batch with them. A loop (as before the fix, ~26 runs a second) runs again between two
 * barriers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'node:test';
import { BIN, cliEnv, createFixture, freePort, get, onCleanup, waitForBody, type Fixture } from './helpers/cli.js';
import { poll } from './helpers/poll.js';

const SERVER = `import http from 'node:http';
import fs from 'node:fs';
import { route } from './route.js';
http
  .createServer((req, res) => {
    // An app that logs into the project, as many do.
    fs.appendFileSync(new URL('./app.log', import.meta.url), \`\${req.url}\\n\`);
    res.end(route());
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;
const route = (v: string) => `export const route = (): string => '${v}';\n`;

/** devhot with its stdout redirected by the shell into `out` inside the project. */
function runRedirected(t: Parameters<typeof createFixture>[0], fixture: Fixture, port: number, out: string, json: boolean) {
  const command = `exec "${process.execPath}" "${BIN}" server.ts${json ? ' --json' : ''} > ${out} 2>&1`;
  const env = cliEnv({ PORT: String(port) });
  const child = spawn('sh', ['-c', command], { cwd: fixture.root, env, stdio: 'ignore', detached: true });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  onCleanup(t, async () => {
    try {
      process.kill(child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    await exited;
  });
  const text = () => (fs.existsSync(fixture.file(out)) ? fs.readFileSync(fixture.file(out), 'utf8') : '');
  return { text };
}

/** Save a stylesheet twice and wait until devhot has handled both saves (the barrier). */
async function barrier(fixture: Fixture, text: () => string): Promise<void> {
  for (const round of [1, 2]) {
    const before = text().split('css update style.css').length;
    fixture.write('style.css', `body { order: ${round}; }\n`);
    await poll(() => text().split('css update style.css').length > before, `the stylesheet save ${round} to be handled`);
  }
}

for (const [name, out, json, failed] of [
  ['--json > events.jsonl', 'events.jsonl', true, /"status":"error"/g],
  ['> dev.log', 'dev.log', false, /update failed/g],
] as const) {
  test(`devhot ${name} inside the project, and the app's own log there: a failed update runs once`, async (t) => {
    const fixture = createFixture(t, { 'server.ts': SERVER, 'route.ts': route('v1') });
    const port = await freePort();
    const { text } = runRedirected(t, fixture, port, out, json);
    await waitForBody(port, 'v1', '/', 20_000);
    // The watcher is ready once the banner is out.
    await poll(() => /"event":"start"|ready in/.test(text()), 'the start banner', 10_000);

    const failures = () => (text().match(failed) ?? []).length;
    fixture.write('route.ts', 'export const route = (): string => ;\n');
    await poll(() => failures() >= 1, 'the failed update', 10_000);
    await barrier(fixture, text);
    // Once or twice: the watcher looks at a saved file again 70 ms later, which may be a second save.
    const once = failures();
    assert.ok(once <= 2, `the failed update ran ${once} times:\n${text()}`);
    // The app keeps logging into the project, and devhot's output keeps growing: nothing runs.
    for (let i = 0; i < 5; i++) assert.equal((await get(port, `/request-${i}`)).body, 'v1');
    await barrier(fixture, text);
    assert.equal(failures(), once, `the failed update ran again:\n${text()}`);

    // The fix applies.
    fixture.write('route.ts', route('v2'));
    assert.equal(await waitForBody(port, 'v2'), 'v2');
  });
}
