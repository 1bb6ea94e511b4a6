/**
 * The supervisor's answers to what tools ask over the channel (channel-methods.ts says what they
 * may ask). Reloads and restarts go through the supervisor's queue like any other; a graph
 * request asks the app, but never waits for ever: a blocked app never answers.
 */
import type { UpdateResult } from '../shared/results.js';
import type { AppProcess } from './app-process.js';
import type { AppReports } from './app-reports.js';
import type { ChannelBridge } from './channel-bridge.js';
import type { ChannelHandlers } from './channel-methods.js';

/** How long a tool's graph request waits for the app when there is no update deadline. */
const GRAPH_TIMEOUT_MS = 5000;

export interface ToolTarget {
  bridge: ChannelBridge;
  reports: AppReports;
  /** The update deadline in ms; 0: none. */
  updateTimeout: number;
  /** The app process serving now. */
  current(): AppProcess | undefined;
  reload(all: boolean): Promise<UpdateResult | undefined>;
  restart(reason: string): Promise<void>;
}

export function toolHandlers(target: ToolTarget): ChannelHandlers {
  return {
    state: () => target.bridge.state(),
    graph: async () => {
      const app = target.current();
      if (!app || app.exited) return [];
      // A blocked app never answers: the tool gets an error rather than waiting for ever.
      const limit = target.updateTimeout || GRAPH_TIMEOUT_MS;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the app did not answer within ${limit} ms (is its event loop blocked?)`)), limit);
      });
      try {
        return await Promise.race([app.graph(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    reload: async (all) => {
      const result = await target.reload(all);
      if (result?.status === 'error') throw new Error(`reload failed (${result.phase}): ${result.error.message}`);
      return result;
    },
    restart: () => target.restart('restart requested by a tool'),
    custom: (event, data) => customEvent(target, event, data),
  };
}

/** A tool's custom event for the app; dropped (with a warning) while too many are on their way. */
function customEvent(target: ToolTarget, event: string, data: unknown): void {
  const app = target.current();
  if (app) target.reports.customEvent(event, app.sendEvent(event, data));
}
