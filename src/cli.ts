/**
 * The `devhot` command: flags in, a frozen config out, then the supervisor. Everything it does
 * is reachable from the library (index.ts); this file only parses and reports.
 */
import { cac } from 'cac';
import pc from 'picocolors';
import { DevhotError, ErrorCodes } from './errors.js';
import { stripControls } from './shared/controls.js';
import { dropEarly, forkFirstApp } from './supervisor/app-fork.js';
import { version } from './version.js';
import type { DevhotOptions } from './config.js';
import type { Supervisor } from './supervisor/supervisor.js';

const cli = cac('devhot');

cli
  .command('[entry] [...args]', 'Run a Node.js server and apply saved changes to it while it runs')
  .option('--root <dir>', 'Project root (default: current directory)')
  .option('-c, --config <file>', 'Config file (default: devhot.config.ts if present)')
  .option('--include <path>', 'Also watch this path or glob (repeatable)')
  .option('--exclude <path>', 'Do not watch this path or glob (repeatable)')
  .option('--delay <ms>', 'Wait this long after a change for more (default: 0)')
  .option('--poll', 'Look at the files every so often instead of waiting for file events (network drives, some containers)')
  .option('--env-file <file>', 'Load env vars from this file; a change restarts the app (repeatable)')
  .option('--inspect [host:port]', 'Start the app with the inspector')
  .option('--inspect-brk [host:port]', 'Start the app with the inspector, paused')
  .option('--clear-screen', 'Clear the screen on each update (default: on a TTY outside CI)')
  .option('--signal <signal>', 'Signal for stopping the app (default: SIGTERM)')
  .option('--kill-timeout <ms>', 'SIGKILL the app this long after the signal (default: 5000)')
  .option('--update-timeout <ms>', 'Restart the app when an update takes longer; report a blocked loop (default: 5000, 0: off)')
  .option('--hot', 'Apply changes in-process; --no-hot restarts on every change (default: true)')
  .option('--restart-on-crash', 'Restart with back-off when the app exits on its own')
  .option('--json', 'Write one JSON event per line instead of the terminal UI')
  .option('--cache', 'Cache compiled modules in node_modules/.devhot (--no-cache: memory only)')
  .option('--tsconfig <file>', 'tsconfig.json to use (default: ./tsconfig.json)')
  .option('--host <host>', 'Address for the websocket channel (default: 127.0.0.1)')
  .option('--channel-port <port>', 'Port for the websocket channel (default: a free one)')
  .option('--inject', 'Inject the browser client into HTML responses (--no-inject: add the tag yourself)')
  .option('--keep-websockets', "Keep a replaced server's websockets on the old code (default: close them, 1012)")
  .example('devhot src/server.ts')
  .example('devhot src/server.ts --env-file .env -- --port 3000')
  .action(run);

// Tool subcommands: talk to a running devhot through its session file (src/tool/).
const rootOption = ['--root <dir>', 'Project root of the running devhot (default: current directory)'] as const;
cli
  .command('status', 'Show the running session: app state, URLs, the standing error')
  .option(...rootOption)
  .option('--json', 'Print one JSON object')
  .action((flags: Record<string, unknown>) => tool('status', flags));
cli
  .command('events', 'Print every channel message as a JSON line until Ctrl-C')
  .option(...rootOption)
  .option('--logs', "Include the app's output")
  .action((flags: Record<string, unknown>) => tool('events', flags));
cli
  .command('reload', 'Re-run the entry of the running app')
  .option(...rootOption)
  .option('--all', 'Re-run every module')
  .option('--json', 'Print the reply as JSON')
  .action((flags: Record<string, unknown>) => tool('reload', flags));
cli
  .command('restart', 'Restart the running app process')
  .option(...rootOption)
  .option('--json', 'Print the reply as JSON')
  .action((flags: Record<string, unknown>) => tool('restart', flags));

async function tool(name: 'status' | 'events' | 'reload' | 'restart', flags: Record<string, unknown>): Promise<void> {
  // No app runs: an app process bin/devhot.js forked (a command it did not know) is not needed.
  dropEarly();
  const commands = await import('./tool/commands.js');
  const options = { root: flags.root as string | undefined, json: flags.json === true, all: flags.all === true, logs: flags.logs === true };
  const command = {
    status: commands.statusCommand,
    events: commands.eventsCommand,
    reload: commands.reloadCommand,
    restart: commands.restartCommand,
  }[name];
  process.exitCode = await command(options);
}

cli.help();
cli.version(version);

async function run(entry: string | undefined, args: string[], flags: Record<string, unknown>): Promise<void> {
  // The first app process boots while the supervisor loads (supervisor/app-fork.ts): forked by
  // bin/devhot.js already, unless its look at the arguments was unsure. With a debugger flag it
  // would not fit; the configuration file may still change what fits.
  if (!flags.inspect && !flags.inspectBrk) forkFirstApp(flags.json as boolean | undefined);
  try {
    await runSupervisor(entry, args, flags);
  } catch (error) {
    dropEarly();
    throw error;
  }
}

async function runSupervisor(entry: string | undefined, args: string[], flags: Record<string, unknown>): Promise<void> {
  const { findConfigFile, loadConfigFile, resolveConfig } = await import('./config.js');
  const { createLogger } = await import('./logger.js');
  const { startSupervisor } = await import('./supervisor/supervisor.js');
  const { installShortcuts } = await import('./supervisor/shortcuts.js');

  const list = (v: unknown): string[] | undefined => (v === undefined ? undefined : (Array.isArray(v) ? v : [v]).map(String));
  const appArgs = [...args, ...((flags['--'] as string[] | undefined) ?? [])];
  const cliOptions: DevhotOptions = {
    entry,
    root: flags.root as string | undefined,
    // None on the command line: leave `args` to the config file (an empty list would override it).
    args: appArgs.length > 0 ? appArgs : undefined,
    include: list(flags.include),
    exclude: list(flags.exclude),
    delay: flags.delay === undefined ? undefined : Number(flags.delay),
    poll: flags.poll as boolean | undefined,
    envFiles: list(flags.envFile),
    inspect: flags.inspect as string | boolean | undefined,
    inspectBrk: flags.inspectBrk as string | boolean | undefined,
    clearScreen: flags.clearScreen as boolean | undefined,
    signal: flags.signal as NodeJS.Signals | undefined,
    killTimeout: flags.killTimeout === undefined ? undefined : Number(flags.killTimeout),
    updateTimeout: flags.updateTimeout === undefined ? undefined : Number(flags.updateTimeout),
    hot: flags.hot as boolean | undefined,
    restartOnCrash: flags.restartOnCrash as boolean | undefined,
    json: flags.json as boolean | undefined,
    cacheDir: flags.cache === false ? false : undefined,
    tsconfig: flags.tsconfig as string | undefined,
    host: flags.host as string | undefined,
    channelPort: flags.channelPort === undefined ? undefined : Number(flags.channelPort),
    inject: flags.inject as boolean | undefined,
    keepWebsockets: flags.keepWebsockets as boolean | undefined,
  };
  if (typeof flags.delay === 'string' && Number.isNaN(Number(flags.delay))) cliOptions.delay = flags.delay as never;
  const root = cliOptions.root ?? process.cwd();
  const configFile = findConfigFile(root, flags.config as string | undefined);
  const fileOptions = configFile ? await loadConfigFile(configFile, root) : {};
  const config = resolveConfig(cliOptions, fileOptions, configFile);
  const logger = createLogger({ root: config.root, json: config.json, clearScreen: config.clearScreen });
  // The handlers come before the start: the start's banner is out before startSupervisor()
  // resolves, and a signal sent on seeing it found none (the process died of it, not exit 130:
  // cli-shutdown, Node 24, CI, 2026-12-01).
  let supervisor: Supervisor | undefined;
  let exiting: number | undefined;
  const closeAndExit = (up: Supervisor, code: number) => void up.close().then(() => process.exit(code));
  const exit = (code: number) => {
    if (exiting !== undefined) {
      // A second Ctrl-C: do not wait for graceful shutdown any longer (nor let an app outlive us).
      supervisor?.killNow();
      process.exit(code);
    }
    exiting = code;
    if (supervisor) closeAndExit(supervisor, code);
    // Still starting: closed once it is up, or left, as the signal used to leave it, to the app's
    // watchdog (which ends the app once devhot is gone) if that takes longer.
    else setTimeout(() => process.exit(code), START_EXIT_GRACE_MS).unref();
  };
  const signals: Array<[NodeJS.Signals, number]> = [
    ['SIGINT', 2],
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ];
  for (const [signal, n] of signals) process.on(signal, () => exit(128 + n));
  supervisor = await startSupervisor({ config, logger, version });
  if (exiting !== undefined) return closeAndExit(supervisor, exiting);
  installShortcuts({ enabled: config.shortcuts, supervisor, logger, quit: () => exit(0) });
}

/** How long a signal that came during the start waits for it before devhot exits anyway. */
const START_EXIT_GRACE_MS = 2000;

/**
 * cac names an unknown option by its camelCased key (`--env-fle` becomes `--envFle`), which is
 * not what the user typed and not what they would search their command for: name it as typed.
 */
function asTyped(message: string): string {
  const match = /Unknown option `-{1,2}([^`]+)`/.exec(message);
  if (!match) return message;
  const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const key = (arg: string) => camel(arg.replace(/^-+/, '').split('=')[0]!);
  // `--no-x` arrives as `x`.
  const typed = process.argv.find((arg) => /^-/.test(arg) && (key(arg) === match[1] || key(arg.replace(/^--no-/, '--')) === match[1]));
  return typed ? message.replace(match[0], `Unknown option \`${typed.split('=')[0]}\``) : message;
}

function fail(error: unknown): never {
  // bin/devhot.js may have forked an app process for a command line that turned out wrong.
  dropEarly();
  // What devhot prints carries no control characters (a path or a value from the user); its own
  // colours are added after.
  const write = (text: string) => process.stderr.write(text);
  if (error instanceof DevhotError) {
    write(`${pc.red(pc.bold('devhot'))} ${pc.red(stripControls(error.message))}\n`);
    if (error.fix) write(`${pc.dim(`fix: ${stripControls(error.fix)}`)}\n`);
    write(`${pc.dim(error.code)}\n`);
  } else if (error instanceof Error && error.name === 'CACError') {
    write(
      `${pc.red(pc.bold('devhot'))} ${pc.red(stripControls(asTyped(error.message)))}\n${pc.dim('fix: run `devhot --help` for the flags devhot knows.')}\n${pc.dim(ErrorCodes.BAD_OPTION)}\n`,
    );
  } else {
    write(`${pc.red(pc.bold('devhot'))} ${stripControls(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`);
  }
  process.exit(1);
}

try {
  cli.parse(process.argv, { run: false });
  if (!cli.options.help && !cli.options.version) await cli.runMatchedCommand();
  else dropEarly();
} catch (error) {
  fail(error);
}
