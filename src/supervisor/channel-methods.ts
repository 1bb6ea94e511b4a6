/**
 * What a channel client may ask for, the same over the websocket (`request` messages) and over
 * HTTP (the control endpoints): the supervisor answers through these handlers.
 */
import type { AppState, ModuleInfo, RequestMethod } from '../shared/protocol.js';

export interface ChannelHandlers {
  state(): AppState;
  graph(): Promise<ModuleInfo[]>;
  reload(all: boolean): Promise<unknown>;
  restart(): Promise<unknown>;
  /** A tool's custom event, forwarded to the app (`import.meta.hot.on`). */
  custom(event: string, data: unknown): void;
}

export async function serve(handlers: ChannelHandlers, method: RequestMethod, all: boolean): Promise<unknown> {
  switch (method) {
    case 'status':
      return handlers.state();
    case 'graph':
      return await handlers.graph();
    case 'reload':
      return await handlers.reload(all);
    case 'restart':
      return await handlers.restart();
    default: {
      const never: never = method;
      throw new Error(`unknown method ${String(never)}`);
    }
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
