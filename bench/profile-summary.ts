/**
 * Summarises a V8 .cpuprofile: self time per function and per file, heaviest first.
 *
 *   node dist/bench/profile-summary.js <file.cpuprofile> [--top 25]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  ms: number;
  share: number;
}

export function summarizeProfile(
  profile: Profile,
  top = 25,
): { totalMs: number; functions: ProfileRow[]; files: ProfileRow[]; inclusive: ProfileRow[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0; // the delta after a sample is the time it stood for
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + dt);
  }
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const short = shorten(url);
    const key = url ? `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}` : functionName || '(anonymous)';
    fn.set(key, (fn.get(key) ?? 0) + us);
    const fkey = url ? short : `(${functionName})`;
    file.set(fkey, (file.get(fkey) ?? 0) + us);
  }
  // Inclusive time: each sample counts once for every distinct function on its stack.
  const incl = new Map<string, number>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const { functionName, url, lineNumber } = byId.get(at)!.callFrame;
      if (!url) continue;
      const key = `${functionName || '(anonymous)'} ${shorten(url)}:${lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + us);
    }
  }
  const rows = (m: Map<string, number>): ProfileRow[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: totalUs ? us / totalUs : 0 }));
  return { totalMs: totalUs / 1000, functions: rows(fn), files: rows(file), inclusive: rows(incl) };
}

function shorten(url: string): string {
  const s = url.replace(/^file:\/\//, '');
  const nm = s.lastIndexOf('/node_modules/');
  if (nm >= 0) return s.slice(nm + 1);
  const dist = s.indexOf('/dist/');
  if (dist >= 0) return s.slice(dist + 1);
  return s;
}

export function formatProfile(summary: ReturnType<typeof summarizeProfile>, title: string): string {
  const out = [`### ${title} (${summary.totalMs.toFixed(0)} ms sampled)`, '', '| self ms | share | function |', '|---:|---:|---|'];
  for (const r of summary.functions) out.push(`| ${r.ms.toFixed(1)} | ${(r.share * 100).toFixed(1)}% | \`${r.name}\` |`);
  out.push('', '| self ms | share | file |', '|---:|---:|---|');
  for (const r of summary.files) out.push(`| ${r.ms.toFixed(1)} | ${(r.share * 100).toFixed(1)}% | \`${r.name}\` |`);
  out.push('', '| total ms | share | function (with callees) |', '|---:|---:|---|');
  for (const r of summary.inclusive) out.push(`| ${r.ms.toFixed(1)} | ${(r.share * 100).toFixed(1)}% | \`${r.name}\` |`);
  return out.join('\n');
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  for (const f of positionals) {
    const profile = JSON.parse(readFileSync(f, 'utf8')) as Profile;
    console.log(formatProfile(summarizeProfile(profile, Number(values.top)), f));
    console.log();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
