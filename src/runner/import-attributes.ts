/**
 * Import attributes (`import data from './d.json' with { type: 'json' }`), checked as Node checks
 * them for the modules devhot loads itself (Node checks its own): `type` is the only attribute,
 * `json` its only value, a JSON module needs it and any other module must not have it.
 *
 * One leniency, on purpose: TypeScript files import JSON without the attribute
 * (`resolveJsonModule`), which plain `node` refuses. devhot keeps that working in .ts files,
 * with a warning per importing file saying that node would refuse it.
 */
import { extname } from 'node:path';
import { attributeIncompatible, attributeMissing, attributeUnsupported, importOptionErrors } from './node-errors.js';

const TYPESCRIPT = new Set(['.ts', '.tsx', '.mts', '.cts']);

/** The attributes of `import(specifier, options)` (EvaluateImportCall's checks, in its order). */
export function readImportOptions(options: unknown): Record<string, string> | undefined {
  if (options === undefined) return undefined;
  if (options === null || (typeof options !== 'object' && typeof options !== 'function')) throw importOptionErrors.notObject();
  const attributes = (options as { with?: unknown }).with;
  if (attributes === undefined) return undefined;
  if (attributes === null || (typeof attributes !== 'object' && typeof attributes !== 'function')) throw importOptionErrors.withNotObject();
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (typeof value !== 'string') throw importOptionErrors.valueNotString();
    out[key] = value;
  }
  return out;
}

/**
 * Check the attributes an importer gave for a user module `file`. Returns a warning to report
 * (a .ts file importing JSON without the attribute), or throws Node's TypeError.
 */
export function checkAttributes(file: string, attributes: Record<string, string> | undefined, importer: string): string | undefined {
  for (const [key, value] of Object.entries(attributes ?? {})) {
    if (key !== 'type' || value !== 'json') throw attributeUnsupported(key, value, file);
  }
  const isJson = extname(file) === '.json';
  const type = attributes?.type;
  if (type === 'json' && !isJson) throw attributeIncompatible(file, type);
  if (isJson && type !== 'json') {
    if (!TYPESCRIPT.has(extname(importer))) throw attributeMissing(file);
    return `${importer} imports ${file} without \`with { type: 'json' }\`: devhot allows it in TypeScript (resolveJsonModule), plain node refuses it with ERR_IMPORT_ATTRIBUTE_MISSING`;
  }
  return undefined;
}
