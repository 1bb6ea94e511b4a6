/**
 * The bridge between the supervisor and a real channel: which errors stand (and are replayed to
 * pages that open later), what clears them, and the state `status` reports after each change.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChannelBridge } from '../src/supervisor/channel-bridge.js';
import type { ErrorPayload } from '../src/shared/results.js';
import type { AppState, ServerMessage } from '../src/shared/protocol.js';
import { openClient, startChannel } from './helpers/channel.js';

const ROOT = '/project';
const payload = (message: string): ErrorPayload => ({
  code: 'DEVHOT_ERR_TRANSFORM',
  message,
  file: `${ROOT}/src/a.ts`,
  line: 3,
  column: 7,
});

async function setup(t: Parameters<typeof startChannel>[0]) {
  let bridge!: ChannelBridge;
  const { channel } = await startChannel(t, {
    handlers: {
      state: () => bridge.state(),
      graph: async () => [],
      reload: async () => undefined,
      restart: async () => undefined,
      custom: () => {},
    },
  });
  bridge = new ChannelBridge(ROOT, channel);
  const statuses = (messages: ServerMessage[]): AppState['status'][] =>
    messages.filter((m): m is Extract<ServerMessage, { type: 'status' }> => m.type === 'status').map((m) => m.state.status);
  return { channel, bridge, statuses };
}

test('a failed start stands until a good restart: then error-cleared, and a page opened later gets no stale error', async (t) => {
  const { channel, bridge, statuses } = await setup(t);
  const watcher = await openClient(t, channel);
  bridge.error('start', payload('Unexpected "}"'));
  const error = await watcher.next('error');
  assert.equal(error.error.file, 'src/a.ts');

  const early = await openClient(t, channel);
  await early.next('error'); // replayed while it stands

  bridge.restart('starting', '.env changed');
  bridge.restart('ready', '.env changed', { pid: 4242 });
  await watcher.next('error-cleared');
  assert.deepEqual(statuses(watcher.messages), ['error', 'restarting', 'running', 'running']);
  assert.equal(bridge.state().status, 'running');
  assert.equal(bridge.state().pid, 4242);
  assert.equal(bridge.state().error, undefined);

  const late = await openClient(t, channel);
  await late.next('connected');
  // A round trip: whatever the channel sent on connect has arrived before the reply.
  await late.request('status');
  assert.equal(
    late.messages.some((m) => m.type === 'error'),
    false,
    JSON.stringify(late.messages),
  );
});

test('an uncaught error in a request handler is sent, but does not stand: later pages do not get it', async (t) => {
  const { channel, bridge } = await setup(t);
  const watcher = await openClient(t, channel);
  bridge.error('uncaught', payload('Cannot read properties of undefined'));
  const error = await watcher.next('error');
  assert.equal(error.source, 'uncaught');
  assert.equal(bridge.state().status, 'stopped'); // unchanged: the running code is not stale

  const late = await openClient(t, channel);
  const connected = await late.next('connected');
  assert.equal(connected.state.error, undefined);
  await late.request('status');
  assert.equal(
    late.messages.some((m) => m.type === 'error'),
    false,
    JSON.stringify(late.messages),
  );
});

test('a failed restart leaves the state on the process that still serves, with the error standing', async (t) => {
  const { channel, bridge, statuses } = await setup(t);
  bridge.set({ status: 'running', pid: 100 });
  const watcher = await openClient(t, channel);
  bridge.restart('starting', '.env changed');
  bridge.error('start', payload('boom'));
  bridge.restart('failed', '.env changed', { pid: 100 });
  await watcher.next('restart', (m) => m.phase === 'failed');
  assert.deepEqual(statuses(watcher.messages), ['restarting', 'error', 'error']);
  assert.equal(bridge.state().pid, 100);
  assert.equal(bridge.state().status, 'error');
});
