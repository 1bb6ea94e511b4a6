/**
 * A plain-text code frame around a 1-based line/column, like Babel's and Vite's:
 *
 *    3 | const a = 1;
 *  > 4 | const b = ;
 *      |           ^
 *    5 | export { a };
 *
 * No colours here: the terminal logger and the browser overlay style it themselves.
 */
export function codeFrame(source: string, line: number, column: number, context = 2): string {
  const lines = source.split(/\r?\n/);
  const first = Math.max(1, line - context);
  const last = Math.min(lines.length, line + context);
  const width = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    const text = (lines[n - 1] ?? '').replace(/\t/g, '  ');
    const gutter = `${String(n).padStart(width)} |`;
    out.push(`${n === line ? '>' : ' '} ${gutter}${text ? ` ${text}` : ''}`);
    if (n === line) {
      const prefix = (lines[n - 1] ?? '').slice(0, Math.max(0, column - 1)).replace(/\t/g, '  ');
      out.push(`  ${' '.repeat(width)} | ${' '.repeat(prefix.length)}^`);
    }
  }
  return out.join('\n');
}
