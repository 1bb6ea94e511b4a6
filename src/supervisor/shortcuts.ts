/**
 * Keyboard shortcuts, Vite-style: a letter + Enter. Only on a TTY outside CI. A line that is not
 * a shortcut goes on to the app's stdin, so an app that reads stdin still gets its input.
 */
import { createInterface } from 'node:readline';
import type { Logger } from '../logger.js';
import type { Supervisor } from './supervisor.js';

export interface ShortcutOptions {
  enabled: boolean;
  supervisor: Supervisor;
  logger: Logger;
  quit(): void;
}

const HELP: Array<[string, string]> = [
  ['r', 'restart the app'],
  ['c', 'clear the screen'],
  ['q', 'quit'],
  ['h', 'show this help'],
];

export function installShortcuts(options: ShortcutOptions): void {
  if (!options.enabled) return;
  options.logger.help([['h', 'show help']]);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (input) => {
    switch (input.trim()) {
      case 'r':
        options.supervisor.restart('r pressed').catch(() => {}); // the failure is already on screen
        return;
      case 'c':
        options.logger.clear();
        return;
      case 'q':
        rl.close();
        options.quit();
        return;
      case 'h':
        options.logger.help(HELP);
        return;
      default:
        options.supervisor.forwardStdin(`${input}\n`);
    }
  });
}
