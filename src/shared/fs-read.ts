/**
 * Reading a file that may not be there, for the config readers of both processes: "not there"
 * is an answer, any other failure (EACCES, EIO) an error the caller should see.
 */
import fs from 'node:fs';

/** Text of a file, or undefined when there is none (or the path names a directory). */
export function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
    throw error;
  }
}

/** ENOENT, or ENOTDIR: a path through a file ('a.ts/index') is just as absent. */
export function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
