/**
 * A hash of a source file's text as read (UTF-8), computed the same way by the app that ran the
 * file and by the supervisor that starts watching it later (watcher.ts, watchOutside): equal
 * hashes, nothing was saved in between. Content, not file times: those come from a coarse
 * clock (1-2 s on some file systems, another machine's clock on NFS and container mounts).
 */
import { hash } from 'node:crypto';

export function sourceHash(text: string): string {
  return hash('sha1', text, 'base64url');
}
