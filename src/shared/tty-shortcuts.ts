/**
 * Whether devhot reads keyboard shortcuts (r, c, q, h + Enter): on a TTY, outside CI, not with
 * --json, unless turned off. The app's stdin is then piped through the supervisor, so the command
 * asks this too when it forks the first app before the configuration is read (app-fork.ts).
 */
export function shortcutsOn(wanted: boolean | undefined, json: boolean | undefined): boolean {
  return (wanted ?? true) && Boolean(process.stdin.isTTY) && !process.env.CI && !json;
}
