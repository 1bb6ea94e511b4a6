/**
 * The save path made ready while the app is idle after a start: esbuild's service running, and
 * the rewrite (acorn, magic-string, the reference walk) compiled by V8 and past its first tiers.
 * After a start from the disk cache neither had run: the first save then waited ~50 ms for
 * esbuild's process to start and 13-18 ms for a rewrite of a 45-line module in cold code, and
 * took 96 ms from the write to the new response instead of 12-20 (the CLI bench's 3,000-module
 * project, /tmp/drive2.mjs, saves 300 ms apart, Node 20, 2 cores, 2026-11-30); with the warm-up,
 * 22-26 ms. Twenty rewrites of this module (~60 ms of CPU, one per turn of the event loop, so
 * requests are served between them) took the next rewrite from 13 ms to 6 ms, and later ones,
 * 300 ms apart, from 3.7 to 2.4 ms at the median.
 */

/** A small module in the shapes server code has: imports, types, a class, closures, exports. */
export const WARM_UP_SOURCE = `import { createServer, type IncomingMessage } from 'node:http';
import * as path from 'node:path';
import type { Server } from 'node:net';

export interface Options {
  port: number;
  host?: string;
  routes: Record<string, (req: IncomingMessage) => Promise<string>>;
}

export enum Level {
  Info = 'info',
  Warn = 'warn',
}

export class Registry<T extends object> {
  readonly #items = new Map<string, T>();
  private count = 0;
  constructor(private readonly name: string) {}
  add(key: string, item: T): this {
    this.#items.set(key, item);
    this.count++;
    return this;
  }
  get size(): number {
    return this.count;
  }
}

let served = 0;
export const registry = new Registry<{ level: Level }>('main');

export async function start({ port, host = '127.0.0.1', routes }: Options): Promise<Server> {
  const server = createServer(async (req, res) => {
    const handler = routes[req.url ?? '/'] ?? routes['/'];
    const body = handler ? await handler(req) : \`\${path.basename(req.url ?? '')} not found\`;
    served += 1;
    res.writeHead(handler ? 200 : 404, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}

export default { start, served: () => served, level: Level.Info as Level };
`;

/** Rewrites of WARM_UP_SOURCE after a start (see above). */
export const WARM_UP_ROUNDS = 20;

/** The next turn of the event loop. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
