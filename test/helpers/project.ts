/**
 * Fixture projects for runner tests: a fresh temp dir per test, files written from a tree, edits
 * and deletions that the test then hands to `runner.update()`, and cleanup.
 *
 * The runner evaluates user code in this process, so fixtures report what they saw through
 * `globalThis.__t_<name>` (read with `G`) or through their exports (`ns()`); each test uses its
 * own keys because the tests of one file share the process.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { After } from './poll.js';
import { writeTree } from './tree.js';
import { createRunner, type Runner, type UpdateResult } from '../../src/runner/runner.js';
import type { RunnerOptions } from '../../src/runner/options.js';

export type Tree = Record<string, string>;

/** The test process's global object, typed loosely for what fixtures assign. */
export const G = globalThis as unknown as Record<string, any>;

/** /work/main, where express, fastify and the rest of the dev dependencies are installed. */
export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');

export interface ProjectOptions {
  /**
   * Link `<root>/node_modules` to the repository's node_modules, so bare imports of installed
   * packages (express, fastify) resolve. Fake packages can still be written under
   * `node_modules/` unless this is set (the link is the whole directory).
   */
  linkNodeModules?: boolean;
  /** Write `package.json` with `"type": "module"` unless the tree has one. Default: true. */
  esm?: boolean;
}

export interface Project {
  /** Real path of the project root. */
  readonly root: string;
  /** Absolute path of a file in the project. */
  file(rel: string): string;
  /** Write (create or replace) a file; returns its absolute path. */
  write(rel: string, content: string): string;
  /** Replace text in a file (the search text must occur); returns its absolute path. */
  edit(rel: string, search: string | RegExp, replacement: string): string;
  read(rel: string): string;
  remove(rel: string): string;
  rename(from: string, to: string): [string, string];
  cleanup(): void;
}

export function createProject(tree: Tree, options: ProjectOptions = {}): Project {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-')));
  if (options.linkNodeModules) fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'), 'junction');
  const files = writeTree(root, tree, options.esm === undefined ? {} : { esm: options.esm });
  const { file } = files;
  return {
    ...files,
    remove(rel) {
      fs.rmSync(file(rel));
      return file(rel);
    },
    rename(from, to) {
      fs.renameSync(file(from), file(to));
      return [file(from), file(to)];
    },
    cleanup() {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface Started {
  project: Project;
  runner: Runner;
  start: UpdateResult;
  /** The current namespace of a module (reads through to its current instance). */
  ns(rel: string): Record<string, any>;
}

/**
 * A project plus a runner that is not started yet (entry `main.ts` unless given), both torn down
 * after the test; for tests of how a start fails.
 */
export function projectWithRunner(
  t: After,
  tree: Tree,
  options: Partial<RunnerOptions> & ProjectOptions = {},
): { project: Project; runner: Runner } {
  const { linkNodeModules, esm, ...runnerOptions } = options;
  const project = createProject(tree, { ...(linkNodeModules ? { linkNodeModules } : {}), ...(esm === undefined ? {} : { esm }) });
  const runner = createRunner({ root: project.root, entry: 'main.ts', cacheDir: false, ...runnerOptions });
  t.after(async () => {
    await runner.close();
    project.cleanup();
  });
  return { project, runner };
}

/** A project plus a started runner, both torn down after the test. */
export async function startProject(t: After, tree: Tree, options: Partial<RunnerOptions> & ProjectOptions = {}): Promise<Started> {
  const { project, runner } = projectWithRunner(t, tree, options);
  const start = await runner.start();
  return { project, runner, start, ns: (rel) => namespaceOf(runner, project.file(rel)) };
}

export function namespaceOf(runner: Runner, file: string): Record<string, any> {
  const node = runner.modules.get(file);
  assert.ok(node, `${file} is not loaded`);
  return node.namespace as Record<string, any>;
}

/** Narrow an update result, failing the test with the whole result when it is something else. */
export function expectStatus<S extends UpdateResult['status']>(result: UpdateResult, status: S): Extract<UpdateResult, { status: S }> {
  assert.equal(result.status, status, `expected ${status}, got ${JSON.stringify(result, null, 2)}`);
  return result as Extract<UpdateResult, { status: S }>;
}

/** Run `fn` and return what it threw (failing when it does not throw). */
export async function rejection(fn: () => unknown): Promise<any> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}
