/**
 * Between the supervisor and the channel: keeps the app state tools ask for (`status`) and
 * turns what happens (updates, errors, restarts) into protocol messages. Errors are copied
 * field by field into a ChannelError, paths made relative, so nothing else leaks to clients.
 */
import { relative } from 'node:path';
import type { ErrorPayload, UpdateResult } from '../shared/results.js';
import type { AppState, ChannelError, ServerMessage } from '../shared/protocol.js';

export interface Broadcaster {
  broadcast(message: ServerMessage): void;
}

export class ChannelBridge {
  private current: AppState = { status: 'stopped', pid: undefined, urls: [], error: undefined };

  constructor(
    private readonly root: string,
    private readonly out: Broadcaster,
  ) {}

  state(): AppState {
    return { ...this.current, urls: [...this.current.urls] };
  }

  set(patch: Partial<AppState>): void {
    this.current = { ...this.current, ...patch };
    this.out.broadcast({ type: 'status', state: this.state() });
  }

  update(result: UpdateResult): void {
    const rel = (f: string) => relative(this.root, f) || f;
    switch (result.status) {
      case 'applied':
        this.clearError();
        this.out.broadcast({
          type: 'update',
          files: result.files.map(rel),
          modules: result.reexecuted,
          rung: result.rung,
          reason: result.reason,
          duration: result.duration,
        });
        return;
      case 'error':
        this.error('update', result.error);
        return;
      case 'unchanged':
        // A save back to the good version after an error: nothing to apply, the error is gone.
        this.clearError();
        return;
      case 'needs-restart':
        return;
      default: {
        const unknown: never = result;
        void unknown;
      }
    }
  }

  error(source: 'update' | 'start' | 'uncaught' | 'listen', payload: ErrorPayload): void {
    const error = this.toChannelError(payload);
    this.out.broadcast({ type: 'error', error, source });
    // An uncaught error in a request handler does not make the running code stale.
    if (source !== 'uncaught') this.set({ status: 'error', error });
  }

  clearError(): void {
    if (!this.current.error && this.current.status !== 'error') return;
    this.out.broadcast({ type: 'error-cleared' });
    this.set({ status: 'running', error: undefined });
  }

  /** `ready`/`failed` carry the app's pid and status after the restart (the old one on failure). */
  restart(phase: 'starting' | 'ready' | 'failed', reason: string, after?: Partial<AppState>): void {
    this.out.broadcast({ type: 'restart', phase, reason });
    if (phase === 'starting') this.set({ status: 'restarting' });
    else if (phase === 'ready') {
      // A good restart ends whatever error stood (a failed start, a taken port).
      this.clearError();
      this.set({ status: 'running', ...after });
    } else this.set({ status: this.current.error ? 'error' : 'running', ...after });
  }

  private toChannelError(p: ErrorPayload): ChannelError {
    const error: ChannelError = { message: p.message };
    if (p.code) error.code = p.code;
    if (p.file) error.file = relative(this.root, p.file) || p.file;
    if (p.line !== undefined) error.line = p.line;
    if (p.column !== undefined) error.column = p.column;
    if (p.frame) error.frame = p.frame;
    if (p.stack) error.stack = p.stack;
    if (p.fix) error.fix = p.fix;
    return error;
  }
}
