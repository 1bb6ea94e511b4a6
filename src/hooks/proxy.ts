/**
 * What both kinds of module hooks hand Node for a project file the runner owns (esm-hooks.ts on
 * Node's loader thread, src/runner/native-hooks.ts in the main thread): a small module that
 * re-exports the runner's instance, at a URL naming that instance.
 */

/** File extensions of modules the runner runs (JSON is left to Node: a copy of data is harmless). */
const USER_EXTENSIONS = /\.(?:[cm]?[jt]s|[jt]sx)$/;

/** A project file devhot runs (under `rootPrefix`, not in node_modules), as a path; else undefined. */
export function userFile(url: string, rootPrefix: string): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  const path = decodeURIComponent(new URL(url).pathname);
  if (!path.startsWith(rootPrefix) || path.includes('/node_modules/') || !USER_EXTENSIONS.test(path)) return undefined;
  return path;
}

/**
 * A module that re-exports the runner's instance of `file`: its exports, as they are once the
 * runner has evaluated it (the runner's evaluation is this module's).
 */
export function proxySource(runnerKey: string, file: string, names: string[]): string {
  const locals = names.map((_, i) => `__e${i}`);
  const lines = [`const __devhot = globalThis[Symbol.for(${JSON.stringify(runnerKey)})];`];
  if (locals.length > 0) {
    lines.push(`let ${locals.join(', ')};`);
    lines.push(`export { ${names.map((name, i) => `${locals[i]} as ${JSON.stringify(name)}`).join(', ')} };`);
  }
  lines.push(`const __values = await __devhot.evaluate(${JSON.stringify(file)});`);
  for (const [i, name] of names.entries()) lines.push(`${locals[i]} = __values[${JSON.stringify(name)}];`);
  return lines.join('\n');
}
