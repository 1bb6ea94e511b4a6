/**
 * The compile cache, keyed by a hash of the source, the options and the tool versions (see
 * compile.ts): in memory the latest version of each file, on disk every version, so a second
 * start skips esbuild and the parser entirely. Disk writes happen off the update's critical
 * path: the result is in memory already, the disk is for next time.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CompiledModule } from './compile.js';
import { SafePromise } from './intrinsics.js';

export interface CompileCacheStats {
  memoryHits: number;
  diskHits: number;
  misses: number;
}

export class CompileCache {
  readonly stats: CompileCacheStats = { memoryHits: 0, diskHits: 0, misses: 0 };
  private readonly latest = new Map<string, CompiledModule>();
  private readonly pendingWrites = new Set<Promise<void>>();
  private writes = 0;

  /** `dir`: where compiled modules are kept between runs, or false for memory only. */
  constructor(private readonly dir: string | false) {}

  lookup(file: string, hash: string): CompiledModule | undefined {
    const mem = this.latest.get(file);
    if (mem && mem.hash === hash) {
      this.stats.memoryHits++;
      return mem;
    }
    if (!this.dir) return undefined;
    try {
      const cached = JSON.parse(readFileSync(this.pathOf(hash), 'utf8')) as CompiledModule;
      this.stats.diskHits++;
      this.latest.set(file, cached);
      return cached;
    } catch {
      return undefined; // not cached yet, or unreadable: compile it
    }
  }

  /** A freshly compiled module (a miss): the latest of its file, and written to disk for next time. */
  store(compiled: CompiledModule): CompiledModule {
    this.stats.misses++;
    this.latest.set(compiled.file, compiled);
    if (this.dir) this.write(compiled);
    return compiled;
  }

  /** Wait for the disk writes still under way (before exit, or a second runner). */
  async flush(): Promise<void> {
    await SafePromise.all(this.pendingWrites);
  }

  private pathOf(hash: string): string {
    return join(this.dir as string, hash.slice(0, 2), `${hash}.json`);
  }

  private write(compiled: CompiledModule): void {
    const target = this.pathOf(compiled.hash);
    // Write then rename, so a concurrent reader never sees half a file.
    const tmp = `${target}.${process.pid}.${++this.writes}.tmp`;
    const write = mkdir(join(target, '..'), { recursive: true })
      .then(() => writeFile(tmp, JSON.stringify(compiled)))
      .then(() => rename(tmp, target))
      .catch(() => {
        // A read-only or full disk only costs speed on the next start.
      })
      .finally(() => this.pendingWrites.delete(write));
    this.pendingWrites.add(write);
  }
}
