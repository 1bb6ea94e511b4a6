/**
 * JSON with comments and trailing commas, the dialect tsconfig files are written in (TypeScript
 * reads them with its own parser, not JSON.parse). A byte-order mark is skipped.
 */
export function parseJsonc(text: string): unknown {
  let out = '';
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const skipTrivia = (from: number): number => {
    let j = from;
    for (;;) {
      const c = text[j];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') j++;
      else if (c === '/' && text[j + 1] === '/') {
        const nl = text.indexOf('\n', j);
        j = nl === -1 ? text.length : nl;
      } else if (c === '/' && text[j + 1] === '*') {
        const end = text.indexOf('*/', j + 2);
        if (end === -1) throw new SyntaxError('Unterminated /* comment');
        j = end + 2;
      } else return j;
    }
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) {
      i = skipTrivia(i);
      out += ' ';
    } else if (c === ',') {
      const next = skipTrivia(i + 1);
      if (text[next] !== '}' && text[next] !== ']') out += ',';
      i = next;
    } else {
      out += c;
      i++;
    }
  }
  return JSON.parse(out);
}
