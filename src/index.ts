/**
 * devhot's library API. The CLI is built on these; editors and scripts can use them directly.
 */
export { createRunner } from './runner/runner.js';
export type { Runner } from './runner/runner.js';
export type { UpdateResult, Rung, ErrorPayload, FailurePhase } from './shared/results.js';
export type { RunnerOptions, ResolvedRunnerOptions } from './runner/options.js';
export { DevhotError, ErrorCodes, isDevhotError } from './errors.js';
export type { ErrorCode, SourceLocation } from './errors.js';
export type { HotContext as DevhotHotContext } from './runner/hot.js';
export { connect, readSession, defaultSessionFile } from './tool/connect.js';
export type {
  ConnectOptions,
  DevhotConnection,
  ConnectedMessage,
  MessageOf,
  RequestResults,
  RequestParams,
  ServerMessageType,
} from './tool/connect.js';
export { PROTOCOL_VERSION, CHANNEL_PATH, CLIENT_PATH, parseClientMessage } from './shared/protocol.js';
export type { ServerMessage, ClientMessage, AppState, ModuleInfo, ChannelError, SessionFile, RequestMethod } from './shared/protocol.js';
export { defineConfig, resolveConfig, loadConfigFile, findConfigFile } from './config.js';
export type { DevhotOptions, ResolvedConfig } from './config.js';
export { startSupervisor } from './supervisor/supervisor.js';
export type { Supervisor, SupervisorOptions, SupervisorEvent } from './supervisor/supervisor.js';
export { createLogger } from './logger.js';
export type { Logger, LoggerOptions, LogEvent } from './logger.js';
