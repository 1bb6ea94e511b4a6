/**
 * Preloaded into devhot's processes by memory-pairs.bench.ts (`--import`, through NODE_OPTIONS):
 * in the app process only, SIGUSR2 writes its V8 heap as it is, then after a full collection, to
 * the file named by DEVHOT_HEAP_PROBE. Needs `--expose-gc`.
 */
import { renameSync, writeFileSync } from 'node:fs';

const out = process.env.DEVHOT_HEAP_PROBE;
if (out && process.argv[1]?.endsWith('boot.js')) {
  process.on('SIGUSR2', () => {
    const before = process.memoryUsage();
    (globalThis as { gc?: () => void }).gc?.();
    const after = process.memoryUsage();
    // Renamed into place: the bench reads the file as soon as it is there.
    writeFileSync(`${out}.part`, JSON.stringify({ committed: before.heapTotal, used: before.heapUsed, live: after.heapUsed }));
    renameSync(`${out}.part`, out);
  });
}
