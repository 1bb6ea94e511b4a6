import { readFileSync } from 'node:fs';

/** devhot's own version, from its package.json (read once). */
export const version: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;
