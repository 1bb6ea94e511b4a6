/**
 * Changed files gathered into one batch: one entry per file, whose kind is what its events add
 * up to. The watcher gathers one tick's events in one; the supervisor merges the batches that
 * arrived while an update ran into the next one it applies.
 */
import type { ChangeKind, FileChange } from '../shared/ipc.js';

/**
 * What two events on one file in one batch amount to: a delete followed by a create is a change
 * (an editor renamed a new version over the file); a file created in this batch stays new
 * whatever is written to it; otherwise the later event says how the file is now.
 */
export function mergeKind(before: ChangeKind | undefined, after: ChangeKind): ChangeKind {
  if (before === 'unlink' && after === 'add') return 'change';
  if (before === 'add' && after === 'change') return 'add';
  return after;
}

export class ChangeSet {
  private readonly kinds = new Map<string, ChangeKind>();

  get size(): number {
    return this.kinds.size;
  }

  add({ file, kind }: FileChange): void {
    this.kinds.set(file, mergeKind(this.kinds.get(file), kind));
  }

  has(file: string): boolean {
    return this.kinds.has(file);
  }

  clear(): void {
    this.kinds.clear();
  }

  /** The changes in the order their files first changed. */
  list(): FileChange[] {
    return [...this.kinds].map(([file, kind]) => ({ file, kind }));
  }
}

/** The changes as one batch: one entry per file (see mergeKind), in the order files first changed. */
export function coalesce(changes: Iterable<FileChange>): FileChange[] {
  const set = new ChangeSet();
  for (const change of changes) set.add(change);
  return set.list();
}
