/**
 * Where is the app's main thread? Asked from the watchdog's worker thread while the main thread
 * may be blocked (`while (true) {}` in a request handler or at a module's top level).
 *
 * A worker can open an inspector session on the main thread (`connectToMainThread`); its
 * messages are served through V8 interrupts, which a running loop checks at every back edge, so
 * `Debugger.pause` stops even `while (true) {}`. While paused, an expression evaluated on the
 * top frame runs on the main thread with the paused frames beneath it: `new Error().stack` there
 * goes through the runner's `Error.prepareStackTrace`, which maps devhot's compiled code back to
 * the .ts source with the runner's own source maps. Then the thread resumes. Measured on Node 20:
 * enable + pause + evaluate + resume takes about 20 ms.
 *
 * Nothing is connected until asked: a connected session makes Node print "Waiting for the
 * debugger to disconnect" at exit. A thread blocked outside JavaScript (a synchronous syscall)
 * cannot be paused: after `timeoutMs` the answer is undefined and the pause is withdrawn.
 */
import { Session } from 'node:inspector';
import type { StuckAt } from '../shared/ipc.js';
import { firstProjectFrame, framesOf } from '../shared/stack-frames.js';

/** Evaluated on the paused top frame: the stack as the runner maps it, with room for deep calls. */
const STACK_EXPRESSION = `(() => {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  try { return String(new Error().stack); } finally { Error.stackTraceLimit = limit; }
})()`;

type Post = (method: string, params?: object) => Promise<unknown>;

function poster(session: Session): Post {
  return (method, params = {}) =>
    new Promise((resolve, reject) => {
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result)));
    });
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);
}

/** The main thread's stack as text, or undefined when it could not be paused in time. */
async function pausedStack(timeoutMs: number): Promise<string | undefined> {
  const session = new Session();
  session.connectToMainThread();
  const post = poster(session);
  let done = false;
  const stack = new Promise<string | undefined>((resolve) => {
    session.on('Debugger.paused', (message: { params: { callFrames: Array<{ callFrameId: string }> } }) => {
      const top = message.params.callFrames[0];
      // Once we gave up, a late pause is resumed at once: the app must never stay paused.
      const evaluate =
        done || !top
          ? Promise.resolve(undefined)
          : post('Debugger.evaluateOnCallFrame', {
              callFrameId: top.callFrameId,
              expression: STACK_EXPRESSION,
              returnByValue: true,
            });
      evaluate
        .then(
          (result) => resolve((result as { result?: { value?: unknown } } | undefined)?.result?.value as string | undefined),
          () => resolve(undefined),
        )
        .finally(() => post('Debugger.resume').catch(() => {}));
    });
  });
  try {
    const paused = (async () => {
      await post('Debugger.enable');
      await post('Debugger.pause');
      return stack;
    })();
    return await within(paused, timeoutMs);
  } finally {
    done = true;
    // Disabling withdraws a pause not yet taken; disconnecting ends the session either way.
    await within(
      post('Debugger.disable').catch(() => {}),
      100,
    );
    session.disconnect();
  }
}

/**
 * The innermost frame in the project's own code (under `root`, not in node_modules), or failing
 * that the innermost frame with a file at all. The evaluation's own frame has no file.
 */
function stuckAt(stack: string, root: string): StuckAt | undefined {
  const frames = framesOf(stack);
  return firstProjectFrame(frames, root) ?? frames[0];
}

/** Where the main thread runs, mapped to the source; undefined if it could not be paused. */
export async function sampleMainThread(root: string, timeoutMs: number): Promise<StuckAt | undefined> {
  try {
    const stack = await pausedStack(timeoutMs);
    return stack === undefined ? undefined : stuckAt(stack, root);
  } catch {
    return undefined; // no inspector in this Node build, or the session failed: say nothing
  }
}
