/**
 * The structured error an update reports: plain data (no ANSI, no class instances), copied field
 * by field so it can go over IPC and the channel as it is.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { DevhotError, ErrorCodes, type SourceLocation } from '../errors.js';
import { kLinkLocation } from './link.js';
import { codeFrame } from './code-frame.js';
import { firstUserFrame } from './stack.js';
import { firstProjectFrame, framesOf } from '../shared/stack-frames.js';
import { LoadError } from './transaction.js';
import type { ErrorPayload, FailurePhase, UpdateResult } from '../shared/results.js';

export type { ErrorPayload };

// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the ANSI colour sequences this removes
const ANSI = /\u001b\[[0-9;]*m/g;

export function toErrorPayload(error: unknown, context: { root: string; file: string | undefined; phase: string }): ErrorPayload {
  const err = error instanceof Error ? error : new Error(String(error));
  const payload: ErrorPayload = {
    code: err instanceof DevhotError ? err.code : ErrorCodes.EVALUATION,
    message: strip(err instanceof DevhotError ? err.message : `${err.name}: ${err.message}`),
  };
  const own = (err as { code?: unknown }).code;
  if (!(err instanceof DevhotError) && typeof own === 'string') payload.errorCode = own;
  const stack = typeof err.stack === 'string' ? strip(err.stack) : undefined;
  if (stack) payload.stack = err instanceof DevhotError ? withoutOwnFrames(stack) : stack;
  if (err instanceof DevhotError) {
    if (err.fix) payload.fix = err.fix;
    // Raised where user code called devhot (a require() of a missing file): that call's place.
    const loc = err.loc ?? firstUserFrame(err);
    if (loc) Object.assign(payload, { file: loc.file, line: loc.line, column: loc.column });
    if (err.frame) payload.frame = err.frame;
  } else if (kLinkLocation in err) {
    // Node's link error (a missing or ambiguous export): at the importer's line.
    payload.code = ErrorCodes.LINK;
    Object.assign(payload, err[kLinkLocation] as SourceLocation);
    payload.fix = 'Export that name from the module, or fix the import; the previous version keeps running.';
  } else {
    // A stack devhot did not map itself (a worker's error re-thrown in the app: the worker's Node
    // mapped it to the .ts source already): its first project frame, read from the text.
    const loc = firstUserFrame(err) ?? (stack ? firstProjectFrame(framesOf(stack), context.root) : undefined);
    if (loc) {
      Object.assign(payload, { file: loc.file, line: loc.line, column: loc.column });
    } else if (context.file) {
      payload.file = context.file;
    }
    payload.fix =
      context.phase === 'link'
        ? 'Check the import; the previous version keeps running.'
        : 'Fix the error and save again; the previous version keeps running.';
  }
  if (!payload.frame && payload.file && payload.line) {
    try {
      payload.frame = codeFrame(readFileSync(payload.file, 'utf8'), payload.line, payload.column ?? 1);
    } catch {
      // The file is gone; the message and stack still say what happened.
    }
  }
  if (payload.file && !payload.message.includes(relative(context.root, payload.file))) {
    payload.message = `${payload.message} (${relative(context.root, payload.file)}${payload.line ? `:${payload.line}:${payload.column ?? 1}` : ''})`;
  }
  return payload;
}

function strip(text: string): string {
  return text.replace(ANSI, '');
}

/** devhot's own files (dist/src/, bundled or not), by path and by URL. */
const OWN = [fileURLToPath(new URL('..', import.meta.url)), new URL('..', import.meta.url).href];

/**
 * A DevhotError's stack without devhot's own frames, or Node's internal ones below them: it
 * reports a problem with the user's input (a missing file, a bad import), and where in devhot
 * that was found is no help to them.
 */
function withoutOwnFrames(stack: string): string {
  const own = (line: string): boolean =>
    line.trimStart().startsWith('at ') && (line.includes('(node:internal/') || OWN.some((dir) => line.includes(dir)));
  return stack
    .split('\n')
    .filter((line, i) => i === 0 || !own(line))
    .join('\n');
}

/**
 * The result of a failed update: the error (unwrapped from a LoadError, whose phase and file it
 * takes unless `phase` is given) as a payload.
 */
export function errorResult(
  root: string,
  files: string[],
  t0: number,
  error: unknown,
  phase?: FailurePhase,
): Extract<UpdateResult, { status: 'error' }> {
  const inner = error instanceof LoadError ? error.error : error;
  const file = error instanceof LoadError ? error.file : undefined;
  phase ??= error instanceof LoadError ? error.phase : 'evaluate';
  return { status: 'error', phase, error: toErrorPayload(inner, { root, file, phase }), files, duration: performance.now() - t0 };
}

/** An error's message, for a one-line warning. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
