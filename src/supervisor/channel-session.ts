/**
 * The session file's lifetime: tools find the channel, and its control token, in it, so it
 * exists exactly while the channel listens. It is removed on close(), and also when the process
 * exits without close() (process.exit in a test), or a stale file would point tools at nothing.
 */
import type { SessionFile } from '../shared/protocol.js';
import { removeSessionFile, writeSessionFile } from './channel-io.js';

export interface SessionKeeper {
  remove(): void;
}

/** Write the session file (none when `file` is false); remove() removes it. Throws when it cannot be written. */
export function keepSessionFile(file: string | false, session: SessionFile): SessionKeeper {
  if (!file) return { remove: () => {} };
  const removeSync = () => removeSessionFile(file, session.token);
  writeSessionFile(file, session);
  process.on('exit', removeSync);
  return {
    remove() {
      process.off('exit', removeSync);
      removeSync();
    },
  };
}
