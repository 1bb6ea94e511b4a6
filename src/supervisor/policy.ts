/**
 * The supervisor's decisions, as a plain object: no I/O, no processes, no timers. It answers
 * what a batch of saved files leads to, when a restart is owed and which saves retry it, what an
 * app exit leads to (and after how long), which process is kept when a new one fails to start,
 * what a reload does when no app runs, and that nothing starts once devhot is closing.
 *
 * A saved file that is neither a module of the app (as the app reported its graph), nor a file
 * that may become one, nor a restart trigger, nor a page or stylesheet, runs nothing: a log the
 * app writes into the project, or devhot's own output redirected there (`--json > events.jsonl`),
 * once re-ran a failing update on every line written, forever.
 * supervisor.ts does what the answers say; test/supervisor-policy.test.ts asks the questions
 * without spawning anything.
 */
import { extname, relative } from 'node:path';
import type { FileChange } from '../shared/ipc.js';
import type { UpdateResult } from '../shared/results.js';

export interface PolicyOptions {
  root: string;
  /** false (--no-hot): every source save restarts the process, like `tsx watch`. */
  hot: boolean;
  /** --restart-on-crash: an app that exits on its own is started again, with back-off. */
  restartOnCrash: boolean;
  /**
   * Why a change of this file cannot be applied in-process (the process restarts), or undefined.
   * A function so the source of the rule stays outside the policy (see restartTriggers).
   */
  restartTrigger(file: string): string | undefined;
  /** The files of the app's module graph, as it last reported them. */
  appModules(): ReadonlySet<string>;
}

/** What browsers do with a file they use directly (not a module of the app). */
export type BrowserChange = { type: 'css-update'; path: string } | { type: 'full-reload'; path: string };

export type BatchDecision =
  /** Nothing to do: devhot is closing, or no app runs and nothing it runs on changed. */
  | { action: 'none' }
  /**
   * A new process. It reads every file at start, so the wiring lets these saves complete first
   * (a file may be caught between truncate and write), and the saves made meanwhile are part of
   * the restart.
   */
  | { action: 'restart'; reason: string }
  /** Browsers get `browser`; the app applies `app` in-process (when there are any). */
  | { action: 'update'; browser: BrowserChange[]; app: FileChange[] };

export type ExitDecision =
  /** Not the running app (a retired or replaced one), or devhot is closing. */
  | { action: 'ignore' }
  /** Reported with `reason`; the next save starts a new process. */
  | { action: 'wait'; reason: string }
  /** Reported with `reason`; a restart for `restartReason` is due in `afterMs`. */
  | { action: 'restart'; reason: string; restartReason: string; afterMs: number };

/** When a new process failed to start: which one serves from now on, and what to tell the user. */
export interface FailedStartDecision {
  keep: 'previous' | 'new';
  reason: string;
}

/** Files browsers use directly: a change goes to the channel, not to the app. */
const BROWSER_EXTENSIONS = new Set(['.css', '.html', '.htm']);

/**
 * Code the app may come to run although its graph does not hold it: a new module, one a failed
 * update imported (its rollback dropped it from the graph), or the file a failed import missed.
 */
const CODE_EXTENSIONS = new Set(['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs']);

/** The longest wait between restarts of an app that keeps exiting. */
const MAX_CRASH_BACKOFF_MS = 5000;
const FIRST_CRASH_BACKOFF_MS = 100;

export class SupervisorPolicy {
  /** The reason of a restart whose new process failed to start; the next fitting save retries it. */
  private owed: string | undefined;
  /** Exits in a row without a successful restart between them (for the back-off). */
  private crashes = 0;
  /** Files the standing failure (an update or start that failed) names: a save of one retries it. */
  private failing = new Set<string>();
  private closing = false;

  constructor(private readonly options: PolicyOptions) {}

  get restartOwed(): string | undefined {
    return this.owed;
  }

  /** From now on nothing starts: batches, restarts and exits lead to nothing. */
  close(): void {
    this.closing = true;
  }

  /** False once devhot is closing: no new process may start. */
  get mayStart(): boolean {
    return !this.closing;
  }

  /** What a batch of changed files leads to. `appRunning`: an app process runs and can update. */
  batch(changes: readonly FileChange[], appRunning: boolean): BatchDecision {
    if (this.closing || changes.length === 0) return { action: 'none' };
    const forApp = changes.filter((c) => this.concernsApp(c));
    // An owed restart is retried by a save that may fix it (the app's code, or a restart
    // trigger), not by any file written in the project: a log or pid file the old app keeps
    // writing (or devhot's own `--json > out.txt`) retried the failing restart in an endless loop.
    const trigger = changes.map((c) => this.options.restartTrigger(c.file)).find(Boolean) ?? (forApp.length > 0 ? this.owed : undefined);
    if (trigger) return { action: 'restart', reason: trigger };
    if (!appRunning || !this.options.hot) {
      // Restart-only mode (like tsx watch), or nothing runs to update: a new process.
      if (forApp.length === 0) return { action: 'none' };
      return { action: 'restart', reason: !this.options.hot ? `${this.rel(forApp[0]!.file)} changed` : 'the app had exited' };
    }
    // Stylesheets and templates are not modules: browsers swap or reload, the app is untouched.
    const browser = changes
      .filter((c) => BROWSER_EXTENSIONS.has(extname(c.file)))
      .map(({ file }): BrowserChange => {
        const path = this.rel(file);
        return extname(file) === '.css' ? { type: 'css-update', path } : { type: 'full-reload', path };
      });
    if (browser.length === 0 && forApp.length === 0) return { action: 'none' };
    return { action: 'update', browser, app: forApp };
  }

  /**
   * Whether a save may change what the app runs: a module of its graph, a file the standing
   * failure names, code not in the graph (see CODE_EXTENSIONS), or a new JSON file (a failed
   * import may have missed it). Pages and stylesheets are browsers' (see batch()).
   */
  private concernsApp(change: FileChange): boolean {
    const { file } = change;
    const ext = extname(file);
    if (BROWSER_EXTENSIONS.has(ext)) return false;
    if (this.options.appModules().has(file) || this.failing.has(file)) return true;
    return CODE_EXTENSIONS.has(ext) || (ext === '.json' && change.kind === 'add');
  }

  /** After an update or reload in the app: the reason for a new process, or undefined. */
  afterUpdate(result: UpdateResult): string | undefined {
    if (result.status === 'error') this.failed(result.files, result.error.file);
    else if (result.status !== 'needs-restart') this.failing.clear();
    return result.status === 'needs-restart' ? result.reason : undefined;
  }

  /** A start failed, or an update did: saves of these files retry it. */
  failed(files: readonly string[], errorFile: string | undefined): void {
    this.failing = new Set(files);
    if (errorFile) this.failing.add(errorFile);
  }

  /** A reload asked for by a tool or the user: in the app, or a new process when none runs. */
  reload(appRunning: boolean): { action: 'reload' } | { action: 'restart'; reason: string } {
    return appRunning ? { action: 'reload' } : { action: 'restart', reason: 'reload requested, the app was not running' };
  }

  /** The new process serves: nothing is owed, and the crash back-off starts over. */
  restartSucceeded(): void {
    this.owed = undefined;
    this.crashes = 0;
    this.failing.clear();
  }

  /**
   * The new process failed to start. While the previous one still serves, it keeps serving and
   * the restart is owed to the next save; with nothing else running, the new one is kept (alive,
   * it retries its start on the next save).
   */
  restartFailed(reason: string, previousAlive: boolean): FailedStartDecision {
    if (previousAlive) {
      this.owed = reason;
      return { keep: 'previous', reason: 'the previous process keeps serving; the next save retries' };
    }
    return { keep: 'new', reason: 'waiting for a change' };
  }

  /**
   * An app process exited. `current`: it is the one serving (not a retired one, not a new one
   * still starting); `stopping`: devhot stopped it.
   */
  appExited(exit: { current: boolean; stopping: boolean }): ExitDecision {
    if (!exit.current || exit.stopping || this.closing) return { action: 'ignore' };
    if (!this.options.restartOnCrash) return { action: 'wait', reason: 'waiting for a change to restart it' };
    // 100 ms, 200, 400 … up to 5 s: an app that exits at once must not spin the machine.
    const afterMs = Math.min(MAX_CRASH_BACKOFF_MS, FIRST_CRASH_BACKOFF_MS * 2 ** this.crashes++);
    return { action: 'restart', reason: 'restarting', restartReason: 'the app exited', afterMs };
  }

  private rel(file: string): string {
    return relative(this.options.root, file);
  }
}

export interface TriggerFiles {
  root: string;
  /** --env-file files (absolute). */
  envFiles: readonly string[];
  /** The devhot config file (absolute), if any. */
  configFile: string | undefined;
  /**
   * What the running app reported as its config files (the runner's `configFiles`: the tsconfig
   * chain with its `extends`, and every package.json it read), absolute.
   */
  appConfigFiles(): ReadonlySet<string>;
}

/**
 * The files whose change cannot be applied in-process: env files, devhot's config, native
 * addons, and the files the runner read its configuration from. The runner knows which tsconfig
 * files and package.json files it read, so a base config in `configs/` restarts the app and an
 * unrelated `tsconfig.build.json` or another workspace package's package.json does not.
 */
export function restartTriggers(files: TriggerFiles): (file: string) => string | undefined {
  return (file) => {
    const rel = relative(files.root, file) || file;
    if (files.envFiles.includes(file)) return `${rel} changed`;
    if (files.configFile === file) return `${rel} (devhot config) changed`;
    if (files.appConfigFiles().has(file)) return `${rel} changed`;
    if (extname(file) === '.node') return `native addon ${rel} changed`;
    return undefined;
  };
}
