/**
 * CommonJS modules load each other synchronously: each `require()` of a user file compiles it
 * with esbuild's synchronous API, one at a time, while the requiring module waits. Discovery
 * compiles ahead, concurrently and with the asynchronous API, the user files a CommonJS module's
 * code names in `require("…")`, and theirs in turn; when the require comes, the compile cache has
 * them, and the transaction the source each was compiled from (a warm start read and hashed
 * every required file twice before: 1,163-1,222 against 1,078-1,168 ms, 6 pairs). esbuild's
 * service compiles them on every core: 3,000 small TypeScript files as CommonJS took 3.2-3.9 s
 * one by one with `transformSync` and 1.7 s all at once with `transform` (Node 20, 2 cores,
 * 2026-12-01).
 *
 * Only TypeScript and JSX, which esbuild compiles. Only a head start: nothing here enters the
 * graph, runs, or reports. A file that does not resolve, cannot be read or does not compile is
 * left to its require, which says so as before (a require behind an `if` may never come). A file
 * the graph has already is never compiled here: a save re-reads it anyway, and a save must not
 * read a whole CommonJS tree again.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { CompiledModule } from './compile.js';
import type { Transaction } from './transaction.js';
import { fromPack, stampFor } from './pack-lookup.js';

/** What esbuild compiles (transform.ts): TypeScript and JSX. */
const AHEAD = new Set(['.ts', '.tsx', '.mts', '.cts', '.jsx']);

/**
 * `require("x")` or `require('x')` with a plain literal: what esbuild emits for an import and
 * what people write. A match in a string or a comment costs one needless compile.
 */
const REQUIRE_CALL = /\brequire\(\s*(?:"([^"\\\n]+)"|'([^'\\\n]+)')\s*\)/g;

/** The specifiers a CommonJS module requires by a literal name. */
function requiredSpecifiers(code: string): string[] {
  const specifiers: string[] = [];
  for (const match of code.matchAll(REQUIRE_CALL)) specifiers.push(match[1] ?? match[2]!);
  return specifiers;
}

/**
 * Compile ahead what the CommonJS module `file` requires (see above). `seen` holds the files
 * taken already in this discovery; `track` gets each compile under way, which never rejects.
 */
export function prefetchRequires(
  txn: Transaction,
  file: string,
  compiled: CompiledModule,
  seen: Set<string>,
  track: (task: Promise<void>) => void,
): void {
  if (compiled.format !== 'cjs') return;
  const { state } = txn;
  for (const specifier of requiredSpecifiers(compiled.code)) {
    const target = userFileOf(txn, specifier, file);
    // Plain JavaScript and JSON compile on this thread either way: ahead, they would only cost
    // the files no require reaches.
    if (target === undefined || !AHEAD.has(extname(target)) || seen.has(target) || state.nodes.has(target)) continue;
    seen.add(target);
    track(
      compileAhead(txn, target).then(
        (next) => {
          if (next) prefetchRequires(txn, target, next, seen, track);
        },
        () => {},
      ),
    );
  }
}

function userFileOf(txn: Transaction, specifier: string, importer: string): string | undefined {
  try {
    const resolved = txn.state.resolver.resolve(specifier, importer, 'require');
    return resolved.kind === 'user' ? resolved.file : undefined;
  } catch {
    return undefined;
  }
}

/** `file` compiled into the compile cache; its source kept for its require (Transaction.readAhead). */
async function compileAhead(txn: Transaction, file: string): Promise<CompiledModule | undefined> {
  const packed = fromPack(txn.state, file);
  if (packed) return packed;
  const stamp = stampFor(txn.state, file);
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  txn.readAhead.set(file, source);
  return txn.state.compiler.compile(file, source, stamp);
}
