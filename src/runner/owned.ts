/**
 * What a module instance left running in the process: the process listeners, intervals and
 * timers it started, the workers and child processes it created, the NestJS apps it made. When
 * the instance is replaced or pruned (after its dispose handlers ran), they go: listeners
 * removed, timers cleared, workers terminated, children killed, apps closed (nest-apps.ts: once
 * their successor listens). So an entry that registers `process.on('SIGTERM')` and a
 * `setInterval` next to `listen()` keeps one of each across any number of saves, and the retired
 * server those handlers hold is collected.
 *
 * Which instance started something:
 * - while an instance evaluates (synchronously), that instance: whoever registered, its code or a
 *   package it called;
 * - later (a callback, a step after `await`): for process listeners, workers and children, the
 *   nearest frame of user code on the stack, so a listener a package registers on behalf of the
 *   user's code (Apollo Server, Effect's runMain) goes with that code; for intervals and timers
 *   only user code calling them directly, so a package's own timer (a lazily created singleton's
 *   flush interval) is never cleared under it;
 * - a timer's or interval's callback runs as its owner, so a chain of timers stays owned.
 *
 * Stacks are looked at only for the rare calls (process listeners, intervals, workers, children,
 * and timers while an instance evaluates): a setTimeout on the request path costs one check.
 */
import type { ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { closeNestApp, type NestApp } from './nest-apps.js';

export interface OwnedResources {
  readonly timers: Set<NodeJS.Timeout>;
  readonly listeners: Array<[EventEmitter, string | symbol, (...args: unknown[]) => void]>;
  readonly workers: Set<Worker>;
  readonly children: Set<ChildProcess>;
  /**
   * The project files each worker and child runs (its own file, and what it reported loading):
   * a save of one re-runs this instance, which makes a new worker or child (runner.ts).
   */
  readonly runs: Map<Worker | ChildProcess, SpawnedRun>;
  /** NestJS apps its code created (nest-apps.ts). */
  readonly apps: Set<NestApp>;
  /** release() ran: an app resolved after that is closed at once. */
  released: boolean;
}

export interface SpawnedRun {
  kind: 'worker' | 'child process' | 'cluster worker';
  /** Its main file, when it is a file of the project (absolute). */
  main: string | undefined;
  files: Set<string>;
}

export function ownedResources(): OwnedResources {
  return { timers: new Set(), listeners: [], workers: new Set(), children: new Set(), runs: new Map(), apps: new Set(), released: false };
}

/** The workers and children of `owned` that run one of `files`. */
export function runsChanged(owned: OwnedResources | undefined, files: ReadonlySet<string>): SpawnedRun[] {
  const changed: SpawnedRun[] = [];
  if (!owned) return changed;
  for (const run of owned.runs.values()) {
    for (const file of run.files) {
      if (files.has(file)) {
        changed.push(run);
        break;
      }
    }
  }
  return changed;
}

export interface ReleasedCounts {
  listeners: number;
  timers: number;
  workers: number;
  children: number;
  apps: number;
}

export function noneReleased(): ReleasedCounts {
  return { listeners: 0, timers: 0, workers: 0, children: 0, apps: 0 };
}

/** Stop everything the instance left running; returns how much of each it stopped. */
export function release(owned: OwnedResources | undefined): ReleasedCounts {
  const counts = noneReleased();
  if (!owned) return counts;
  owned.released = true;
  for (const app of owned.apps) {
    closeNestApp(app);
    counts.apps++;
  }
  owned.apps.clear();
  for (const [target, event, listener] of owned.listeners.splice(0)) {
    target.removeListener(event, listener);
    counts.listeners++;
  }
  for (const timer of owned.timers) {
    clearTimeout(timer);
    counts.timers++;
  }
  owned.timers.clear();
  for (const worker of owned.workers) {
    void worker.terminate().catch(() => {});
    counts.workers++;
  }
  owned.workers.clear();
  for (const child of owned.children) {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    counts.children++;
  }
  owned.children.clear();
  owned.runs.clear();
  return counts;
}
