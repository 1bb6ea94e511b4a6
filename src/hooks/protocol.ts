/**
 * Between Node's module hooks (esm-hooks.ts, on the loader's own thread) and the runner that owns
 * the user's modules (src/runner/native-loads.ts, on the main thread). Node's loader asks when
 * code devhot did not compile (a package in node_modules, `eval`) imports a file of the project:
 * the runner loads it into its graph and answers with what the hooks need to hand Node a small
 * module that re-exports the runner's instance.
 */

/** Data given to the hooks' `initialize` (module.register's `data`). */
export interface HooksData {
  /**
   * 'proxy': the project's files are the runner's (the app process); 'compile': they are
   * compiled here and run by Node (a forked child or a worker, which have no runner).
   */
  mode: 'proxy' | 'compile';
  /** Real path of the project root, with a trailing separator: files under it are user files. */
  rootPrefix: string;
  /** The channel to the runner (proxy mode). */
  port?: import('node:worker_threads').MessagePort;
  /** Where the hooks post the project files they load (compile mode; see CHILD_FILES_CMD). */
  filesPort?: import('node:worker_threads').MessagePort;
  /** The project root and its tsconfig (compile mode). */
  root?: string;
  /** As the runner's option: a path, false for none, undefined for <root>/tsconfig.json if any. */
  tsconfig?: string | false | undefined;
}

/** What the app process leaves in the environment for its children (child-register.ts). */
export const CHILD_ENV = 'DEVHOT_CHILD';

export interface ChildConfig {
  root: string;
  tsconfig: string | false | undefined;
}

export type HooksRequest =
  /** Node's resolver failed: does the runner's (tsconfig paths, `.js` → `.ts`, no extension) find a user file? */
  | { id: number; type: 'resolve'; specifier: string; parent: string | undefined }
  /** Load `file` into the runner's graph (linked, not evaluated); answer its instance and export names. */
  | { id: number; type: 'load'; file: string };

export type HooksReply =
  | { id: number; type: 'resolved'; file: string | undefined }
  | { id: number; type: 'loaded'; instance: number; names: string[] }
  | { id: number; type: 'failed'; message: string; name: string; code: string | undefined };

/** Where the proxy module finds the runner (globalThis[RUNNER_KEY]). */
export const RUNNER_KEY = 'devhot.nativeLoads';

/** The query a proxied URL carries: one URL per instance, so Node's cache never serves a replaced one. */
export const INSTANCE_PARAM = 'devhot-instance';

/**
 * How a forked child or a worker tells the app which project files it runs, so a save of one
 * restarts it (src/runner/resource-tracking.ts): a forked child with an IPC channel sends an
 * internal message (a `cmd` starting with NODE_, which Node gives the parent as
 * 'internalMessage', never to user 'message' listeners); a worker, a thread of the app process,
 * posts on a BroadcastChannel with its threadId.
 */
export const CHILD_FILES_CMD = 'NODE_DEVHOT_FILES';
export const WORKER_FILES_CHANNEL = 'devhot:worker-files';

export interface WorkerFilesMessage {
  threadId: number;
  files: string[];
}
