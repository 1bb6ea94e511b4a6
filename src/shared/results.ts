/**
 * The outcome vocabulary every process speaks: what an update did (`UpdateResult`), which rung of
 * the reload ladder it took (`Rung`), and an error as plain data (`ErrorPayload`). The runner
 * produces them, the app sends them over IPC, the supervisor logs them and the channel turns them
 * into protocol messages. Types only: this file imports nothing, so browser code may use it too.
 */

/** The rungs of the reload ladder, lowest first. */
export type Rung = 'hot-update' | 'entry-reexecuted' | 'restart';

/** Where a failed update stopped. */
export type FailurePhase = 'transform' | 'link' | 'evaluate';

/** An error as plain data (no ANSI, no class instances), so it can cross IPC and the channel as it is. */
export interface ErrorPayload {
  /** devhot's code (DEVHOT_ERR_*). */
  code: string;
  /** The thrown error's own code, when it has one (Node's ERR_MODULE_NOT_FOUND, ...). */
  errorCode?: string;
  message: string;
  /** Absolute file the error points at. */
  file?: string;
  line?: number;
  column?: number;
  /** Code frame around file:line:column. */
  frame?: string;
  stack?: string;
  fix?: string;
}

interface ResultBase {
  /** The files this update was asked to apply (absolute). */
  files: string[];
  /** Milliseconds inside update(). */
  duration: number;
}

export type UpdateResult =
  | (ResultBase & {
      status: 'applied';
      rung: 'hot-update' | 'entry-reexecuted';
      /** Why the entry re-executed, e.g. "src/db.ts has no accepting importer". */
      reason: string | undefined;
      /** Modules that got a new instance, relative to root, in evaluation order. */
      reexecuted: string[];
      /** Modules whose accept handlers took the update. */
      boundaries: string[];
      /** Modules no longer imported, disposed and dropped. */
      pruned: string[];
      /** Things the user should know that did not stop the update (a dispose handler threw...). */
      warnings: string[];
      /** Workers and forked children started anew because a file they run changed ("worker src/job.ts"). */
      restarted?: string[];
    })
  | (ResultBase & { status: 'needs-restart'; rung: 'restart'; reason: string })
  | (ResultBase & { status: 'error'; phase: FailurePhase; error: ErrorPayload })
  | (ResultBase & { status: 'unchanged' });
