/**
 * A string with characters of its own. V8 keeps a substring of 13 characters or more as a slice
 * of the string it came from, and a string joined from parts as a tree of them: either keeps what
 * it was made from alive. Slicing `' ' + s` makes V8 flatten the join into one new string first,
 * so the result holds only its own characters (and one space).
 */
export function ownString(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
}
