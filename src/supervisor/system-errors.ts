/**
 * Failures of the system under the supervisor (no process, no descriptor) as errors with a code,
 * a message that names what failed and a fix. None of them stops devhot: the process that serves
 * keeps serving, and the next save retries.
 */
import { ErrorCodes } from '../errors.js';
import type { ErrorPayload } from '../shared/results.js';

const DESCRIPTOR_CODES = new Set(['EMFILE', 'ENFILE']);

function codeOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function isDescriptorError(error: unknown): boolean {
  return DESCRIPTOR_CODES.has(codeOf(error) ?? '');
}

/** devhot ran out of file descriptors while doing `what` (a sentence fragment). */
export function descriptorError(what: string, error: unknown): ErrorPayload {
  const code = codeOf(error) ?? 'EMFILE';
  return {
    code: ErrorCodes.DESCRIPTORS,
    message: `devhot ran out of file descriptors (${code}) ${what}`,
    fix: `Close connections to devhot or files it holds, or raise the limit (\`ulimit -n\`). devhot keeps running; the next save retries.`,
  };
}

/**
 * A new app process could not be started: the spawn failed with EAGAIN (process limit), ENOMEM,
 * EMFILE (descriptors), or the environment could not be read.
 */
export function spawnError(error: unknown): ErrorPayload {
  if (isDescriptorError(error)) return descriptorError('starting the app process', error);
  const code = codeOf(error);
  const why =
    code === 'EAGAIN'
      ? 'the system refused a new process (EAGAIN: too many processes, see `ulimit -u`)'
      : code === 'ENOMEM'
        ? 'the system has no memory for a new process (ENOMEM)'
        : messageOf(error);
  return {
    code: ErrorCodes.SPAWN,
    message: `devhot could not start the app process: ${why}`,
    fix: 'Free memory or processes; the previous process (if any) keeps serving, and the next save retries.',
  };
}
