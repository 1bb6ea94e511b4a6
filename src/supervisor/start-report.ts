/**
 * What devhot says once the first app process has started, or failed to: the app's state for
 * tools, the start failure, the banner, the start's warnings, and the script tag to add by hand
 * under --no-inject. It waits for the first start so that the banner can name the app's URLs
 * and say whether the app is up.
 */
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { AppProcess, StartOutcome } from './app-process.js';
import type { AppReports } from './app-reports.js';
import type { Channel } from './channel.js';
import type { ChannelBridge } from './channel-bridge.js';
import { running } from './restarts.js';

export interface FirstStart {
  config: ResolvedConfig;
  logger: Logger;
  version: string;
  bridge: ChannelBridge;
  reports: AppReports;
  channel: Pick<Channel, 'url' | 'scriptTag'>;
  /** The first app process and how its start went (restarts.ts). */
  app: AppProcess | undefined;
  outcome: StartOutcome;
  /** When devhot began to start (performance.now()). */
  t0: number;
  /** The URLs the app listens on. */
  urls: string[];
}

export function reportStart({ config, logger, version, bridge, reports, channel, app, outcome, t0, urls }: FirstStart): void {
  const alive = running(app);
  bridge.set({ status: outcome.ok ? 'running' : alive ? 'error' : 'stopped', pid: alive ? app.pid : undefined });
  reports.startFailure(outcome, false);
  // A start that hung is stopped: it counts as exited.
  const exited = !outcome.ok && (outcome.exited || !!app?.hung);
  if (exited) {
    // The code or signal it ended with, as node would have; none yet for a start that hung (being stopped).
    const { code = null, signal = null } = app?.exitStatus ?? {};
    logger.log({ event: 'exit', code, signal, reason: 'the app exited while starting; waiting for a change' });
  }
  logger.log({
    event: 'start',
    app: outcome.ok ? 'ready' : exited ? 'exited' : 'failed',
    version,
    readyMs: performance.now() - t0,
    urls,
    entry: config.entry,
    channel: channel.url,
  });
  if (outcome.ok && outcome.result.status === 'applied') {
    for (const message of outcome.result.warnings) logger.log({ event: 'warn', message });
  }
  if (!config.inject) {
    logger.log({
      event: 'info',
      message: `browser client not injected (--no-inject); add process.env.DEVHOT_CLIENT_TAG to your pages: ${channel.scriptTag()}`,
    });
  }
}
