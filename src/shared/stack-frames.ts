/**
 * Frames read from a V8 stack *text*, where no call sites are at hand: a stack sampled through
 * the inspector (app/sample.ts), a worker's error re-thrown in the app (runner/error-payload.ts).
 */
import { fileURLToPath } from 'node:url';

export interface StackFrame {
  file: string;
  line: number;
  column: number;
}

/** `at fn (/abs/file.ts:3:24)`, `at /abs/file.ts:3:24`, a file:// URL, devhot's `?v=N` versions. */
const FRAME = /^\s*at (?:.*?\()?((?:file:\/\/)?\/[^():]*?(?:\?v=\d+)?):(\d+):(\d+)\)?$/;

/** The frames that name a file, innermost first (the first line, the message, is skipped). */
export function framesOf(stack: string): StackFrame[] {
  const frames: StackFrame[] = [];
  for (const line of stack.split('\n').slice(1)) {
    const match = FRAME.exec(line);
    if (!match) continue;
    const raw = match[1]!.replace(/\?v=\d+$/, '');
    frames.push({ file: raw.startsWith('file://') ? fileURLToPath(raw) : raw, line: Number(match[2]), column: Number(match[3]) });
  }
  return frames;
}

/** The innermost frame in the project's own code: under `root`, not in node_modules. */
export function firstProjectFrame(frames: readonly StackFrame[], root: string): StackFrame | undefined {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return frames.find((f) => f.file.startsWith(prefix) && !f.file.includes('/node_modules/'));
}
