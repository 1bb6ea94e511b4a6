/**
 * The one writer to the terminal. Human mode: Vite-style lines with colours (picocolors honours
 * NO_COLOR and FORCE_COLOR). JSON mode (`--json`): one event object per line on stdout, for
 * editors and scripts. Colours are injectable so tests can read plain text.
 */
import { relative } from 'node:path';
import pc from 'picocolors';
import type { ErrorPayload, UpdateResult } from './shared/results.js';

type Colors = ReturnType<typeof pc.createColors>;

export interface LoggerOptions {
  root: string;
  json: boolean;
  clearScreen: boolean;
  colors?: Colors;
  write?: (text: string) => void;
}

export type LogEvent =
  | { event: 'start'; version: string; readyMs: number; urls: string[]; entry: string; channel?: string }
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

export function createLogger(options: LoggerOptions): Logger {
  const c = options.colors ?? pc;
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  const rel = (file: string) => relative(options.root, file) || file;
  const time = () => c.dim(new Date().toLocaleTimeString());
  const line = (text: string) => write(`${text}\n`);

  let lastError = '';
  const formatError = (error: ErrorPayload): string => {
    const loc = error.file ? `${rel(error.file)}${error.line ? `:${error.line}:${error.column ?? 1}` : ''}` : '';
    // The payload's message ends with its location for other readers; show it once, up front.
    const message = loc && error.message.endsWith(`(${loc})`) ? error.message.slice(0, -(loc.length + 3)) : error.message;
    const parts = [`${c.red(c.bold('error'))}${loc ? ` ${c.cyan(loc)}` : ''} ${message}`];
    if (error.frame) parts.push(c.yellow(error.frame));
    if (!error.frame && error.stack) parts.push(c.dim(error.stack.split('\n').slice(1, 6).join('\n')));
    if (error.fix) parts.push(c.dim(`fix: ${error.fix}`));
    if (error.code) parts.push(c.dim(error.code));
    return parts.join('\n');
  };

  return {
    clear() {
      if (options.clearScreen && !options.json) write('\x1b[2J\x1b[3J\x1b[H');
    },
    help(lines) {
      if (options.json) return;
      line('');
      for (const [key, text] of lines) line(`  ${c.dim('press')} ${c.bold(key)} ${c.dim(`+ enter to ${text}`)}`);
    },
    log(event) {
      if (options.json) {
        line(JSON.stringify({ time: Date.now(), ...event }));
        return;
      }
      switch (event.event) {
        case 'start': {
          line('');
          line(`  ${c.green(c.bold('devhot'))} ${c.green(`v${event.version}`)}  ${c.dim('ready in')} ${c.bold(`${Math.round(event.readyMs)} ms`)}`);
          line('');
          line(`  ${c.green('➜')}  ${c.bold('Entry')}:  ${c.cyan(rel(event.entry))}`);
          for (const url of event.urls) line(`  ${c.green('➜')}  ${c.bold('Local')}:  ${c.cyan(url)}`);
          if (event.urls.length === 0) line(`  ${c.green('➜')}  ${c.dim('no server listening yet')}`);
          if (event.channel) line(`  ${c.green('➜')}  ${c.bold('Channel')}: ${c.dim(event.channel)}`);
          return;
        }
        case 'update': {
          const r = event.result;
          const ms = c.dim(`${r.duration.toFixed(1)} ms`);
          const files = r.files.map(rel).join(', ');
          if (r.status === 'applied') {
            const n = `${r.reexecuted.length} module${r.reexecuted.length === 1 ? '' : 's'}`;
            if (r.rung === 'hot-update') line(`${time()} ${c.green('hot update')} ${c.cyan(files)} ${c.dim(`(${n})`)} ${ms}`);
            else line(`${time()} ${c.yellow('entry re-executed')}${r.reason ? `: ${r.reason}` : ''} ${c.dim(`(${n})`)} ${ms}`);
            for (const w of r.warnings) line(`${time()} ${c.yellow('warning')} ${w}`);
          } else if (r.status === 'unchanged') {
            line(`${time()} ${c.dim(`no change to apply (${files || 'nothing'})`)}`);
          } else if (r.status === 'needs-restart') {
            line(`${time()} ${c.yellow('restart needed')}: ${r.reason}`);
          } else {
            const text = formatError(r.error);
            // The same error again (an editor saving twice): one line, not the whole frame.
            line(`${time()} ${c.red(`update failed (${r.phase})`)} ${c.dim(text === lastError ? '— same error as above' : '— the previous version keeps running')}`);
            if (text !== lastError) line(text);
            lastError = text;
            return;
          }
          lastError = '';
          return;
        }
        case 'error':
          line(`${time()} ${c.red(event.source === 'uncaught' ? 'uncaught error in the app (it keeps running)' : event.source === 'start' ? 'the app failed to start' : 'error')}`);
          line(formatError(event.error));
          return;
        case 'restart':
          if (event.phase === 'starting') line(`${time()} ${c.yellow('restart')}: ${event.reason}`);
          else if (event.phase === 'ready') line(`${time()} ${c.green('restarted')} ${c.dim(`in ${Math.round(event.ms ?? 0)} ms`)}`);
          else line(`${time()} ${c.red('restart failed')}: ${event.reason}`);
          return;
        case 'exit':
          line(`${time()} ${c.red('app exited')} ${c.dim(`(${event.signal ?? `code ${event.code}`})`)}: ${event.reason}`);
          return;
        case 'info':
          line(`${time()} ${event.message}`);
          return;
        case 'warn':
          line(`${time()} ${c.yellow('warning')} ${event.message}`);
          return;
        default: {
          const unknown: never = event;
          void unknown;
        }
      }
    },
  };
}
