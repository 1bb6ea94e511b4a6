/**
 * Files of a fixture project in a directory: written from a tree of paths → contents (with an
 * ESM package.json unless the tree has one), then edited by the test. Shared by the runner's
 * and the CLI's test harnesses.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

export interface TreeFiles {
  readonly root: string;
  file(rel: string): string;
  /** Write (create or replace) a file; returns its absolute path. */
  write(rel: string, content: string): string;
  /** Replace text in a file (the search text must occur); returns its absolute path. */
  edit(rel: string, search: string | RegExp, replacement: string): string;
  read(rel: string): string;
}

/** Paths → contents; `{ symlink }` makes a link to that path (relative to the link's directory). */
export type Tree = Record<string, string | { symlink: string }>;

export function writeTree(root: string, tree: Tree, options: { esm?: boolean } = {}): TreeFiles {
  const file = (rel: string) => path.join(root, rel);
  const write = (rel: string, content: string) => {
    const abs = file(rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
    return abs;
  };
  if (options.esm !== false && !('package.json' in tree)) {
    write('package.json', JSON.stringify({ name: 'fixture', private: true, type: 'module' }));
  }
  for (const [rel, content] of Object.entries(tree)) {
    if (typeof content === 'string') write(rel, content);
    else {
      fs.mkdirSync(path.dirname(file(rel)), { recursive: true });
      fs.symlinkSync(path.resolve(path.dirname(file(rel)), content.symlink), file(rel), 'junction');
    }
  }
  return {
    root,
    file,
    write,
    edit(rel, search, replacement) {
      const before = fs.readFileSync(file(rel), 'utf8');
      const after = before.replace(search, replacement);
      assert.notEqual(after, before, `edit(${rel}): ${String(search)} not found`);
      return write(rel, after);
    },
    read: (rel) => fs.readFileSync(file(rel), 'utf8'),
  };
}
