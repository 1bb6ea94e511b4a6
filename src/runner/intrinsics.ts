/**
 * Built-ins as they were when devhot loaded, before any user code ran. A module may replace the
 * global ones (a test double for timers, a Promise subclass; test262 swaps Promise out), and the
 * runner's own machinery, which runs between and around user code, must not call what it put
 * there. (Node's internals keep "primordials" for the same reason.) Async functions and `await`
 * use the intrinsic Promise anyway; these are for the explicit calls.
 */
export const SafePromise: PromiseConstructor = Promise;
export const safeSetTimeout: typeof setTimeout = setTimeout;
export const safeSetImmediate: typeof setImmediate = setImmediate;
