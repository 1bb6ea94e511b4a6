/**
 * The Node flags devhot starts the app process with, for its heap and its V8 threads. The user's
 * own setting wins: the same flag in NODE_OPTIONS leaves devhot's out. The app removes them from
 * `process.execArgv` first thing (app/boot.ts), so the code sees the flags plain node would show,
 * and forked children do not inherit them.
 */
import { availableParallelism } from 'node:os';
import { NODE_MAJOR } from './node-version.js';

/**
 * V8's young generation: 4 MB semi-spaces instead of Node's 16. A start allocates the module
 * graph, nearly all of which lives on; with the big young generation each object was copied
 * between semi-spaces before its promotion, and the 32 MB of new space stayed committed after the
 * start. On the runner bench's 3,000 modules, warm start() 1.26-1.30 s -> 1.14-1.20 s, the
 * process's RSS 166-173 -> 145-149 MB (2 MB: no faster, 141-146 MB); in the CLI bench at 3,000
 * modules the RSS of devhot's processes 304-313 -> 280-291 MB, save -> new response unchanged
 * (Node 20, 2 cores, 2026-11-30).
 */
export const APP_HEAP_FLAG = '--max-semi-space-size=4';

/**
 * V8's worker threads (parallel scavenges, concurrent marking, TurboFan's background compiles)
 * sized to the machine: one core left for the main thread, at most Node's own 4. Node starts 4
 * whatever the machine; on 2 cores a start's main thread shared its core with them (TurboFan alone
 * took ~300 ms of CPU in a warm start at 3,000 modules) and with the supervisor. Spawn -> first
 * response, warm, 3,000 modules, start-pairs, 12-16 alternating pairs, 2 cores, 2026-12-02:
 * Node 20 674 -> 603 ms, 856 -> 788 ms and 728 -> 659 ms, Node 22 625 -> 551 ms; the RSS after
 * the edits 2 MB lower on Node 20, 6 MB on Node 22 (memory-pairs). Not on Node 24 and later: its
 * start was no faster (542 against 555 ms) and its RSS after the edits 4-5 MB higher (240.3 ->
 * 244.3 and 240.9 -> 245.6 MB, 4 rounds each). Machines with 5 cores or more get Node's default.
 */
export function appPoolFlag(cores: number = availableParallelism(), nodeMajor: number = NODE_MAJOR): string | undefined {
  if (nodeMajor >= 24) return undefined;
  const size = Math.max(1, cores - 1);
  return size < NODE_POOL_SIZE ? `--v8-pool-size=${size}` : undefined;
}

/** Node's default `--v8-pool-size`. */
const NODE_POOL_SIZE = 4;

/** The flags the app process starts with, given the environment it gets. */
export function appNodeFlags(env: NodeJS.ProcessEnv): string[] {
  const userFlags = env.NODE_OPTIONS ?? '';
  const flags: string[] = [];
  // V8 takes `_` for `-` in its flags' names.
  if (!/--max[-_]semi[-_]space[-_]size\b/.test(userFlags)) flags.push(APP_HEAP_FLAG);
  const pool = appPoolFlag();
  if (pool && !/--v8-pool-size\b/.test(userFlags)) flags.push(pool);
  return flags;
}

/** Whether `arg` of the app's `process.execArgv` is one devhot added (appNodeFlags). */
export function isAppFlag(arg: string): boolean {
  return arg === APP_HEAP_FLAG || arg === appPoolFlag();
}
