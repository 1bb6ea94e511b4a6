/**
 * The errors Node's ESM loader gives, so code that checks them (`if (e.code !==
 * 'ERR_MODULE_NOT_FOUND') throw e`, the optional-dependency idiom) works the same under devhot.
 * Their codes and words changed between Node 20 and 22 (import "assertions" became import
 * "attributes"); each is made as the running Node makes it (checked on 20.20, 22.23 and 24.22),
 * and V8's own (a bad second argument of `import()`) as the running V8 makes it.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NODE_MAJOR } from '../shared/node-version.js';

/** Node 22 and later speak of import attributes; Node 20 of import assertions. */
const ATTRIBUTES = NODE_MAJOR >= 22;

/** An error with Node's `code`, as Node's internal errors have it. */
export function nodeError<E extends Error>(error: E, code: string): E & { code: string } {
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return error as E & { code: string };
}

/** `import()` of a path or package that is not there. */
export function moduleNotFound(specifier: string, importer: string): Error & { code: string } {
  const isPath = specifier.startsWith('.') || isAbsolute(specifier) || specifier.startsWith('file:');
  const what = isPath
    ? `module '${specifier.startsWith('file:') ? new URL(specifier).pathname : resolve(dirname(importer), specifier)}'`
    : `package '${packageName(specifier)}'`;
  return nodeError(new Error(`Cannot find ${what} imported from ${importer}`), 'ERR_MODULE_NOT_FOUND');
}

export function unknownFileExtension(extension: string, file: string): TypeError & { code: string } {
  return nodeError(new TypeError(`Unknown file extension "${extension}" for ${file}`), 'ERR_UNKNOWN_FILE_EXTENSION');
}

/** A JSON module imported without `with { type: 'json' }`. */
export function attributeMissing(file: string): TypeError & { code: string } {
  const url = pathToFileURL(file).href;
  return ATTRIBUTES
    ? nodeError(new TypeError(`Module "${url}" needs an import attribute of "type: json"`), 'ERR_IMPORT_ATTRIBUTE_MISSING')
    : nodeError(new TypeError(`Module "${url}" needs an import attribute of type "json"`), 'ERR_IMPORT_ASSERTION_TYPE_MISSING');
}

/** `with { type: 'json' }` on a module that is not JSON. */
export function attributeIncompatible(file: string, type: string): TypeError & { code: string } {
  const message = `Module "${pathToFileURL(file).href}" is not of type "${type}"`;
  return nodeError(new TypeError(message), ATTRIBUTES ? 'ERR_IMPORT_ATTRIBUTE_TYPE_INCOMPATIBLE' : 'ERR_IMPORT_ASSERTION_TYPE_FAILED');
}

/** An attribute Node does not know (`with { type: 'css' }`, `with { foo: 'bar' }`). */
export function attributeUnsupported(key: string, value: string, file: string): TypeError & { code: string } {
  if (ATTRIBUTES) {
    const message = `Import attribute "${key}" with value "${value}" is not supported in ${pathToFileURL(file).href}`;
    return nodeError(new TypeError(message), 'ERR_IMPORT_ATTRIBUTE_UNSUPPORTED');
  }
  if (key === 'type')
    return nodeError(new TypeError(`Import attribute type "${value}" is unsupported`), 'ERR_IMPORT_ASSERTION_TYPE_UNSUPPORTED');
  return nodeError(new TypeError(`Import attribute "${key}" with value "${value}" is not supported`), 'ERR_IMPORT_ATTRIBUTE_UNSUPPORTED');
}

const [V8_MAJOR = 0, V8_MINOR = 0] = process.versions.v8.split('.').map(Number);
/**
 * V8's own words for `import()`'s options follow V8, not Node: they still speak of assertions
 * in V8 12.4 (Node 22.23) as in 11.3 (Node 20), and of attributes in 13.6 (Node 24), read from
 * each binary. The turn is put at 12.6, the V8 of Chrome 126, which dropped the `assert` syntax;
 * the V8s between (Node 23) were not checked.
 */
const V8_ATTRIBUTES = V8_MAJOR > 12 || (V8_MAJOR === 12 && V8_MINOR >= 6);

/** V8's TypeErrors for a bad second argument of `import()`. */
export const importOptionErrors = {
  notObject: () => new TypeError('The second argument to import() must be an object'),
  withNotObject: () => new TypeError(V8_ATTRIBUTES ? "The 'with' option must be an object" : "The 'assert' option must be an object"),
  valueNotString: () =>
    new TypeError(V8_ATTRIBUTES ? 'Import attribute value must be a string' : 'Import assertion value must be a string'),
};

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}
