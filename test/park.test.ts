/**
 * A listening socket parked by a server's close() (src/app/park.ts): the next listen on its
 * address claims it with the connections it accepted meanwhile; one nobody claims is closed for
 * real after a while, with what it held, instead of holding connections forever.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { claimParked, type ListenHandle, park } from '../src/app/park.js';
import { poll } from './helpers/poll.js';

/** A real listening TCP handle, as a net.Server has it (`_handle`), taken from its server. */
async function listeningHandle(): Promise<{ handle: ListenHandle; port: number }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const internals = server as unknown as { _handle: ListenHandle | null };
  const handle = internals._handle!;
  internals._handle = null;
  server.close();
  return { handle, port };
}

function connect(port: number): net.Socket {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  return socket;
}

/** Resolves when the parked handle has accepted a connection (park's own onconnection ran). */
function nextAccept(handle: ListenHandle): Promise<void> {
  return new Promise((resolve) => {
    const hold = handle.onconnection;
    handle.onconnection = function (status, client) {
      hold.call(this, status, client);
      resolve();
    };
  });
}

test('a parked socket is claimed by the next listen, with the connections it accepted meanwhile', async (t) => {
  const { handle, port } = await listeningHandle();
  t.after(() => handle.close());
  park('127.0.0.1:test-claim', handle, 60_000);
  const accepted = nextAccept(handle);
  const client = connect(port);
  t.after(() => client.destroy());
  await accepted;
  const claimed = claimParked('127.0.0.1:test-claim');
  assert.equal(claimed?.handle, handle);
  assert.equal(claimed?.held.length, 1);
  assert.equal(claimParked('127.0.0.1:test-claim'), undefined, 'claimed once');
});

test('a parked socket nobody claims is closed after the delay, and so are the connections it held', async () => {
  const { handle, port } = await listeningHandle();
  park('127.0.0.1:test-expire', handle, 300);
  const held = connect(port);
  let heldClosed = false;
  held.on('close', () => (heldClosed = true));
  await poll(() => heldClosed, 'the held connection to be closed', 5000);
  await poll(
    () =>
      new Promise<boolean>((resolve) => {
        const late = connect(port);
        late.once('connect', () => {
          late.destroy();
          resolve(false);
        });
        late.once('error', () => resolve(true));
      }),
    'the port to refuse connections once the socket is closed',
    5000,
  );
  assert.equal(claimParked('127.0.0.1:test-expire'), undefined);
});
