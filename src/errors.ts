/**
 * Every error devhot raises on purpose carries a stable code, a message that names the
 * file/port/value involved, and a fix the user can act on. The README lists the codes.
 */
export const ErrorCodes = {
  ENTRY_NOT_FOUND: 'DEVHOT_ERR_ENTRY_NOT_FOUND',
  RESOLVE: 'DEVHOT_ERR_RESOLVE',
  UNSUPPORTED_FILE: 'DEVHOT_ERR_UNSUPPORTED_FILE',
  TRANSFORM: 'DEVHOT_ERR_TRANSFORM',
  EVALUATION: 'DEVHOT_ERR_EVALUATION',
  LINK: 'DEVHOT_ERR_LINK',
  REQUIRE_ASYNC: 'DEVHOT_ERR_REQUIRE_ASYNC',
  TSCONFIG: 'DEVHOT_ERR_TSCONFIG',
  CLOSED: 'DEVHOT_ERR_CLOSED',
  PORT_IN_USE: 'DEVHOT_ERR_PORT_IN_USE',
  BAD_OPTION: 'DEVHOT_ERR_BAD_OPTION',
  CONFIG: 'DEVHOT_ERR_CONFIG',
  APP_EXITED: 'DEVHOT_ERR_APP_EXITED',
  NO_SESSION: 'DEVHOT_ERR_NO_SESSION',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Where in the user's source an error points, 1-based line and column like editors show. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export interface DevhotErrorOptions {
  /** What the user can do about it, shown under the message. */
  fix?: string;
  loc?: SourceLocation;
  /** A code frame (plain text, no ANSI) around `loc`. */
  frame?: string;
  cause?: unknown;
}

export class DevhotError extends Error {
  readonly code: ErrorCode;
  readonly fix: string | undefined;
  readonly loc: SourceLocation | undefined;
  readonly frame: string | undefined;

  constructor(code: ErrorCode, message: string, options: DevhotErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DevhotError';
    this.code = code;
    this.fix = options.fix;
    this.loc = options.loc;
    this.frame = options.frame;
  }
}

export function isDevhotError(value: unknown): value is DevhotError {
  return value instanceof DevhotError;
}
