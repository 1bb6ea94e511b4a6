/**
 * devhot's options: `DevhotOptions` as users write them (CLI flags, `devhot.config.ts`),
 * `resolveConfig()` → a frozen `ResolvedConfig` that nothing downstream can change.
 */
import { hash as digest } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseEnv } from 'node:util';
import { DevhotError, ErrorCodes } from './errors.js';
import { resolveEntry, type EntrySource } from './entry.js';
import { createPackageJsonReader } from './shared/package-json.js';
import { shortcutsOn } from './shared/tty-shortcuts.js';
import { NODE_MAJOR } from './shared/node-version.js';

export interface DevhotOptions {
  /** The server's entry file. Default: package.json `devhot.entry`, then `main`. */
  entry?: string;
  /** Project root. Default: the current directory. */
  root?: string;
  /** Arguments for the app, after its entry in `process.argv`. */
  args?: string[];
  /** Extra paths or globs to watch (relative to root), on top of the project itself. */
  include?: string[];
  /** Paths or globs not to watch. node_modules, .git and build output are never watched. */
  exclude?: string[];
  /** Wait this long (ms) after a change for more before applying. Default: 0. */
  delay?: number;
  /**
   * Look at the files every so often instead of waiting for the system's file events, for file
   * systems that send none (network drives, some container mounts). Default: false.
   */
  poll?: boolean;
  /** `.env` files loaded into the app's environment; a change restarts the app. */
  envFiles?: string[];
  /** Pass `--inspect[=host:port]` to the app process. */
  inspect?: string | boolean;
  /** Pass `--inspect-brk[=host:port]` to the app process. */
  inspectBrk?: string | boolean;
  /** Clear the terminal before each update. Default: true on a TTY, false in CI. */
  clearScreen?: boolean;
  /** Signal sent to the app on restart/exit after its servers drained. Default: SIGTERM. */
  signal?: NodeJS.Signals;
  /** Milliseconds to wait for the app to exit before SIGKILL. Default: 5000. */
  killTimeout?: number;
  /**
   * The longest an update may take (ms), and how long the app's event loop may be blocked before
   * devhot says so. A hung update restarts the app process. A start gets six times as long.
   * Default: 5000; 0: no deadline. Off under --inspect (a paused debugger looks the same).
   */
  updateTimeout?: number;
  /** Hot updates in-process. false = restart the process on every change (like tsx watch). Default: true. */
  hot?: boolean;
  /** One JSON event per line on stdout instead of the terminal UI. Default: false. */
  json?: boolean;
  /** Restart the app with back-off when it exits on its own. Default: false (wait for a save). */
  restartOnCrash?: boolean;
  /** Compiled-module cache. Default: node_modules/.devhot/cache; false: memory only. */
  cacheDir?: string | false;
  /** tsconfig.json to use. Default: <root>/tsconfig.json if present. */
  tsconfig?: string | false;
  /** Keyboard shortcuts (r, c, q, h + Enter) on a TTY. Default: true outside CI. */
  shortcuts?: boolean;
  /** Address the websocket channel binds to. Default: 127.0.0.1 (this machine only). */
  host?: string;
  /** Port of the websocket channel. Default: 0 (a free port, written to the session file). */
  channelPort?: number;
  /** Inject the browser client's <script> into the app's HTML responses. Default: true. */
  inject?: boolean;
  /**
   * Keep the websockets of a server that a save replaced, talking to the old code. Default:
   * false: they are closed with 1012 (Service Restart) and clients reconnect to the new code.
   */
  keepWebsockets?: boolean;
}

export interface ResolvedConfig {
  readonly root: string;
  readonly entry: string;
  readonly args: readonly string[];
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly delay: number;
  readonly poll: boolean;
  readonly envFiles: readonly string[];
  readonly execArgv: readonly string[];
  readonly inspect: boolean;
  readonly clearScreen: boolean;
  readonly signal: NodeJS.Signals;
  readonly killTimeout: number;
  /** 0: none (also under --inspect). */
  readonly updateTimeout: number;
  readonly hot: boolean;
  readonly json: boolean;
  readonly restartOnCrash: boolean;
  readonly cacheDir: string | false;
  readonly tsconfig: string | false | undefined;
  readonly shortcuts: boolean;
  /** The config file that was loaded, if any (a change to it restarts devhot's app). */
  readonly configFile: string | undefined;
  readonly host: string;
  readonly channelPort: number;
  readonly inject: boolean;
  readonly keepWebsockets: boolean;
}

/** Typed helper for `devhot.config.ts`: `export default defineConfig({ ... })`. */
export function defineConfig(config: DevhotOptions): DevhotOptions {
  return config;
}

const CONFIG_NAMES = ['devhot.config.ts', 'devhot.config.mts', 'devhot.config.js', 'devhot.config.mjs'];
const SIGNALS = new Set(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGKILL']);

export function findConfigFile(root: string, given: string | undefined): string | undefined {
  if (given) {
    const file = resolve(root, given);
    if (!existsSync(file)) {
      throw new DevhotError(ErrorCodes.CONFIG, `Config file ${given} not found (looked at ${file})`, {
        fix: 'Check the path given to --config.',
      });
    }
    return file;
  }
  return CONFIG_NAMES.map((name) => join(root, name)).find((file) => existsSync(file));
}

/** Load `devhot.config.ts` through esbuild (bundled, so it may import helpers of its own). */
export async function loadConfigFile(file: string, root: string): Promise<DevhotOptions> {
  const esbuild = await import('esbuild');
  const outDir = join(root, 'node_modules', '.devhot');
  let code: string;
  try {
    const result = await esbuild.build({
      entryPoints: [file],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: `node${NODE_MAJOR}`,
      // Packages (devhot itself for defineConfig) load from node_modules as they are.
      packages: 'external',
      logLevel: 'silent',
    });
    code = result.outputFiles[0]!.text;
  } catch (error) {
    const first = (error as { errors?: Array<{ text: string; location?: { line: number; column: number } }> }).errors?.[0];
    const where = first?.location ? `:${first.location.line}:${first.location.column + 1}` : '';
    throw new DevhotError(ErrorCodes.CONFIG, `Cannot compile ${relative(root, file)}${where}: ${first?.text ?? String(error)}`, {
      fix: 'Fix the config file; it must `export default defineConfig({ ... })`.',
      cause: error,
    });
  }
  mkdirSync(outDir, { recursive: true });
  const hash = digest('sha256', code, 'hex').slice(0, 16);
  const out = join(outDir, `config.${hash}.mjs`);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(out, code);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(out).href)) as { default?: unknown };
  } catch (error) {
    throw new DevhotError(ErrorCodes.CONFIG, `${relative(root, file)} threw while loading: ${(error as Error).message}`, {
      fix: 'Fix the config file; it runs once when devhot starts.',
      cause: error,
    });
  }
  const config = typeof mod.default === 'function' ? await (mod.default as () => unknown)() : mod.default;
  if (!config || typeof config !== 'object') {
    throw new DevhotError(ErrorCodes.CONFIG, `${relative(root, file)} has no default export object`, {
      fix: 'Write `export default defineConfig({ ... })`.',
    });
  }
  return config as DevhotOptions;
}

/**
 * package.json `devhot.entry`, then `main`; undefined when there is none or neither names a
 * file. Invalid JSON throws (the app process could not use that package.json either).
 */
export function entryFromPackageJson(root: string): string | undefined {
  return entryFieldOf(root)?.value;
}

function entryFieldOf(root: string): { value: string; source: EntrySource } | undefined {
  const pkg = createPackageJsonReader({ root }).read(root);
  const devhot = pkg?.devhot;
  if (typeof devhot === 'object' && devhot !== null && typeof (devhot as { entry?: unknown }).entry === 'string') {
    return { value: (devhot as { entry: string }).entry, source: 'package.json devhot.entry' };
  }
  return typeof pkg?.main === 'string' ? { value: pkg.main, source: 'package.json main' } : undefined;
}

/** Merge file config under CLI flags, check every value, and freeze the result. */
export function resolveConfig(cli: DevhotOptions, file: DevhotOptions = {}, configFile?: string): ResolvedConfig {
  const o: DevhotOptions = { ...file, ...stripUndefined(cli) };
  const root = resolve(o.root ?? process.cwd());
  const named: { value: string; source: EntrySource } | undefined =
    o.entry !== undefined ? { value: o.entry, source: cli.entry !== undefined ? 'argument' : 'config' } : entryFieldOf(root);
  if (!named) {
    throw new DevhotError(ErrorCodes.ENTRY_NOT_FOUND, 'No entry file given', {
      fix: 'Run `devhot src/server.ts`, or set "main" or "devhot": { "entry": ... } in package.json.',
    });
  }
  // A directory, an extensionless path, a .js name for a .ts file: what node and tsx accept.
  const entryFile = resolveEntry(root, named.value, named.source);
  const signal = (o.signal ?? 'SIGTERM').toUpperCase();
  if (!SIGNALS.has(signal)) {
    throw new DevhotError(ErrorCodes.BAD_OPTION, `--signal ${o.signal} is not a signal devhot can send`, {
      fix: `Use one of ${[...SIGNALS].join(', ')}.`,
    });
  }
  const killTimeout = checkNumber('--kill-timeout', o.killTimeout ?? 5000);
  const updateTimeout = checkNumber('--update-timeout', o.updateTimeout ?? 5000);
  const delay = checkNumber('--delay', o.delay ?? 0);
  const envFiles = (o.envFiles ?? []).map((f) => resolve(root, f));
  for (const f of envFiles) {
    if (!existsSync(f)) {
      throw new DevhotError(ErrorCodes.BAD_OPTION, `--env-file ${relative(root, f)} not found`, {
        fix: 'Create the file, or drop the flag.',
      });
    }
  }
  const execArgv: string[] = [];
  if (o.inspect) execArgv.push(o.inspect === true ? '--inspect' : `--inspect=${o.inspect}`);
  if (o.inspectBrk) execArgv.push(o.inspectBrk === true ? '--inspect-brk' : `--inspect-brk=${o.inspectBrk}`);
  const interactive = Boolean(process.stdout.isTTY) && !process.env.CI;
  return Object.freeze({
    root,
    entry: entryFile,
    args: Object.freeze([...(o.args ?? [])]),
    include: Object.freeze([...(o.include ?? [])]),
    exclude: Object.freeze([...(o.exclude ?? [])]),
    delay,
    poll: o.poll ?? false,
    envFiles: Object.freeze(envFiles),
    execArgv: Object.freeze(execArgv),
    inspect: execArgv.length > 0,
    clearScreen: (o.clearScreen ?? true) && interactive && !o.json,
    signal: signal as NodeJS.Signals,
    killTimeout,
    // A debugger paused at a breakpoint blocks the loop just like a hang does.
    updateTimeout: execArgv.length > 0 ? 0 : updateTimeout,
    hot: o.hot ?? true,
    json: o.json ?? false,
    restartOnCrash: o.restartOnCrash ?? false,
    cacheDir:
      o.cacheDir === undefined ? join(root, 'node_modules', '.devhot', 'cache') : o.cacheDir === false ? false : resolve(root, o.cacheDir),
    tsconfig: o.tsconfig === undefined || o.tsconfig === false ? o.tsconfig : resolve(root, o.tsconfig),
    shortcuts: shortcutsOn(o.shortcuts, o.json),
    configFile,
    host: o.host ?? '127.0.0.1',
    channelPort: checkNumber('--channel-port', o.channelPort ?? 0),
    inject: o.inject ?? true,
    keepWebsockets: o.keepWebsockets ?? false,
  });
}

/** The variables of the env files, later files winning, as the app process will see them. */
export function readEnvFiles(files: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const file of files) {
    try {
      Object.assign(env, parseEnv(readFileSync(file, 'utf8')));
    } catch (error) {
      throw new DevhotError(ErrorCodes.BAD_OPTION, `Cannot read env file ${file}: ${(error as Error).message}`, {
        fix: 'Check that the file exists and is readable.',
        cause: error,
      });
    }
  }
  return env;
}

function checkNumber(flag: string, value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
    throw new DevhotError(ErrorCodes.BAD_OPTION, `${flag} must be a number of milliseconds ≥ 0, got ${JSON.stringify(value)}`, {
      fix: `Write e.g. ${flag} 500.`,
    });
  }
  return n;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
