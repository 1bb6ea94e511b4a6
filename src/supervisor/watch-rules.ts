/**
 * What the watcher looks at: the project's trees less the never-watched names and --exclude
 * (unless an --include glob says otherwise), plus single files watched wherever they are (env
 * files, devhot's config, modules of the app that live outside the root). Files devhot itself
 * writes (its stdout or stderr redirected into the project) are never reported: a save that
 * fails would otherwise print an error, which is a save, which fails again (issue #11.4).
 */
import { fstatSync, type Stats } from 'node:fs';
import { basename, dirname, relative, sep } from 'node:path';
import { createMatcher, isGlob } from './glob.js';

/** Never watched: dependencies, VCS, build output and devhot's own cache. */
const ALWAYS_IGNORED = new Set([
  'node_modules',
  '.git',
  '.hg',
  '.svn',
  'dist',
  'build',
  'coverage',
  '.devhot',
  '.cache',
  '.next',
  '.nuxt',
  '.turbo',
]);

export type EntryKind = 'file' | 'dir' | 'link';

export interface RulesOptions {
  root: string;
  /** Extra paths or globs to watch, relative to root. */
  include: readonly string[];
  /** Paths or globs to ignore, relative to root. */
  exclude: readonly string[];
}

/** `dev:ino` of this process's stdout and stderr when they are regular files. */
function ownOutputFiles(): Set<string> {
  const out = new Set<string>();
  for (const fd of [1, 2]) {
    try {
      const st = fstatSync(fd);
      if (st.isFile()) out.add(`${st.dev}:${st.ino}`);
    } catch {
      // closed: nothing written there
    }
  }
  return out;
}

export class WatchRules {
  /** The directories watched as a whole, root first (absolute). */
  readonly trees: readonly string[];
  /** Single files watched wherever they are: directory → names. */
  private readonly files = new Map<string, Set<string>>();
  private readonly ownOutput = ownOutputFiles();
  /** Whether there is any --exclude to apply. */
  private readonly filtered: boolean;
  private readonly excluded: (path: string) => boolean;
  private readonly included: (path: string) => boolean;

  constructor(
    private readonly options: RulesOptions,
    trees: readonly string[],
  ) {
    this.trees = trees;
    this.filtered = options.exclude.length > 0;
    this.excluded = createMatcher(options.exclude);
    this.included = createMatcher(options.include.filter(isGlob));
  }

  addFile(file: string): void {
    const dir = dirname(file);
    const names = this.files.get(dir) ?? new Set();
    names.add(basename(file));
    this.files.set(dir, names);
  }

  deleteFile(file: string): void {
    const names = this.files.get(dirname(file));
    names?.delete(basename(file));
    if (names?.size === 0) this.files.delete(dirname(file));
  }

  isFile(path: string): boolean {
    return this.files.get(dirname(path))?.has(basename(path)) ?? false;
  }

  /** The names of the single files watched in this directory. */
  filesIn(dir: string): readonly string[] {
    return [...(this.files.get(dir) ?? [])];
  }

  /** Whether this path, in a watched tree, is looked at (a directory: descended into). */
  wanted(path: string, kind: EntryKind): boolean {
    if (this.isFile(path)) return kind !== 'dir';
    const tree = this.treeOf(path);
    if (tree === undefined) return false;
    if (path === tree) return true;
    // Names count from the tree's own root: `--include build/generated` watches that folder.
    // (Sliced, not path.relative(): this runs for every entry of the initial scan.)
    if (
      path
        .slice(tree.length + 1)
        .split(sep)
        .some((name) => ALWAYS_IGNORED.has(name))
    )
      return false;
    if (!this.filtered) return true;
    const rel = relative(this.options.root, path).split(sep).join('/');
    if (rel.startsWith('../')) return true; // an --include path outside root: its own rules
    return !(this.excluded(rel) && !this.included(rel));
  }

  /** A file this process writes to (its stdout or stderr, redirected into the project). */
  isOwnOutput(st: Stats): boolean {
    return this.ownOutput.size > 0 && this.ownOutput.has(`${st.dev}:${st.ino}`);
  }

  /** Inside one of the watched trees (whether or not the rules want it). */
  inTree(path: string): boolean {
    return this.treeOf(path) !== undefined;
  }

  /** The innermost watched tree holding this path. */
  private treeOf(path: string): string | undefined {
    let best: string | undefined;
    for (const tree of this.trees) {
      if ((path === tree || path.startsWith(tree + sep)) && (best === undefined || tree.length > best.length)) best = tree;
    }
    return best;
  }
}
