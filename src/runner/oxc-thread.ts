/**
 * Oxc's transform in a thread of its own, while a start runs (compile.ts, `useThread`).
 *
 * Why: with Oxc and the rewrite on the main thread, an empty-cache start of 3,000 modules kept
 * the main thread busy and the second core idle; Oxc's share of it was ~0.46 s, three times what
 * the same calls take in a loop of their own (they ran interleaved with acorn). Here the main
 * thread posts a file and goes on with the rewrite of others; the thread answers with Oxc's
 * output (a few kB each way). Empty-cache start() at 3,000 modules, runs alternating with the
 * build before on a busy machine: median 3,442 -> 2,666 ms, best 2,687 -> 2,066 ms; a warm start
 * compiles nothing and starts no thread (runner bench project, Node 20, 2 cores, 2026-11-30).
 * An earlier try ran the rewrite in worker threads too: no faster, +1-1.5 s of CPU (a fresh
 * isolate JITs acorn again, and the compiled module crossed back as a structured clone).
 *
 * One thread: Oxc takes a tenth of what the rest of a module's compile takes on the main thread,
 * so one thread keeps ahead of it on any number of cores. Until it is up (it loads Oxc first),
 * and if it ever fails, files compile here as before, so a small start waits for nothing.
 */
import { MessageChannel, type MessagePort, type Worker, receiveMessageOnPort } from 'node:worker_threads';
import { SafePromise, SafeWorker, safeSetImmediate } from './intrinsics.js';
import { type OxcOptions, transformWithOxc } from './oxc-transform.js';
import type { OxcAnswer, OxcJob, OxcWorkerData } from './oxc-worker.js';
import type { TransformOutput } from './transform.js';

const WORKER_FILE = new URL('./oxc-worker.js', import.meta.url);

/**
 * A start makes the thread after this many files: a small project's start would pay for it and
 * gain nothing (11 files: start() 52 -> 61 ms with a thread from the first file; Node 20,
 * 2026-11-30).
 */
const THREAD_AFTER = 32;

/** Oxc for the compiler: on this thread, and during a start (`begin` ... `end`) in a thread of its own. */
export class OxcStart {
  /** Files compiled since the start began, or -1 outside a start. */
  #files = -1;
  #thread: OxcThread | undefined;

  constructor(private readonly options: OxcOptions) {}

  begin(): void {
    this.#files = 0;
  }

  /** The start is over: the thread ends. Returns how many files it compiled. */
  end(): number {
    this.#files = -1;
    const compiled = this.#thread?.compiled ?? 0;
    this.#thread?.close();
    this.#thread = undefined;
    return compiled;
  }

  transform(file: string, source: string): Promise<TransformOutput | undefined> | TransformOutput | undefined {
    if (this.#files < 0 || ++this.#files <= THREAD_AFTER) return transformWithOxc(file, source, this.options);
    try {
      this.#thread ??= new OxcThread(this.options);
    } catch {
      // No threads here (Node's permission model without --allow-worker): this start compiles here.
      this.#files = -1;
      return transformWithOxc(file, source, this.options);
    }
    return this.#thread.transform(file, source);
  }
}

/** What a transform waiting for the thread gets: its output, or 'here' to compile on this thread. */
type Outcome = TransformOutput | undefined | 'here';

interface Job {
  file: string;
  source: string;
  resolve: (outcome: Outcome) => void;
}

export class OxcThread {
  /** Files the thread compiled. */
  compiled = 0;
  readonly #worker: Worker;
  readonly #port: MessagePort;
  #ready = false;
  #closed = false;
  #nextId = 0;
  /** Files waiting for the thread to be up, oldest first (a Map keeps insertion order). */
  readonly #queued = new Map<number, Job>();
  /** Files posted to the thread and not answered. */
  readonly #posted = new Map<number, Job>();
  #idleTurn = false;

  constructor(private readonly options: OxcOptions) {
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    // Not the app's flags (--inspect, the --import of its hooks): the thread runs devhot's code only.
    this.#worker = new SafeWorker(WORKER_FILE, {
      execArgv: [],
      workerData: { options, port: port2 } satisfies OxcWorkerData,
      transferList: [port2],
    });
    this.#worker.unref();
    this.#port.unref();
    this.#port.on('message', (answer: OxcAnswer) => this.#receive(answer));
    // A thread that fails costs speed, never a compile: its files are compiled here.
    this.#worker.on('error', () => this.close());
    this.#worker.on('exit', () => this.close());
  }

  /** Oxc's output for the file (undefined: esbuild compiles it), from the thread, or from here (see `#whenIdle`). */
  async transform(file: string, source: string): Promise<TransformOutput | undefined> {
    this.#drain();
    if (!this.#closed) {
      const outcome = await new SafePromise<Outcome>((resolve) => {
        const id = this.#nextId++;
        const job = { file, source, resolve };
        if (this.#ready) this.#post(id, job);
        else {
          this.#queued.set(id, job);
          this.#whenIdle();
        }
      });
      if (outcome !== 'here') return outcome;
    }
    return transformWithOxc(file, source, this.options);
  }

  /** End the thread; files it has not answered are compiled here. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const job of [...this.#queued.values(), ...this.#posted.values()]) job.resolve('here');
    this.#queued.clear();
    this.#posted.clear();
    this.#port.close();
    void this.#worker.terminate();
  }

  #post(id: number, job: Job): void {
    // Referenced while it owes answers: a process with nothing else to do must wait for them.
    if (this.#posted.size === 0) this.#port.ref();
    this.#posted.set(id, job);
    this.#port.postMessage({ id, file: job.file, source: job.source } satisfies OxcJob);
  }

  /**
   * Take what the thread has posted, now. A start's discovery is a chain of promises that does
   * not leave the microtask queue while it has work, and a port's messages are delivered only
   * between turns of the event loop: the thread's "ready" came after the start had compiled
   * every file here (0 of 421 files went to the thread), and its answers would wait likewise.
   */
  #drain(): void {
    if (this.#closed) return;
    for (let message = receiveMessageOnPort(this.#port); message; message = receiveMessageOnPort(this.#port)) {
      this.#receive(message.message as OxcAnswer);
    }
  }

  #receive(answer: OxcAnswer): void {
    if ('ready' in answer) {
      this.#ready = true;
      for (const [id, job] of this.#queued) this.#post(id, job);
      this.#queued.clear();
      return;
    }
    const job = this.#posted.get(answer.id);
    if (!job) return;
    this.#posted.delete(answer.id);
    if (this.#posted.size === 0) this.#port.unref();
    if (answer.out !== 'failed') this.compiled++;
    job.resolve(answer.out === 'failed' ? 'here' : (answer.out ?? undefined));
  }

  /**
   * Until the thread is up (a new thread loads Node, then Oxc: ~90 ms here), this thread
   * compiles the oldest file queued whenever it has nothing else to do, one per turn of the
   * event loop: a small start waits for no thread, and a big one keeps for the thread the files
   * it had no time for. (Compiling each file here as it came until the thread was up, a start of
   * 421 files in three levels compiled all of them here; posting each at once, the thread then
   * compiled every file this thread had compiled meanwhile before it came to the next.)
   */
  #whenIdle(): void {
    if (this.#idleTurn) return;
    this.#idleTurn = true;
    safeSetImmediate(() => {
      this.#idleTurn = false;
      this.#drain();
      if (this.#ready || this.#closed) return;
      const [oldest] = this.#queued;
      if (!oldest) return;
      this.#queued.delete(oldest[0]);
      oldest[1].resolve('here');
      if (this.#queued.size > 0) this.#whenIdle();
    });
  }
}
