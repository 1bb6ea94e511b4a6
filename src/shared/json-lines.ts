/**
 * JSON lines over a stream (the app's watchdog pipe, both ends): each complete line is parsed and
 * handed on; a line that is not JSON is skipped; past `max` characters without a newline the
 * buffer is dropped, since the other side writes short lines and that is not it speaking.
 */
import type { Readable } from 'node:stream';

export function readJsonLines<T>(stream: Readable, onMessage: (message: T) => void, max = 64 * 1024): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let message: T;
      try {
        message = JSON.parse(line) as T;
      } catch {
        continue;
      }
      onMessage(message);
    }
    if (buffered.length > max) buffered = '';
  });
}
