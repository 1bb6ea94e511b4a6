/**
 * V8's young generation in the app process: 4 MB semi-spaces instead of Node's 16. A start
 * allocates the module graph, nearly all of which lives on; with the big young generation each
 * object was copied between semi-spaces before its promotion, and the 32 MB of new space stayed
 * committed after the start. On the runner bench's 3,000 modules, warm start() 1.26-1.30 s ->
 * 1.14-1.20 s, the process's RSS 166-173 -> 145-149 MB (2 MB: no faster, 141-146 MB); in the
 * CLI bench at 3,000 modules the RSS of devhot's processes 304-313 -> 280-291 MB, save -> new
 * response unchanged (Node 20, 2 cores, 2026-11-30).
 *
 * The user's own setting wins: a `--max-semi-space-size` in NODE_OPTIONS leaves the flag out.
 * The app removes it from `process.execArgv` first thing (app/boot.ts), so the code sees the
 * flags plain node would show, and forked children do not inherit it.
 */
export const APP_HEAP_FLAG = '--max-semi-space-size=4';

/** The flags the app process starts with for its heap, given the environment it gets. */
export function appHeapFlags(env: NodeJS.ProcessEnv): string[] {
  // V8 takes `_` for `-` in its flags' names.
  return /--max[-_]semi[-_]space[-_]size\b/.test(env.NODE_OPTIONS ?? '') ? [] : [APP_HEAP_FLAG];
}
