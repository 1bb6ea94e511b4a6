/**
 * devhot's library API. The CLI is built on these; editors and scripts can use them directly.
 */
export { createRunner } from './runner/runner.js';
export type { Runner, UpdateResult, Rung } from './runner/runner.js';
export type { RunnerOptions, ResolvedRunnerOptions } from './runner/options.js';
export type { ErrorPayload } from './runner/error-payload.js';
export { DevhotError, ErrorCodes, isDevhotError } from './errors.js';
export type { ErrorCode, SourceLocation } from './errors.js';
export type { HotContext as DevhotHotContext } from './runner/hot.js';
