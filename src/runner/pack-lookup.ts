/**
 * What discovery asks the start pack (start-pack.ts) while a start runs: a module without reading
 * its file, or the stamp to note before reading it. The project's own files only: a file outside
 * the root is hashed for the supervisor as it is read (RunnerState.outsideSources).
 */
import type { CompiledModule } from './compile.js';
import { type Stamp, trustedStamp } from './start-pack.js';
import type { RunnerState } from './state.js';

/** `file`'s module from the start pack, noting whether the file has content (RunnerState.hadSource). */
export function fromPack(state: RunnerState, file: string): CompiledModule | undefined {
  if (!state.compiler.noting || !file.startsWith(state.rootPrefix)) return undefined;
  const hit = state.compiler.packed(file);
  if (!hit) return undefined;
  if (hit.size > 0) state.hadSource.add(file);
  else state.hadSource.delete(file);
  return hit.compiled;
}

/** The stamp of `file` to note with what is read from it next, for the next start pack. */
export function stampFor(state: RunnerState, file: string): Stamp | undefined {
  return state.compiler.noting && file.startsWith(state.rootPrefix) ? trustedStamp(file) : undefined;
}
