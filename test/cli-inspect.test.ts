/**
 * `--inspect` reaches the app process, and the debugger sees each user module as its .ts file
 * with a source map back to the TypeScript (what DevTools needs for breakpoints in the source).
 */
import assert from 'node:assert/strict';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { test } from 'node:test';
import WebSocket from 'ws';
import { createFixture, freePort, startDevhot, waitForBody } from './helpers/cli.js';
import { poll } from './helpers/poll.js';

interface ScriptParsed {
  scriptId: string;
  url: string;
  sourceMapURL: string;
}

test('--inspect: the app has a debugger, and its .ts modules come with a source map to the TypeScript', async (t) => {
  const fixture = createFixture(t, {
    'server.ts': `
import http from 'node:http';
import { answer } from './answer.js';
http.createServer((_req, res) => res.end(answer(41))).listen(Number(process.env.PORT), '127.0.0.1');
`,
    'answer.ts': `
export function answer(n: number): string {
  const next: number = n + 1;
  return String(next);
}
`,
  });
  const port = await freePort();
  const inspectPort = await freePort();
  await startDevhot(t, { cwd: fixture.root, args: ['server.ts', `--inspect=127.0.0.1:${inspectPort}`], env: { PORT: String(port) } });
  await waitForBody(port, '42');

  const targets = (await poll(async () => {
    const res = await fetch(`http://127.0.0.1:${inspectPort}/json/list`);
    return res.ok ? ((await res.json()) as Array<{ webSocketDebuggerUrl: string }>) : undefined;
  }, 'the inspector endpoint')) as Array<{ webSocketDebuggerUrl: string }>;
  assert.equal(targets.length, 1);

  const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  t.after(() => ws.close());
  const scripts: ScriptParsed[] = [];
  const replies = new Map<number, unknown>();
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown; method?: string; params?: ScriptParsed };
    if (message.method === 'Debugger.scriptParsed' && message.params) scripts.push(message.params);
    if (message.id !== undefined) replies.set(message.id, message.result);
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ id: 1, method: 'Debugger.enable' }));

  const script = await poll(() => scripts.find((s) => s.url.endsWith('/answer.ts')), 'answer.ts among the parsed scripts');
  assert.match(script.sourceMapURL, /^data:application\/json;base64,/);
  const map = JSON.parse(Buffer.from(script.sourceMapURL.split(',')[1]!, 'base64').toString('utf8')) as SourceMapPayload & {
    sourcesContent: string[];
  };
  assert.ok(map.sources[0]!.endsWith('answer.ts'), map.sources.join());
  assert.match(map.sourcesContent[0]!, /const next: number = n \+ 1;/);
  assert.ok(map.mappings.length > 0);

  // The map must send what V8 runs to the right TypeScript line: `return String(next)` is line 4.
  ws.send(JSON.stringify({ id: 2, method: 'Debugger.getScriptSource', params: { scriptId: script.scriptId } }));
  const { scriptSource } = (await poll(() => replies.get(2), 'the script source')) as { scriptSource: string };
  const generated = scriptSource.split('\n');
  const line = generated.findIndex((l) => l.includes('return String(next)'));
  assert.ok(line > 0, scriptSource);
  const entry = new SourceMap(map).findEntry(line, generated[line]!.indexOf('return')) as { originalLine: number; originalColumn: number };
  assert.equal(entry.originalLine + 1, 4);
  assert.equal(entry.originalColumn + 1, 3);
});
