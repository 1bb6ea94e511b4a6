/** The esbuild service processes this test process started (`esbuild --service=…`), by pid. */
import { execFileSync } from 'node:child_process';

export function esbuildServices(): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  } catch {
    return []; // none: ps exits 1
  }
  return out
    .split('\n')
    .filter((line) => line.includes('--service='))
    .map((line) => Number(line.trim().split(' ')[0]));
}
