/**
 * Rewrites one module's JavaScript (esbuild's ESM output) into the body of a generator function
 * that devhot runs itself, so that old versions can be dropped and garbage-collected.
 *
 * The body runs in two steps, like an ES module's link and evaluate phases:
 *   1. up to the `yield` it binds its imports (`__dh__.d[i]`, the dependency's namespace) and
 *      registers getters for its exports (closures over the local bindings, so they stay live and
 *      throw in the TDZ exactly as Node does when a cycle reads a binding too early);
 *   2. after the `yield` the module's own code runs.
 * Function declarations are hoisted to the top of the generator, so a cycle can call them before
 * the module has evaluated, as in Node. A module with top-level await becomes an async generator.
 *
 * References to imported bindings are rewritten to property reads on the namespace (`x` →
 * `__dh_i0.x`), scope-aware, so that they stay live and follow the dependency when it is replaced.
 * The rewrite keeps every line where it was, so line numbers hold even before the source map is read.
 */
import { parse } from 'acorn';
import MagicString from 'magic-string';
import { DevhotError, ErrorCodes } from '../errors.js';
import { ReferenceWalker, patternNames, type AstNode as N } from './reference-walker.js';

export type ModuleFormat = 'esm' | 'cjs';

export interface RewriteDependency {
  specifier: string;
  /** Import attributes (`with { type: 'json' }`), passed on to native imports. */
  attributes?: Record<string, string>;
}

export interface RewriteResult {
  code: string;
  /** Source map (JSON) from the input code to `code`. */
  map: string;
  format: ModuleFormat;
  /** The module awaits at the top level, so it must be evaluated asynchronously. */
  async: boolean;
  /** Static dependencies in the order Node would link and evaluate them. */
  deps: RewriteDependency[];
}

/** The identifier through which rewritten code reaches the runner (see ModuleRuntime in instance.ts). */
export const RUNTIME = '__dh__';

export interface RewriteOptions {
  /** File name, for error messages and the source map. */
  file: string;
  /** Format when the code has neither `import`/`export` nor `import.meta` / top-level await. */
  defaultFormat: ModuleFormat;
}

export function rewriteModule(code: string, options: RewriteOptions): RewriteResult {
  const ast = parseModule(code, options);
  const s = new MagicString(code);
  const body = ast.body as N[];

  const hasModuleSyntax = body.some(
    (n) => n.type === 'ImportDeclaration' || n.type.startsWith('Export'),
  );

  const deps: RewriteDependency[] = [];
  const depIndex = new Map<string, number>();
  const depVar = (source: N): string => {
    const specifier = String(source.value);
    let index = depIndex.get(specifier);
    if (index === undefined) {
      index = deps.length;
      depIndex.set(specifier, index);
      deps.push({ specifier });
    }
    return `__dh_i${index}`;
  };

  /** local name → expression that reads the imported binding */
  const imports = new Map<string, string>();
  /** exported name → expression (evaluated lazily in a getter) */
  const exportGetters: Array<[string, string]> = [];
  const stars: string[] = [];
  let anonymousDefaultFunction = false;

  for (const node of body) {
    switch (node.type) {
      case 'ImportDeclaration': {
        const ns = depVar(node.source);
        recordAttributes(deps, depIndex, node);
        for (const spec of node.specifiers as N[]) {
          const local = spec.local.name as string;
          if (spec.type === 'ImportNamespaceSpecifier') imports.set(local, ns);
          else if (spec.type === 'ImportDefaultSpecifier') imports.set(local, `${ns}.default`);
          else imports.set(local, member(ns, moduleExportName(spec.imported)));
        }
        blank(s, code, node.start, node.end);
        break;
      }
      case 'ExportNamedDeclaration': {
        if (node.declaration) {
          // `export const a = 1` → `const a = 1`; the getter reads the binding.
          s.remove(node.start, node.declaration.start);
          for (const name of declaredNames(node.declaration)) exportGetters.push([name, name]);
        } else if (node.source) {
          const ns = depVar(node.source);
          recordAttributes(deps, depIndex, node);
          for (const spec of node.specifiers as N[]) {
            exportGetters.push([moduleExportName(spec.exported), member(ns, moduleExportName(spec.local))]);
          }
          blank(s, code, node.start, node.end);
        } else {
          for (const spec of node.specifiers as N[]) {
            const local = moduleExportName(spec.local);
            // Re-exporting an imported binding reads through the import (resolved after the loop).
            exportGetters.push([moduleExportName(spec.exported), `\0${local}`]);
          }
          blank(s, code, node.start, node.end);
        }
        break;
      }
      case 'ExportAllDeclaration': {
        const ns = depVar(node.source);
        recordAttributes(deps, depIndex, node);
        if (node.exported) exportGetters.push([moduleExportName(node.exported), ns]);
        else stars.push(ns);
        blank(s, code, node.start, node.end);
        break;
      }
      case 'ExportDefaultDeclaration': {
        const decl = node.declaration as N;
        if ((decl.type === 'FunctionDeclaration' || decl.type === 'ClassDeclaration') && decl.id) {
          // Named: keep the declaration (and its hoisting), export its binding.
          s.remove(node.start, decl.start);
          exportGetters.push(['default', decl.id.name]);
        } else if (decl.type === 'FunctionDeclaration') {
          // Anonymous function: give it a hoisted name so cycles can call it before evaluation.
          s.remove(node.start, decl.start);
          const paren = code.indexOf('(', decl.start);
          s.appendLeft(paren, ' __dh_default');
          anonymousDefaultFunction = true;
          exportGetters.push(['default', '__dh_default']);
        } else {
          s.overwrite(node.start, decl.start, 'const __dh_default = ');
          if (code[node.end - 1] !== ';') s.appendLeft(node.end, ';');
          exportGetters.push(['default', '__dh_default']);
        }
        break;
      }
    }
  }

  const walker = new ReferenceWalker(s, imports, RUNTIME);
  walker.walkProgram(body);
  const format: ModuleFormat =
    hasModuleSyntax || walker.usesImportMeta || walker.topLevelAwait ? 'esm' : options.defaultFormat;

  if (format === 'esm') {
    const prelude: string[] = [];
    if (deps.length > 0) {
      prelude.push(`const ${deps.map((_, i) => `__dh_i${i} = ${RUNTIME}.d[${i}]`).join(', ')};`);
    }
    if (anonymousDefaultFunction) {
      prelude.push(`Object.defineProperty(__dh_default, "name", { value: "default" });`);
    }
    if (exportGetters.length > 0) {
      const entries = exportGetters.map(([name, expr]) => {
        const resolved = expr.startsWith('\0') ? (imports.get(expr.slice(1)) ?? expr.slice(1)) : expr;
        return `${JSON.stringify(name)}: () => ${resolved}`;
      });
      prelude.push(`${RUNTIME}.e({ ${entries.join(', ')} });`);
    }
    for (const ns of stars) prelude.push(`${RUNTIME}.s(${ns});`);
    prelude.push('yield;');
    // One line: the prelude sits in front of the first line of code, so no line moves.
    s.prepend(prelude.join(' '));
  }

  return {
    code: s.toString(),
    map: s.generateMap({ hires: 'boundary', source: options.file, includeContent: false }).toString(),
    format,
    async: walker.topLevelAwait,
    deps: format === 'esm' ? deps : [],
  };
}

function parseModule(code: string, options: RewriteOptions): { body: N[] } {
  try {
    return parse(code, { ecmaVersion: 'latest', sourceType: 'module', allowHashBang: true }) as unknown as {
      body: N[];
    };
  } catch (moduleError) {
    // CommonJS may use what module code forbids (`with`, octal literals, `arguments` at the top).
    if (options.defaultFormat === 'cjs') {
      try {
        return parse(code, { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: true, allowReturnOutsideFunction: true }) as unknown as { body: N[] };
      } catch {
        // fall through and report the module-mode error
      }
    }
    const err = moduleError as SyntaxError & { loc?: { line: number; column: number } };
    throw new DevhotError(ErrorCodes.TRANSFORM, `${err.message.replace(/ \(\d+:\d+\)$/, '')} in ${options.file}`, {
      fix: 'Fix the syntax error and save again; the previous version keeps running.',
      ...(err.loc ? { loc: { file: options.file, line: err.loc.line, column: err.loc.column + 1 } } : {}),
      cause: moduleError,
    });
  }
}

function recordAttributes(deps: RewriteDependency[], depIndex: Map<string, number>, node: N): void {
  const attributes = node.attributes as N[] | undefined;
  if (!attributes || attributes.length === 0) return;
  const dep = deps[depIndex.get(String(node.source.value))!]!;
  dep.attributes = {};
  for (const attr of attributes) dep.attributes[moduleExportName(attr.key)] = String(attr.value.value);
}

/** Replace a statement with nothing but its newlines, so later lines keep their numbers. */
function blank(s: MagicString, code: string, start: number, end: number): void {
  const newlines = code.slice(start, end).split('\n').length - 1;
  s.overwrite(start, end, '\n'.repeat(newlines));
}

function moduleExportName(node: N): string {
  return node.type === 'Identifier' ? node.name : String(node.value);
}

function member(object: string, name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `${object}.${name}` : `${object}[${JSON.stringify(name)}]`;
}

function declaredNames(decl: N): string[] {
  if (decl.type === 'VariableDeclaration') {
    const names: string[] = [];
    for (const d of decl.declarations as N[]) patternNames(d.id, names);
    return names;
  }
  return decl.id ? [decl.id.name as string] : [];
}
