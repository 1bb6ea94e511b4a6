/**
 * Control characters out of everything devhot prints or sends. A request URL, a file name or an
 * error message can carry escape sequences (`\x1b]0;…`, `\x1b[2J`, a C1 CSI `\x9b`) that a
 * terminal would obey, and the channel's "plain text" fields end up in terminals too (`devhot
 * events`, editors). C0 and C1 controls go, except newline and tab, which text needs.
 *
 * The app's own output is not devhot's: it passes through as the app wrote it, colours included,
 * as it would under `node`.
 */

// C0 without \t (0x09) and \n (0x0a), DEL, C1.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function stripControls(text: string): string {
  return text.replace(CONTROLS, '');
}

/**
 * A copy of `value` with every string (object keys included) stripped of controls. Plain data
 * only (what JSON carries): other objects are copied by their own enumerable properties, and a
 * value that contains itself is left out where it recurs (JSON.stringify would throw there).
 */
export function withoutControls<T>(value: T): T {
  return copy(value, new Set()) as T;
}

function copy(value: unknown, ancestors: Set<object>): unknown {
  if (typeof value === 'string') return stripControls(value);
  if (value === null || typeof value !== 'object') return value;
  if (ancestors.has(value)) return undefined;
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => copy(v, ancestors));
    // toJSON first, as JSON.stringify would (dates).
    const json = (value as { toJSON?: () => unknown }).toJSON;
    if (typeof json === 'function') return copy(json.call(value), ancestors);
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[stripControls(key)] = copy(v, ancestors);
    return out;
  } finally {
    ancestors.delete(value);
  }
}
