/**
 * The processes below a process, read from /proc (Linux). A process group covers what an app
 * starts, except a child that made a group of its own (`detached: true`): killing by the tree
 * reaches those too. Elsewhere (no /proc) the list is empty and the group kill is what is left.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Every descendant of `pid`, parents before their children. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the fields start after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      let list = children.get(ppid);
      if (!list) children.set(ppid, (list = []));
      list.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/**
 * When `pid` started (clock ticks since boot, /proc/<pid>/stat field 22), or undefined when it
 * is gone. A pid with the start time recorded for it is still that process, not a reuse.
 */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** SIGKILL, quietly: a process already gone (or not ours) is no error here. */
export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Kill what runs below `pid` (looked up now, while `pid` is still their parent: once it has
 * exited they belong to init and nothing says whose they were), then `pid`'s group.
 */
export function killTree(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  killAll(descendants(pid));
  killQuietly(-pid, signal);
}

/** SIGKILL each of `pids`, quietly. */
export function killAll(pids: readonly number[]): void {
  for (const pid of pids) killQuietly(pid);
}
