/**
 * The one writer to the terminal. Human mode: Vite-style lines with colours (picocolors honours
 * NO_COLOR and FORCE_COLOR). JSON mode (`--json`): one event object per line on stdout, for
 * editors and scripts. Colours are injectable so tests can read plain text.
 */
import { relative } from 'node:path';
import pc from 'picocolors';
import type { ErrorPayload, UpdateResult } from './shared/results.js';
import { withoutControls } from './shared/controls.js';

type Colors = ReturnType<typeof pc.createColors>;

export interface LoggerOptions {
  root: string;
  json: boolean;
  clearScreen: boolean;
  colors?: Colors;
  write?: (text: string) => void;
}

export type LogEvent =
  /**
   * devhot is up. `app`: whether the entry ran ('ready'), threw ('failed') or the process exited
   * while starting ('exited'); in the last two cases devhot waits for a save.
   */
  | {
      event: 'start';
      app: 'ready' | 'failed' | 'exited';
      version: string;
      readyMs: number;
      urls: string[];
      entry: string;
      channel?: string;
    }
  | { event: 'update'; result: UpdateResult }
  | { event: 'error'; source: 'update' | 'start' | 'uncaught' | 'listen'; error: ErrorPayload }
  | { event: 'restart'; reason: string; phase: 'starting' | 'ready' | 'failed'; ms?: number }
  | { event: 'exit'; code: number | null; signal: string | null; reason: string }
  | { event: 'info'; message: string }
  | { event: 'warn'; message: string };

export interface Logger {
  log(event: LogEvent): void;
  clear(): void;
  help(lines: Array<[string, string]>): void;
}

/**
 * The runner's fixes end with "the previous version keeps running", true of an update. When the
 * app has not started there is no previous version: say what happens instead.
 */
export function startFix(fix: string | undefined): string {
  // And a fix's own full stop ("devhot tried: a.ts, b.ts."), which read ".;" before the clause.
  const stripped = fix?.replace(/[;,.]?\s*the previous version keeps running(?: until then)?\.?$/i, '').replace(/\.$/, '');
  return `${stripped || 'Fix the error and save again'}; the app starts with the next save.`;
}

/**
 * The local time as HH:MM:SS (24-hour), put together by hand. `toLocaleTimeString()` was used
 * before. Its first call loads ICU's locale and time-zone data, which stays resident: 8.5 MB more
 * RSS in a bare Node 24 process (5 MB of ICU data pages, 1.4 MB of code, 1.8 MB of heap), and 5.2
 * MB of ICU pages were resident in devhot's supervisor after the CLI bench's edits at 3,000
 * modules (`/proc/<pid>/pagemap` against the node binary's symbols, 2026-12-02). A log line's time
 * only has to tell one save from the next.
 */
export function clockTime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

export function createLogger(options: LoggerOptions): Logger {
  const c = options.colors ?? pc;
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  const line = (text: string) => write(`${text}\n`);
  const format = new HumanFormat(c, options.root);
  return {
    clear() {
      if (options.clearScreen && !options.json) write('\x1b[2J\x1b[3J\x1b[H');
    },
    help(lines) {
      if (options.json) return;
      line('');
      for (const [key, text] of lines) line(`  ${c.dim('press')} ${c.bold(key)} ${c.dim(`+ enter to ${text}`)}`);
    },
    log(raw) {
      // File names, URLs and error messages can carry escape sequences the terminal would obey.
      const event = withoutControls(raw);
      if (options.json) line(JSON.stringify({ time: Date.now(), ...event }));
      else for (const text of format.event(event)) line(text);
    },
  };
}

/** The terminal's lines for each event: Vite-style, with colours from `c`. */
class HumanFormat {
  /** The last error printed, so the same error again (an editor saving twice) takes one line. */
  private lastError = '';
  /**
   * Whether some version of the app runs (as far as the events tell): after a failed start, a
   * save that fails again is a start that failed, not an update the previous version survives.
   */
  private appUp = true;

  constructor(
    private readonly c: Colors,
    private readonly root: string,
  ) {}

  event(event: LogEvent): string[] {
    const { c } = this;
    switch (event.event) {
      case 'start':
        return this.start(event);
      case 'update':
        return this.update(event.result);
      case 'error': {
        const what =
          event.source === 'uncaught'
            ? 'uncaught error in the app (it keeps running)'
            : event.source === 'start'
              ? 'the app failed to start'
              : 'error';
        return [`${this.time()} ${c.red(what)}`, this.error(event.error)];
      }
      case 'restart':
        if (event.phase === 'starting') return [`${this.time()} ${c.yellow('restart')}: ${event.reason}`];
        if (event.phase === 'ready') {
          this.appUp = true;
          return [`${this.time()} ${c.green('restarted')} ${c.dim(`in ${Math.round(event.ms ?? 0)} ms`)}`];
        }
        return [`${this.time()} ${c.red('restart failed')}: ${event.reason}`];
      case 'exit':
        this.appUp = false;
        return [`${this.time()} ${c.red('app exited')} ${c.dim(`(${event.signal ?? `code ${event.code}`})`)}: ${event.reason}`];
      case 'info':
        return [`${this.time()} ${event.message}`];
      case 'warn':
        return [`${this.time()} ${c.yellow('warning')} ${event.message}`];
      default: {
        const unknown: never = event;
        void unknown;
        return [];
      }
    }
  }

  private rel(file: string): string {
    return relative(this.root, file) || file;
  }

  private time(): string {
    return this.c.dim(clockTime(new Date()));
  }

  private start(event: Extract<LogEvent, { event: 'start' }>): string[] {
    const { c } = this;
    this.appUp = event.app === 'ready';
    // No "ready" after a failed start: the error is above, and devhot waits for a save.
    const state =
      event.app === 'ready'
        ? `${c.dim('ready in')} ${c.bold(`${Math.round(event.readyMs)} ms`)}`
        : c.yellow('waiting for a save to start the app');
    const lines = ['', `  ${c.green(c.bold('devhot'))} ${c.green(`v${event.version}`)}  ${state}`, ''];
    lines.push(`  ${c.green('➜')}  ${c.bold('Entry')}:  ${c.cyan(this.rel(event.entry))}`);
    for (const url of event.urls) lines.push(`  ${c.green('➜')}  ${c.bold('Local')}:  ${c.cyan(url)}`);
    if (event.urls.length === 0 && event.app === 'ready') lines.push(`  ${c.green('➜')}  ${c.dim('no server listening yet')}`);
    if (event.channel) lines.push(`  ${c.green('➜')}  ${c.bold('Channel')}: ${c.dim(event.channel)}`);
    return lines;
  }

  private update(r: UpdateResult): string[] {
    const { c } = this;
    const ms = c.dim(`${r.duration.toFixed(1)} ms`);
    const files = r.files.map((f) => this.rel(f)).join(', ');
    if (r.status === 'error') {
      // Before the app ever ran, the runner retries the whole start on each save.
      const text = this.error(this.appUp ? r.error : { ...r.error, fix: startFix(r.error.fix) });
      const same = text === this.lastError;
      this.lastError = text;
      const what = this.appUp ? c.red(`update failed (${r.phase})`) : c.red('the app failed to start');
      const after = same ? '— same error as above' : this.appUp ? '— the previous version keeps running' : '— waiting for a save';
      const head = `${this.time()} ${what} ${c.dim(after)}`;
      return same ? [head] : [head, text];
    }
    this.lastError = '';
    if (r.status === 'applied') this.appUp = true;
    if (r.status === 'unchanged') return [`${this.time()} ${c.dim(`no change to apply (${files || 'nothing'})`)}`];
    if (r.status === 'needs-restart') return [`${this.time()} ${c.yellow('restart needed')}: ${r.reason}`];
    const n = `${r.reexecuted.length} module${r.reexecuted.length === 1 ? '' : 's'}`;
    const head =
      r.rung === 'hot-update'
        ? `${this.time()} ${c.green('hot update')} ${c.cyan(files)} ${c.dim(`(${n})`)} ${ms}`
        : `${this.time()} ${c.yellow('entry re-executed')}${r.reason ? `: ${r.reason}` : ''} ${c.dim(`(${n})`)} ${ms}`;
    const restarted = (r.restarted ?? []).map((what) => `${this.time()} ${c.cyan('restarted')} ${what}: a file it runs changed`);
    return [head, ...restarted, ...r.warnings.map((w) => `${this.time()} ${c.yellow('warning')} ${w}`)];
  }

  private error(error: ErrorPayload): string {
    const { c } = this;
    const loc = error.file ? `${this.rel(error.file)}${error.line ? `:${error.line}:${error.column ?? 1}` : ''}` : '';
    // The payload's message ends with its location for other readers; show it once, up front.
    const message = loc && error.message.endsWith(`(${loc})`) ? error.message.slice(0, -(loc.length + 3)) : error.message;
    const parts = [`${c.red(c.bold('error'))}${loc ? ` ${c.cyan(loc)}` : ''} ${message}`];
    if (error.frame) parts.push(c.yellow(error.frame));
    const frames = error.frame ? '' : (error.stack?.split('\n').slice(1, 6).join('\n') ?? '');
    if (frames) parts.push(c.dim(frames));
    if (error.fix) parts.push(c.dim(`fix: ${error.fix}`));
    if (error.code) parts.push(c.dim(error.code));
    return parts.join('\n');
  }
}
