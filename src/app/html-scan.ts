/**
 * Where a page's real `</body>` is: the one an HTML parser would take as the end of the body,
 * not the text `</body>` inside a comment, a `<script>` string, a `<style>`, a `<textarea>` or
 * `<title>` (raw text until their own end tag), an attribute value, or a `<template>` (its
 * content is a fragment of its own, issue #11.8). A tokenizer in miniature: it follows the
 * states that decide where markup is, not the tree.
 */

/** Elements whose content is text up to their own end tag (HTML's raw and escapable raw text). */
const RAW_TEXT = new Set(['script', 'style', 'textarea', 'title', 'xmp', 'iframe', 'noembed', 'noframes', 'noscript']);
/** What ends each raw text element's content, made once (used with lastIndex, synchronously). */
const RAW_TEXT_END = new Map([...RAW_TEXT].map((name) => [name, new RegExp(`</${name}[\\s/>]`, 'gi')]));
const TAG_NAME = /<(\/?)([a-zA-Z][^\s/>]*)/y;

/** The offset of the last real `</body>` in `html`, or -1. */
export function bodyCloseIndex(html: string): number {
  let found = -1;
  let templates = 0;
  let i = 0;
  for (;;) {
    const lt = html.indexOf('<', i);
    if (lt < 0) return found;
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      if (end < 0) return found;
      i = end + 3;
      continue;
    }
    if (html[lt + 1] === '!' || html[lt + 1] === '?') {
      // <!doctype …>, <![CDATA[ … or a bogus comment: up to the next '>'.
      const end = html.indexOf('>', lt + 2);
      if (end < 0) return found;
      i = end + 1;
      continue;
    }
    TAG_NAME.lastIndex = lt;
    const tag = TAG_NAME.exec(html);
    if (!tag) {
      i = lt + 1;
      continue;
    }
    const end = tagEnd(html, lt + tag[0].length);
    if (end < 0) return found;
    const name = tag[2]!.toLowerCase();
    i = end;
    if (tag[1] === '/') {
      if (name === 'template') templates = Math.max(0, templates - 1);
      else if (name === 'body' && templates === 0) found = lt;
    } else if (name === 'template') {
      templates++;
    } else if (name === 'plaintext') {
      return found; // everything after it is text
    } else if (RAW_TEXT.has(name)) {
      const close = rawTextEnd(html, name, end);
      if (close < 0) return found;
      i = close;
    }
  }
}

/** The offset just past the `>` that ends a tag whose attributes start at `i` (quoted values skipped). */
function tagEnd(html: string, i: number): number {
  let quote = '';
  let afterEquals = false;
  for (; i < html.length; i++) {
    const ch = html[i]!;
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === '>') {
      return i + 1;
    } else if (ch === '=') {
      afterEquals = true;
    } else if (afterEquals && (ch === '"' || ch === "'")) {
      quote = ch;
      afterEquals = false;
    } else if (ch !== ' ' && ch !== '\t' && ch !== '\n' && ch !== '\r' && ch !== '\f') {
      afterEquals = false;
    }
  }
  return -1;
}

/** The offset of the `</name` that ends a raw text element's content, or -1. */
function rawTextEnd(html: string, name: string, from: number): number {
  const close = RAW_TEXT_END.get(name)!;
  close.lastIndex = from;
  return close.exec(html)?.index ?? -1;
}
