/**
 * With a debugger attached (`--inspect`), each compiled script carries one source map from the
 * TypeScript file to the code V8 runs, so breakpoints set in the .ts source hit. Without one the
 * comment is left out: V8 would keep every version's map text alive for nothing.
 */
import inspector from 'node:inspector';
import { readFileSync } from 'node:fs';
import { type CompiledModule, rewriteMapOf } from './compile.js';
import { loadRemapping } from './toolchain.js';

export function sourceMapComment(compiled: CompiledModule): string {
  const rewriteMap = inspector.url() ? rewriteMapOf(compiled) : null;
  if (!rewriteMap) return '';
  const chain = compiled.transformMap ? [rewriteMap, compiled.transformMap] : [rewriteMap];
  const map = loadRemapping()(chain, () => null);
  map.sources = [compiled.file];
  try {
    // DevTools shows the original file; include it because our cached maps leave it out.
    map.sourcesContent = [readFileSync(compiled.file, 'utf8')];
  } catch {
    map.sourcesContent = [null];
  }
  // The script has one header line that `lineOffset` hides from stack traces but not from maps.
  const mappings = `;${map.toString() && JSON.parse(map.toString()).mappings}`;
  const json = JSON.stringify({ ...JSON.parse(map.toString()), mappings });
  return `\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(json).toString('base64')}`;
}
