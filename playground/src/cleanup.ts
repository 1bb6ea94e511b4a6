// A timer that must not be doubled by a reload: the dispose handler stops the old one before
// the new instance starts its own. Change the interval and save to see it swap.
const INTERVAL_MS = 60_000;
let timer: NodeJS.Timeout | undefined;

export function startCleanup(): void {
  timer = setInterval(() => {
    process.stdout.write(`[cleanup] tick every ${INTERVAL_MS / 1000}s\n`);
  }, INTERVAL_MS);
  timer.unref();
}

if (import.meta.hot) {
  import.meta.hot.dispose(() => {
    if (timer) clearInterval(timer);
  });
}
