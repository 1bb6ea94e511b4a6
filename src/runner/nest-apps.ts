/**
 * NestJS apps go with the module instance that created them. A save of a controller or service
 * re-executes up to main.ts, whose new app takes the listening socket over (app/listen.ts); the
 * old app must then be closed, so that its `onModuleDestroy`, `beforeApplicationShutdown` and
 * `onApplicationShutdown` hooks run (database pools, queues, timers of its providers), with no
 * code from the user.
 *
 * How devhot tells which app an instance created: when user code loads `@nestjs/core`, its
 * factory's `create`, `createApplicationContext` and `createMicroservice` are wrapped once, to
 * note the app they resolve to as the calling instance's (resource-tracking.ts: the instance
 * evaluating, else the nearest project frame on the stack, `bootstrap()` in main.ts).
 *
 * When: once that instance is replaced (its update committed) or pruned, and once the app no
 * longer listens, i.e. its server was retired because its successor listens on the socket. So
 * the old app serves until the new one listens, and keeps serving if the new one never does (a
 * provider that throws while the new app starts). An app that does not listen closes at once.
 * An app the user closed (`module.hot.dispose(() => app.close())`) is not closed twice.
 */
import type { EventEmitter } from 'node:events';
import type net from 'node:net';
import { SERVER_RETIRED } from '../shared/server-retired.js';

export interface NestApp {
  close(): Promise<void>;
  getHttpServer?(): unknown;
  [kClosed]?: boolean;
}

/** Set on an app (its own object, not Nest's proxy of it) when its close() is called. */
const kClosed = Symbol('devhot.nestAppClosed');
const FACTORY_METHODS = ['create', 'createApplicationContext', 'createMicroservice'] as const;
const patched = new WeakSet<object>();
/** Closes under way, so the runner's close() waits for their hooks before the process ends. */
const closing = new Set<Promise<void>>();

/** `@nestjs/core`, as a require() returns it or an import's namespace (its CommonJS exports as `default`). */
const NEST_CORE = /(?:^|[/\\])@nestjs[/\\]core(?:[/\\]index\.js)?$/;

/**
 * A package user code loaded (`name`: its specifier or resolved id): if it is `@nestjs/core`,
 * note the apps its factory makes. `caller()`, asked at the call, says who gets the app once made.
 */
export function noticeNestCore(name: string, loaded: unknown, caller: () => ((app: NestApp) => void) | undefined): void {
  if (!NEST_CORE.test(name)) return;
  const core = ((loaded as { NestFactory?: unknown }).NestFactory ? loaded : (loaded as { default?: unknown }).default) as
    | { NestFactory?: object; NestApplicationContext?: { prototype: Record<string, unknown> } }
    | undefined;
  // The factory is exported as its one instance, NestFactory; its class is not.
  const factory = core?.NestFactory ? (Object.getPrototypeOf(core.NestFactory) as Record<string, unknown>) : undefined;
  const context = core?.NestApplicationContext?.prototype;
  if (!factory || !context || patched.has(factory)) return;
  patched.add(factory);
  for (const method of FACTORY_METHODS) {
    const make = factory[method];
    if (typeof make !== 'function') continue;
    factory[method] = function devhotNestFactory(this: unknown, ...args: unknown[]) {
      const own = caller();
      const made = make.apply(this, args) as Promise<NestApp>;
      // The user's promise is returned as it is; a rejection is theirs to handle.
      if (own) made.then(own, () => {});
      return made;
    };
  }
  const close = context.close as (this: NestApp, ...args: unknown[]) => Promise<void>;
  context.close = function devhotNestClose(this: NestApp, ...args: unknown[]) {
    this[kClosed] = true;
    return close.apply(this, args);
  };
}

/** Close an app whose instance was replaced: once it no longer listens, unless it was closed already. */
export function closeNestApp(app: NestApp): void {
  if (app[kClosed]) return;
  const server = app.getHttpServer?.() as net.Server | undefined;
  if (!server?.listening) return void track(app.close());
  const events = server as EventEmitter;
  const done = () => {
    events.off(SERVER_RETIRED, done);
    events.off('close', done);
    if (!app[kClosed]) track(app.close());
  };
  events.once(SERVER_RETIRED, done);
  events.once('close', done);
}

function track(promise: Promise<void>): void {
  const settled = promise.finally(() => closing.delete(settled));
  closing.add(settled);
}

/** Wait for the apps being closed (their shutdown hooks), at most `timeout` ms. */
export async function settleNestCloses(timeout: number): Promise<void> {
  if (closing.size === 0) return;
  const bound = new Promise<void>((resolve) => setTimeout(resolve, timeout).unref());
  await Promise.race([Promise.allSettled(closing), bound]);
}
