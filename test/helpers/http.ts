/**
 * Plain HTTP for tests of what devhot does to responses: one request on a fresh connection (no
 * agent, no keep-alive), and a throwaway server on a port of the kernel's choosing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { After } from './poll.js';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The bytes as they came: tests of injection compare them exactly. */
  body: Buffer;
}

export function rawRequest(port: number, path = '/', method = 'GET', headers: http.OutgoingHttpHeaders = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A server for `handler` on 127.0.0.1, closed after the test; its port. */
export async function listen(t: After, handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}
