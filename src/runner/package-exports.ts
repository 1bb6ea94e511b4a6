/**
 * Node's package `exports` / `imports` target resolution, following the ESM resolution algorithm
 * (https://nodejs.org/api/esm.html#resolution-algorithm-specification: PACKAGE_EXPORTS_RESOLVE,
 * PACKAGE_IMPORTS_RESOLVE, PACKAGE_IMPORTS_EXPORTS_RESOLVE, PATTERN_KEY_COMPARE,
 * PACKAGE_TARGET_RESOLVE). Where the spec text and Node's lib/internal/modules/esm/resolve.js
 * differ (a `null` inside an array), we follow Node, because Node is what loads the result.
 *
 * Pure: no fs. The caller joins a `path` result with the package directory and checks the file.
 */

export type TargetResolution =
  /** Relative to the package directory, starts with './', pattern `*`s substituted. */
  | { kind: 'path'; path: string }
  /** `imports` only: a package specifier to resolve from the package directory. */
  | { kind: 'bare'; specifier: string }
  /** Not exported / not defined / blocked / invalid; `reason` is a clause for an error message. */
  | { kind: 'none'; reason: string };

/** Node's "Invalid Package Target": an array of targets falls back past it. */
class InvalidTarget extends Error {}
/** Invalid package configuration or specifier: never falls back. */
class InvalidConfig extends Error {}

/** Result of a target walk: a target string, `null` (blocked), `undefined` (no condition matched). */
type Walk = string | null | undefined;
const NO_KEY = Symbol('no matching key');

// Node rejects '..' and 'node_modules' segments (also percent-encoded) in targets and pattern
// matches; '.' and empty segments only get a deprecation warning there, so we accept them.
const BAD_SEGMENT =
  /(^|\\|\/)((\.|%2e)(\.|%2e)|(n|%6e|%4e)(o|%6f|%4f)(d|%64|%44)(e|%65|%45)(_|%5f)(m|%6d|%4d)(o|%6f|%4f)(d|%64|%44)(u|%75|%55)(l|%6c|%4c)(e|%65|%45)(s|%73|%53))(\\|\/|$)/i;

/** Resolve `subpath` ('.' or './x') against a package's `exports` field. */
export function resolvePackageExports(
  exports: unknown,
  subpath: string,
  conditions: ReadonlySet<string>,
): Exclude<TargetResolution, { kind: 'bare' }> {
  try {
    const sugar = isMainSugar(exports);
    let walk: Walk | typeof NO_KEY;
    if (subpath === '.') {
      const main = sugar ? exports : isObject(exports) && Object.hasOwn(exports, '.') ? exports['.'] : NO_KEY;
      walk = main === NO_KEY ? NO_KEY : targetResolve(main, null, false, conditions);
    } else {
      // String, array or condition-object `exports` export only '.'.
      walk = sugar || !isObject(exports) ? NO_KEY : matchKeys(subpath, exports, false, conditions);
    }
    const result = toResolution(walk, subpath, false, conditions);
    // Exports targets must start with './', so a 'bare' result cannot happen; keep the type honest.
    return result.kind === 'bare' ? { kind: 'none', reason: `invalid target for '${subpath}'` } : result;
  } catch (error) {
    if (error instanceof InvalidTarget || error instanceof InvalidConfig) return { kind: 'none', reason: error.message };
    throw error;
  }
}

/** Resolve a '#name' specifier against a package's `imports` field. */
export function resolvePackageImports(imports: unknown, specifier: string, conditions: ReadonlySet<string>): TargetResolution {
  if (specifier === '#' || specifier.startsWith('#/')) {
    return { kind: 'none', reason: `'${specifier}' is not a valid "imports" specifier ('#' and '#/' are reserved)` };
  }
  if (!isObject(imports)) return { kind: 'none', reason: `there is no "imports" field` };
  try {
    return toResolution(matchKeys(specifier, imports, true, conditions), specifier, true, conditions);
  } catch (error) {
    if (error instanceof InvalidTarget || error instanceof InvalidConfig) return { kind: 'none', reason: error.message };
    throw error;
  }
}

/** The subpaths a package exports, for an error's fix. */
export function exportedSubpaths(exports: unknown): string[] {
  if (!isObject(exports)) return ['.'];
  const keys = Object.keys(exports);
  return keys.length > 0 && keys.every((k) => k.startsWith('.')) ? keys.filter((k) => exports[k] !== null) : ['.'];
}

/** 'pkg/a/b' → { name: 'pkg', subpath: './a/b' }; '@s/p' → { name: '@s/p', subpath: '.' }. */
export function splitPackageSpecifier(specifier: string): { name: string; subpath: string } | undefined {
  let end = specifier.indexOf('/');
  if (specifier.startsWith('@')) {
    if (end <= 1) return undefined;
    end = specifier.indexOf('/', end + 1);
  }
  const name = end === -1 ? specifier : specifier.slice(0, end);
  // Node's PACKAGE_RESOLVE rejects these names as invalid module specifiers.
  if (name === '' || name.startsWith('.') || name.includes('\\') || name.includes('%')) return undefined;
  return { name, subpath: end === -1 ? '.' : `.${specifier.slice(end)}` };
}

function toResolution(walk: Walk | typeof NO_KEY, key: string, isImports: boolean, conditions: ReadonlySet<string>): TargetResolution {
  if (walk === NO_KEY) return { kind: 'none', reason: `'${key}' is not ${isImports ? 'defined' : 'exported'}` };
  if (walk === null) return { kind: 'none', reason: `'${key}' is not ${isImports ? 'defined' : 'exported'} (its target is null)` };
  if (walk === undefined) {
    return { kind: 'none', reason: `no condition matches '${key}' (conditions: ${[...conditions].join(', ')})` };
  }
  return walk.startsWith('./') ? { kind: 'path', path: walk } : { kind: 'bare', specifier: walk };
}

/** Node's isConditionalExportsMainSugar: keys are either all subpaths or all conditions. */
function isMainSugar(exports: unknown): boolean {
  if (typeof exports === 'string' || Array.isArray(exports)) return true;
  if (!isObject(exports)) return false;
  let sugar: boolean | undefined;
  for (const key of Object.getOwnPropertyNames(exports)) {
    const isCondition = key === '' || !key.startsWith('.');
    if (sugar === undefined) sugar = isCondition;
    else if (sugar !== isCondition) {
      throw new InvalidConfig(`"exports" mixes subpath keys (starting with '.') and condition keys`);
    }
  }
  return sugar ?? false;
}

/** PACKAGE_IMPORTS_EXPORTS_RESOLVE: an exact key, else the most specific single-'*' pattern. */
function matchKeys(
  matchKey: string,
  matchObj: Record<string, unknown>,
  isImports: boolean,
  conditions: ReadonlySet<string>,
): Walk | typeof NO_KEY {
  if (Object.hasOwn(matchObj, matchKey) && !matchKey.includes('*')) {
    return targetResolve(matchObj[matchKey], null, isImports, conditions);
  }
  let bestKey = '';
  let bestMatch = '';
  for (const key of Object.getOwnPropertyNames(matchObj)) {
    const star = key.indexOf('*');
    if (star === -1 || key.includes('*', star + 1)) continue;
    const base = key.slice(0, star);
    if (!matchKey.startsWith(base) || matchKey === base) continue;
    const trailer = key.slice(star + 1);
    if (trailer.length > 0 && !(matchKey.endsWith(trailer) && matchKey.length >= key.length)) continue;
    if (patternKeyCompare(bestKey, key) === 1) {
      bestKey = key;
      bestMatch = matchKey.slice(star, matchKey.length - trailer.length);
    }
  }
  return bestKey === '' ? NO_KEY : targetResolve(matchObj[bestKey], bestMatch, isImports, conditions);
}

/** PATTERN_KEY_COMPARE: longer prefix first, then longer key. Returns 1 when `b` is more specific. */
function patternKeyCompare(a: string, b: string): -1 | 0 | 1 {
  const aStar = a.indexOf('*');
  const bStar = b.indexOf('*');
  const aBase = aStar === -1 ? a.length : aStar + 1;
  const bBase = bStar === -1 ? b.length : bStar + 1;
  if (aBase > bBase) return -1;
  if (bBase > aBase) return 1;
  if (aStar === -1) return 1;
  if (bStar === -1) return -1;
  if (a.length > b.length) return -1;
  if (b.length > a.length) return 1;
  return 0;
}

/** PACKAGE_TARGET_RESOLVE, returning the target string instead of a URL. */
function targetResolve(target: unknown, patternMatch: string | null, isImports: boolean, conditions: ReadonlySet<string>): Walk {
  if (typeof target === 'string') return stringTarget(target, patternMatch, isImports);
  if (Array.isArray(target)) {
    if (target.length === 0) return null;
    let last: InvalidTarget | null | undefined;
    for (const item of target) {
      let walk: Walk;
      try {
        walk = targetResolve(item, patternMatch, isImports, conditions);
      } catch (error) {
        if (!(error instanceof InvalidTarget)) throw error;
        last = error;
        continue;
      }
      if (walk === undefined) continue;
      if (walk === null) {
        last = null;
        continue;
      }
      return walk;
    }
    if (last instanceof InvalidTarget) throw last;
    return last;
  }
  if (isObject(target)) {
    const keys = Object.getOwnPropertyNames(target);
    if (keys.some(isArrayIndex)) throw new InvalidConfig(`condition objects cannot have numeric keys`);
    for (const key of keys) {
      if (key !== 'default' && !conditions.has(key)) continue;
      const walk = targetResolve(target[key], patternMatch, isImports, conditions);
      if (walk !== undefined) return walk;
    }
    return undefined;
  }
  if (target === null) return null;
  throw new InvalidTarget(`invalid target ${JSON.stringify(target)}`);
}

function stringTarget(target: string, patternMatch: string | null, isImports: boolean): string {
  if (!target.startsWith('./')) {
    // Only `imports` may map to a package ('#dep': 'dep'); never to '../x', '/x' or a URL.
    if (!isImports || target.startsWith('../') || target.startsWith('/') || URL.canParse(target)) {
      throw new InvalidTarget(`invalid target "${target}": targets must start with './'`);
    }
    return patternMatch === null ? target : target.replaceAll('*', () => patternMatch);
  }
  if (BAD_SEGMENT.test(target.slice(2))) {
    throw new InvalidTarget(`invalid target "${target}": '..' and 'node_modules' segments are not allowed`);
  }
  if (patternMatch === null) return target;
  if (BAD_SEGMENT.test(patternMatch)) {
    throw new InvalidConfig(`'${patternMatch}' cannot fill a pattern: '..' and 'node_modules' segments are not allowed`);
  }
  // A replacer function, so '$&' in a specifier is not a replacement pattern.
  return target.replaceAll('*', () => patternMatch);
}

function isArrayIndex(key: string): boolean {
  const n = Number(key);
  return `${n}` === key && n >= 0 && n < 0xffff_ffff;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
