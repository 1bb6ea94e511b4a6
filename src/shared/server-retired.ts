/**
 * The event (a symbol, so no listener of the app's own can see it) a server emits when devhot's
 * listen hand-over retires it: another server took its socket over (app/listen.ts). A NestJS app
 * whose module instance was replaced closes then, not before, so it serves until its successor
 * listens (runner/nest-apps.ts). One name for both processes' sides of the contract.
 */
export const SERVER_RETIRED: unique symbol = Symbol.for('devhot.serverRetired') as never;
