/**
 * Clients that send requests back to back while a test saves files, and record every failure
 * (refused, reset, timed out, non-200): one with fetch's keep-alive pool, one with a fresh
 * connection per request (node:http, agent: false). `latest` is the last body each got.
 */
import http from 'node:http';

export interface Client {
  name: string;
  ok: number;
  failures: string[];
  bodies: string[];
  latest: string;
  loop: Promise<void>;
}

export function keepAliveClient(port: number, running: () => boolean): Client {
  const client: Client = { name: 'fetch (keep-alive)', ok: 0, failures: [], bodies: [], latest: '', loop: Promise.resolve() };
  client.loop = (async () => {
    while (running()) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(10_000) });
        const body = await res.text();
        if (res.status !== 200) client.failures.push(`status ${res.status}: ${body}`);
        else {
          client.ok++;
          client.bodies.push(body);
          client.latest = body;
        }
      } catch (error) {
        client.failures.push(describeError(error));
      }
    }
  })();
  return client;
}

export function freshConnectionClient(port: number, running: () => boolean): Client {
  const client: Client = { name: 'node:http (agent: false)', ok: 0, failures: [], bodies: [], latest: '', loop: Promise.resolve() };
  const once = () =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
    });
  client.loop = (async () => {
    while (running()) {
      try {
        const res = await once();
        if (res.status !== 200) client.failures.push(`status ${res.status}: ${res.body}`);
        else {
          client.ok++;
          client.bodies.push(res.body);
          client.latest = res.body;
        }
      } catch (error) {
        client.failures.push(describeError(error));
      }
    }
  })();
  return client;
}

function describeError(error: unknown): string {
  const e = error as Error & { cause?: Error & { code?: string }; code?: string };
  return `${e.name}: ${e.message}${e.code ? ` (${e.code})` : ''}${e.cause ? ` ← ${e.cause.message}${e.cause.code ? ` (${e.cause.code})` : ''}` : ''}`;
}
