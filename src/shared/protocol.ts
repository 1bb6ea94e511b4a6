/**
 * The channel protocol: every message between devhot and its websocket clients (browsers and
 * tools), declared once. Server, browser client, tool client and tests switch on `type` and end
 * in a `never` check, so a new message type fails to compile where it is not handled.
 *
 * This file is imported by browser code too (client/): types only, no Node APIs.
 */

/** Bumped on any incompatible change; clients compare it with their own. */
export const PROTOCOL_VERSION = 1;

/** The websocket path on devhot's channel server. */
export const CHANNEL_PATH = '/@devhot/ws';
/** Where the browser client script is served. */
export const CLIENT_PATH = '/@devhot/client.js';

import type { Rung } from './results.js';

export type { Rung };

/** An error as clients see it: whitelisted fields, plain text (no ANSI). */
export interface ChannelError {
  message: string;
  code?: string;
  /** Path relative to the project root. */
  file?: string;
  line?: number;
  column?: number;
  /** Code frame around file:line:column. */
  frame?: string;
  stack?: string;
  fix?: string;
}

export interface AppState {
  /** 'running': the app serves; 'error': the last update failed (old code serves); 'restarting'; 'stopped': no app process. */
  status: 'running' | 'error' | 'restarting' | 'stopped';
  pid: number | undefined;
  urls: string[];
  /** The error that currently stands (replayed to clients that connect late). */
  error: ChannelError | undefined;
}

export interface ModuleInfo {
  /** Relative to the project root. */
  file: string;
  importers: string[];
  imports: string[];
}

// ------------------------------------------------------------------------------ server → client

export type ServerMessage =
  | {
      type: 'connected';
      protocol: number;
      version: string;
      urls: string[];
      state: AppState;
    }
  | {
      type: 'update';
      /** Files changed, relative to root. */
      files: string[];
      /** Modules that got a new instance, relative to root. */
      modules: string[];
      rung: Rung;
      reason: string | undefined;
      duration: number;
    }
  /** Browsers reload the page (debounced). */
  | { type: 'full-reload'; reason: string }
  /** A stylesheet changed: browsers swap `<link>`s whose href ends with `path`. */
  | { type: 'css-update'; path: string; timestamp: number }
  | { type: 'error'; error: ChannelError; source: 'update' | 'start' | 'uncaught' | 'listen' }
  | { type: 'error-cleared' }
  | { type: 'restart'; phase: 'starting' | 'ready' | 'failed'; reason: string }
  | { type: 'status'; state: AppState }
  /** App output, only to clients that subscribed (`subscribe` with `logs: true`). */
  | { type: 'log'; stream: 'stdout' | 'stderr'; text: string }
  /** `import.meta.hot.send(event, data)` in server code. */
  | { type: 'custom'; event: string; data: unknown }
  /** The reply to a request with the same `id`. */
  | { type: 'reply'; id: string; ok: true; result: unknown }
  | { type: 'reply'; id: string; ok: false; error: string };

// ------------------------------------------------------------------------------ client → server

export type ClientMessage =
  | { type: 'request'; id: string; method: 'status' }
  | { type: 'request'; id: string; method: 'graph' }
  | { type: 'request'; id: string; method: 'reload'; all?: boolean }
  | { type: 'request'; id: string; method: 'restart' }
  | { type: 'subscribe'; logs: boolean }
  /** A custom event for `import.meta.hot.on(event)` in server code. */
  | { type: 'custom'; event: string; data: unknown };

export type RequestMethod = Extract<ClientMessage, { type: 'request' }>['method'];

/** Parse a client's message; anything that is not one of ClientMessage gives undefined. */
export function parseClientMessage(text: string): ClientMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object') return undefined;
  const m = value as Record<string, unknown>;
  switch (m.type) {
    case 'request':
      if (typeof m.id !== 'string' || m.id.length === 0 || m.id.length > 200) return undefined;
      if (m.method === 'status' || m.method === 'graph' || m.method === 'restart') return { type: 'request', id: m.id, method: m.method };
      if (m.method === 'reload') return { type: 'request', id: m.id, method: 'reload', all: m.all === true };
      return undefined;
    case 'subscribe':
      return { type: 'subscribe', logs: m.logs === true };
    case 'custom':
      if (typeof m.event !== 'string' || m.event.length === 0 || m.event.length > 200) return undefined;
      return { type: 'custom', event: m.event, data: m.data };
    default:
      return undefined;
  }
}

/** What tools read to find a running devhot: written with mode 0600, removed on exit. */
export interface SessionFile {
  protocol: number;
  version: string;
  pid: number;
  /** ws://127.0.0.1:PORT/@devhot/ws */
  url: string;
  token: string;
  root: string;
}
