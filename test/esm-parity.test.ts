/**
 * ES module semantics as Node has them (issue #9): each fixture runs under plain `node` and
 * under devhot's runner, and both must print the same lines and end the same way
 * (helpers/differential.ts). One fixture per cause, with its variants: at start, at run time,
 * concurrent, in a cycle.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sameAsNode } from './helpers/differential.js';

/** A fixture line that prints an error's constructor, code and message. */
const PRINT_ERROR = `const show = (e) => console.log(e?.constructor?.name, e?.code ?? '-', e?.message);`;

describe('import() never runs a module twice', () => {
  it('import() during start reuses the modules already loaded', async () => {
    const out = await sameAsNode({
      'db.js': `console.log('db evaluated');\nexport const db = { pool: Math.random() };\n`,
      'routes.js': `import { db } from './db.js';\nconsole.log('routes sees', typeof db.pool);\nexport const same = (other) => other === db;\n`,
      'main.js': `import { db } from './db.js';\nconst routes = await import('./routes.js');\nconsole.log('same pool', routes.same(db));\n`,
    });
    assert.deepEqual(out.lines, ['db evaluated', 'routes sees number', 'same pool true']);
  });

  it('import() of the module itself and of an importer: the same namespace, nothing evaluated again', async () => {
    await sameAsNode({
      'a.js': `console.log('a evaluated');\nimport('./main.js').then((m) => console.log('a got main', m.name));\nexport const a = 1;\n`,
      'main.js': `import './a.js';\nconsole.log('main evaluated');\nexport const name = 'main';\nconst self = await import('./main.js');\nconsole.log('self', self.name, self === (await import('./main.js')));\n`,
    });
  });

  it('import() in the middle of top-level code: the importer finishes first', async () => {
    await sameAsNode({
      'b.js': `console.log('b evaluated');\nexport const b = 2;\n`,
      'main.js': `console.log('before');\nconst p = import('./b.js');\nconsole.log('after the call');\np.then((m) => console.log('b is', m.b));\nconsole.log('end of main');\n`,
    });
  });

  it('concurrent import() of modules sharing a dependency evaluates it once, at start and later', async () => {
    const tree = {
      'shared.js': `globalThis.count = (globalThis.count ?? 0) + 1;\nconsole.log('shared evaluated', globalThis.count);\nexport const s = 's';\n`,
      'a.js': `import { s } from './shared.js';\nexport const a = 'a' + s;\n`,
      'b.js': `import { s } from './shared.js';\nexport const b = 'b' + s;\n`,
      'c.js': `export const c = 'c';\n`,
      'd.js': `import { c } from './c.js';\nimport { s } from './shared.js';\nexport const d = c + s;\n`,
    };
    await sameAsNode({
      ...tree,
      'main.js': `const [a, b] = await Promise.all([import('./a.js'), import('./b.js')]);\nconsole.log(a.a, b.b);\nsetTimeout(async () => {\n  const [d1, d2, c] = await Promise.all([import('./d.js'), import('./d.js'), import('./c.js')]);\n  console.log(d1.d, d1 === d2, c.c, globalThis.count);\n}, 10);\n`,
    });
  });

  it('a module that threw: importing it again rejects with the same error, without running it again', async () => {
    await sameAsNode({
      'bad.js': `console.log('bad evaluated');\nthrow new RangeError('bad module');\n`,
      'main.js': `${PRINT_ERROR}\nlet first;\ntry { await import('./bad.js'); } catch (e) { first = e; show(e); }\ntry { await import('./bad.js'); } catch (e) { show(e); console.log('same error', e === first); }\n`,
    });
  });
});

describe('evaluation order', () => {
  it('requests are evaluated in source order, export … from included', async () => {
    const tree: Record<string, string> = {};
    for (let i = 1; i <= 6; i++) tree[`m${i}.js`] = `console.log('m${i}');\nexport default ${i};\n`;
    const out = await sameAsNode({
      ...tree,
      'main.js': `import './m1.js';\nexport { default as two } from './m2.js';\nimport * as three from './m3.js';\nexport * from './m4.js';\nimport five from './m5.js';\nexport * as six from './m6.js';\n`,
    });
    assert.deepEqual(out.lines, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  });

  it('a module in an import cycle with 500 imported bindings (a scope each up to 256, then they share the last)', async () => {
    const tree: Record<string, string> = {};
    const ids = Array.from({ length: 500 }, (_, i) => i);
    // Each imports main back: main is in a cycle, where its imports get a scope each.
    for (const i of ids) tree[`m${i}.js`] = `import './main.js';\nexport const v = ${i};\n`;
    const out = await sameAsNode({
      ...tree,
      'main.js': `${ids.map((i) => `import { v as v${i} } from './m${i}.js';`).join('\n')}\nconsole.log(${ids.map((i) => `v${i}`).join(' + ')});\n`,
    });
    assert.deepEqual(out.lines, [String((500 * 499) / 2)]);
  });

  it('a module with 2,000 imported bindings, live ones among them (in no cycle: one scope for all)', async () => {
    const ids = Array.from({ length: 2000 }, (_, i) => i);
    const out = await sameAsNode({
      'consts.js': ids.map((i) => `export const c${i} = ${i};`).join('\n'),
      'counter.js': `export let count = 0;\nexport function inc() { count++; }\n`,
      'main.js': [
        `import { ${ids.map((i) => `c${i}`).join(', ')} } from './consts.js';`,
        `import { count, inc } from './counter.js';`,
        `console.log(${ids.map((i) => `c${i}`).join(' + ')}, count);`,
        `inc();`,
        `console.log(count, c0, c1999);`,
      ].join('\n'),
    });
    assert.deepEqual(out.lines, [`${(2000 * 1999) / 2} 0`, '1 0 1999']);
  });
});

describe('imported names are checked at link time', () => {
  it('a missing export fails the start with a SyntaxError before anything runs', async () => {
    const out = await sameAsNode({
      'dep.js': `console.log('dep evaluated');\nexport const hello = 1;\n`,
      'main.js': `console.log('main evaluated');\nimport { helo } from './dep.js';\n`,
    });
    assert.deepEqual(out.lines, []);
    assert.deepEqual(out.entry, {
      name: 'SyntaxError',
      message: "The requested module './dep.js' does not provide an export named 'helo'",
    });
  });

  it('a name two export * make ambiguous, a circular re-export, a missing re-export: SyntaxErrors', async () => {
    const tree = {
      's1.js': `export const x = 1;\n`,
      's2.js': `export const x = 2;\n`,
      'star.js': `export * from './s1.js';\nexport * from './s2.js';\n`,
      'circ.js': `export { a } from './circ.js';\n`,
      'reexport.js': `export { nothere } from './s1.js';\n`,
      'default-via-star.js': `export * from './with-default.js';\n`,
      'with-default.js': `export default 1;\n`,
    };
    for (const [what, line] of [
      ['ambiguous', `import { x } from './star.js';`],
      ['circular', `import { a } from './circ.js';`],
      ['re-export', `import './reexport.js';`],
      ['default through star', `import d from './default-via-star.js';`],
    ]) {
      const out = await sameAsNode({ ...tree, 'main.js': `console.log('ran');\n${line}\n` });
      assert.equal((out.entry as { name: string }).name, 'SyntaxError', what);
    }
  });

  it('import() of a module that fails to link rejects with the SyntaxError', async () => {
    await sameAsNode({
      'dep.js': `export const hello = 1;\n`,
      'broken.js': `import { nope } from './dep.js';\nconsole.log('broken evaluated');\n`,
      'main.js': `${PRINT_ERROR}\ntry { await import('./broken.js'); } catch (e) { show(e); }\n`,
    });
  });
});

describe('namespace objects are module namespace exotic objects', () => {
  it('prototype, tag, keys, descriptors, and refused define/set/delete/setPrototypeOf', async () => {
    await sameAsNode({
      'dep.js': `export const b = 2, a = 1, Z = 0, é = 3;\nexport let later = 'x';\nexport function f() {}\nexport default 'dflt';\n`,
      'main.js': [
        `import * as ns from './dep.js';`,
        `const dyn = await import('./dep.js');`,
        `const t = (label, fn) => { try { console.log(label, JSON.stringify(fn())); } catch (e) { console.log(label, 'threw', e.constructor.name); } };`,
        `t('same object', () => ns === dyn);`,
        `t('keys', () => Reflect.ownKeys(ns).map(String));`,
        `t('proto', () => Object.getPrototypeOf(ns));`,
        `t('tag', () => Object.prototype.toString.call(ns));`,
        `t('extensible', () => Object.isExtensible(ns));`,
        `t('desc', () => Object.getOwnPropertyDescriptor(ns, 'a'));`,
        `t('define same', () => Reflect.defineProperty(ns, 'a', { value: 1 }));`,
        `t('define other', () => Reflect.defineProperty(ns, 'a', { value: 9 }));`,
        `t('define new', () => Reflect.defineProperty(ns, 'q', { value: 9 }));`,
        `t('set', () => Reflect.set(ns, 'a', 5));`,
        `t('delete', () => Reflect.deleteProperty(ns, 'a'));`,
        `t('delete missing', () => Reflect.deleteProperty(ns, 'q'));`,
        `t('setPrototypeOf', () => [Reflect.setPrototypeOf(ns, null), Reflect.setPrototypeOf(ns, {})]);`,
        `t('strict assign', () => { ns.a = 3; });`,
        `t('Object.defineProperty', () => Object.defineProperty(ns, 'a', { value: 9 }));`,
        `t('values', () => [ns.a, ns.default, typeof ns.f, 'q' in ns]);`,
      ].join('\n'),
    });
  });

  it('in a cycle, an import already initialised reads while another of the same module is in its TDZ', async () => {
    await sameAsNode({
      'x.js': [
        `import { greet, late, count } from './y.js';`,
        `for (const [name, read] of [['greet', () => greet()], ['late', () => late], ['count', () => count]]) {`,
        `  try { console.log(name, read()); } catch (e) { console.log(name, 'threw', e.constructor.name); }`,
        `}`,
        `export function fromX() { return 'x'; }`,
      ].join('\n'),
      'y.js': `import { fromX } from './x.js';\nconsole.log('y reads', fromX());\nexport function greet() { return 'hello'; }\nexport let late = 'late';\nexport var count = 1;\n`,
      'main.js': `import './y.js';\n`,
    });
  });

  it('Object.keys of a namespace throws while a binding is in its TDZ (cycle)', async () => {
    await sameAsNode({
      'a.js': `import * as ns from './main.js';\ntry { console.log(Object.keys(ns)); } catch (e) { console.log('keys threw', e.constructor.name); }\ntry { console.log(ns.late); } catch (e) { console.log('read threw', e.constructor.name, e.message); }\nexport const a = 1;\n`,
      'main.js': `import './a.js';\nexport let late = 'ready';\nconsole.log('main done');\n`,
    });
  });
});

describe('syntax the rewrite must keep', () => {
  it('parenthesised default exports and import() specifiers, named "default" as Node names them', async () => {
    const forms = [
      '(function () {})',
      '(class {})',
      '(() => 1)',
      'function () {}',
      'class {}',
      '(0, function () {})',
      'async function () {}',
    ];
    const tree: Record<string, string> = {};
    for (const [i, form] of forms.entries()) tree[`d${i}.js`] = `export default ${form};\n`;
    await sameAsNode({
      ...tree,
      'main.js': `${forms.map((_, i) => `import d${i} from './d${i}.js';`).join('\n')}\nconsole.log(${forms.map((_, i) => `d${i}.name`).join(', ')});\nconst m = await import(('./d0.js'));\nconsole.log(typeof m.default);\n`,
    });
  });
});

describe("import() errors are Node's", () => {
  it('missing file and package, syntax error, bad specifier, bad options, attributes', async () => {
    await sameAsNode({
      'data.json': `{ "v": 1 }`,
      'syntax.js': `export const = 1;\n`,
      'plain.js': `export const p = 1;\n`,
      'main.js': [
        PRINT_ERROR,
        `const attempt = async (label, fn) => { try { const m = await fn(); console.log(label, 'ok', Object.keys(m)); } catch (e) { console.log(label); show(e); } };`,
        `await attempt('missing file', () => import('./nope.js'));`,
        `await attempt('missing package', () => import('no-such-package'));`,
        // The parser's words differ (V8's against meriyah's); the error's type must not.
        `try { await import('./syntax.js'); } catch (e) { console.log('syntax', e.constructor.name, e instanceof SyntaxError); }`,
        `await attempt('toString throws', () => import({ toString() { throw new RangeError('no string'); } }));`,
        `await attempt('options not object', () => import('./plain.js', 1));`,
        `await attempt('with not object', () => import('./plain.js', { with: 1 }));`,
        `await attempt('with value not string', () => import('./plain.js', { with: { type: 1 } }));`,
        `await attempt('json with type', () => import('./data.json', { with: { type: 'json' } }));`,
        `await attempt('json without type', () => import('./data.json'));`,
        `await attempt('js with type json', () => import('./plain.js', { with: { type: 'json' } }));`,
        `await attempt('unknown attribute', () => import('./plain.js', { with: { kind: 'x' } }));`,
        `try { if ((await import('./optional.js')).x) {} } catch (e) { if (e.code !== 'ERR_MODULE_NOT_FOUND') throw e; console.log('optional dependency skipped'); }`,
      ].join('\n'),
    });
  });

  it('a static JSON import without the attribute fails in a .js file, as in node', async () => {
    await sameAsNode({ 'data.json': `{ "v": 1 }`, 'main.js': `import data from './data.json';\nconsole.log(data.v);\n` });
    await sameAsNode({
      'data.json': `{ "v": 1 }`,
      'main.js': `import data from './data.json' with { type: 'json' };\nconsole.log(data.v);\n`,
    });
  });
});

describe('require() of an ES module', () => {
  it('gives its namespace, with __esModule when it has a default export', async () => {
    await sameAsNode(
      {
        'util.mjs': `export default function greet() { return 'hi'; }\nexport const x = 1;\n`,
        'plain.mjs': `export const y = 2;\n`,
        'main.cjs': `const m = require('./util.mjs');\nconst p = require('./plain.mjs');\nconsole.log(Object.keys(m), m.__esModule, m.default(), Object.keys(p), Object.prototype.toString.call(p));\n`,
      },
      'main.cjs',
    );
  });
});

describe('a package, imported by an ES module that require() loads', () => {
  // Node links and runs such a module at once: its imports resolve with the import conditions,
  // and a CommonJS package's namespace holds the names Node's lexer finds, as any import's does.
  const PACKAGES = {
    'node_modules/lexed/package.json': `{ "name": "lexed", "main": "index.js" }\n`,
    'node_modules/lexed/index.js': `exports.a = 1;\nif (false) exports.b = 2;\nconst k = 'hid' + 'den';\nexports[k] = 3;\n`,
    'node_modules/cond/package.json': `{ "name": "cond", "exports": { "import": "./esm.mjs", "require": "./cjs.cjs" } }\n`,
    'node_modules/cond/esm.mjs': `export const flavour = 'esm';\n`,
    'node_modules/cond/cjs.cjs': `exports.flavour = 'cjs';\n`,
    'node_modules/esmonly/package.json': `{ "name": "esmonly", "type": "module", "exports": { "import": "./index.js" } }\n`,
    'node_modules/esmonly/index.js': `export const only = 'esm only';\nexport default 'd';\n`,
  };

  it("a CommonJS package's namespace has the names Node's lexer finds, not the keys after its run", async () => {
    const out = await sameAsNode(
      {
        ...PACKAGES,
        'esm.mjs': `import * as ns from 'lexed';\nexport const keys = Object.keys(ns).join();\nexport const values = [ns.a, ns.b, ns.hidden, typeof ns.default.hidden];\n`,
        'main.cjs': `const m = require('./esm.mjs');\nconsole.log(m.keys, JSON.stringify(m.values));\n`,
      },
      'main.cjs',
    );
    assert.match(out.lines[0]!, /^a,b,default(,module\.exports)? \[1,null,null,"number"\]$/);
  });

  it("a name the lexer cannot see is a SyntaxError in Node's words", async () => {
    const out = await sameAsNode(
      {
        ...PACKAGES,
        'esm.mjs': `import { hidden } from 'lexed';\nexport { hidden };\n`,
        'main.cjs': `try { require('./esm.mjs'); console.log('loaded'); } catch (e) { console.log(e.name, e.message.split('\\n')[0]); }\n`,
      },
      'main.cjs',
    );
    assert.match(out.lines[0]!, /^SyntaxError /);
  });

  it('its imports resolve with the import conditions, so an ES-only package loads', async () => {
    const out = await sameAsNode(
      {
        ...PACKAGES,
        'esm.mjs': `import { flavour } from 'cond';\nimport d, { only } from 'esmonly';\nexport { flavour, only, d };\n`,
        'main.cjs': `const m = require('./esm.mjs');\nconsole.log(m.flavour, m.only, m.d);\n`,
      },
      'main.cjs',
    );
    assert.deepEqual(out.lines, ['esm esm only d']);
  });

  it('one namespace per package, shared with import(), and built-ins list their names sorted, as namespaces do', async () => {
    const out = await sameAsNode(
      {
        ...PACKAGES,
        'a.mjs': `import * as ns from 'lexed';\nimport * as path from 'node:path';\nexport { ns };\nexport const pathKeys = Object.keys(path).join();\n`,
        'b.mjs': `import * as ns from 'lexed';\nexport { ns };\n`,
        'c.mjs': `import * as ns from 'lexed';\nimport * as path from 'path';\nexport { ns };\nexport const pathKeys = Object.keys(path).join();\n`,
        'main.cjs': [
          `const a = require('./a.mjs');`,
          `const b = require('./b.mjs');`,
          `import('./c.mjs').then((c) => {`,
          `  console.log(a.ns === b.ns, a.ns === c.ns, Object.prototype.toString.call(a.ns), Object.isExtensible(a.ns));`,
          `  console.log(a.pathKeys === c.pathKeys, a.pathKeys.startsWith('_makeLong,basename,default,'));`,
          `});`,
        ].join('\n'),
      },
      'main.cjs',
    );
    assert.deepEqual(out.lines, ['true true [object Module] false', 'true true']);
  });

  it("a package's JSON file has a namespace of default alone", async () => {
    const out = await sameAsNode(
      {
        'node_modules/jsonpkg/package.json': `{ "name": "jsonpkg" }\n`,
        'node_modules/jsonpkg/data.json': `{ "a": 1, "b": 2 }\n`,
        'esm.mjs': `import data from 'jsonpkg/data.json' with { type: 'json' };\nimport * as ns from 'jsonpkg/data.json' with { type: 'json' };\nexport const keys = Object.keys(ns).join();\nexport { data };\n`,
        'main.cjs': `const m = require('./esm.mjs');\nconsole.log(m.keys, JSON.stringify(m.data));\n`,
      },
      'main.cjs',
    );
    assert.deepEqual(out.lines, ['default {"a":1,"b":2}']);
  });
});

describe("a CommonJS user module's own scope", () => {
  it("has node's five wrapper arguments, and module and require list node's keys in node's order", async () => {
    await sameAsNode(
      {
        'main.cjs': [
          `console.log(arguments.length, typeof arguments[4], this === module.exports);`,
          `console.log(Object.keys(module).join(), Object.keys(require).join(), typeof module.require);`,
        ].join('\n'),
      },
      'main.cjs',
    );
  });
});

describe('the names of a CommonJS user module, as ES modules import it', () => {
  const PKG = { 'package.json': '{ "type": "module" }\n' };

  it('a namespace import lists them before the module has run, with __esModule, and default is module.exports', async () => {
    const out = await sameAsNode({
      ...PKG,
      'plain.cjs': `exports.a = 1;\n`,
      'flagged.cjs': `Object.defineProperty(exports, '__esModule', { value: true });\nexports.b = 2;\nexports.default = 'not the default';\n`,
      'main.js': `import * as plain from './plain.cjs';\nimport * as flagged from './flagged.cjs';\nconsole.log(Object.keys(plain).join(), plain.a, Object.keys(flagged).join(), flagged.b, JSON.stringify(flagged.default));\n`,
    });
    assert.match(
      out.lines[0]!,
      /^a,default(,module\.exports)? 1 __esModule,b,default(,module\.exports)? 2 \{"b":2,"default":"not the default"\}$/,
    );
  });

  it('export * passes them on; a name set by a computed key is not one (undefined in the namespace, as under node)', async () => {
    await sameAsNode({
      ...PKG,
      'c.cjs': `const k = 'late';\nexports[k] = 2;\nexports.early = 1;\n`,
      're.js': `export * from './c.cjs';\n`,
      'main.js': `import { early } from './re.js';\nimport * as re from './re.js';\nimport * as c from './c.cjs';\nconsole.log(early, Object.keys(re).join(), Object.keys(c).join(), c.late, c.default.late);\n`,
    });
  });

  it('names re-exported from another file (module.exports = require(...)) are followed as Node follows them', async () => {
    await sameAsNode({
      ...PKG,
      'inner.cjs': `exports.deep = 'deep';\n`,
      'outer.cjs': `module.exports = require('./inner.cjs');\n`,
      'main.js': `import { deep } from './outer.cjs';\nimport * as outer from './outer.cjs';\nconsole.log(deep, Object.keys(outer).join());\n`,
    });
  });

  it("a name the lexer cannot see is a SyntaxError at link, in Node's words", async () => {
    const out = await sameAsNode({
      ...PKG,
      'c.cjs': `module.exports = { ['x' + 'y']: 1 };\n`,
      'main.js': `console.log('never runs');\nimport { xy as renamed } from './c.cjs';\n`,
    });
    assert.equal(out.lines.length, 0);
  });
});

describe('export * edge cases', () => {
  it('an ambiguous name is left out of the namespace; a star re-export cycle ends', async () => {
    await sameAsNode({
      's1.js': `export const x = 1, only1 = 'one';\n`,
      's2.js': `export const x = 2, only2 = 'two';\n`,
      'star.js': `export * from './s1.js';\nexport * from './s2.js';\n`,
      'cyc-a.js': `export * from './cyc-b.js';\nexport const fromA = 'a';\n`,
      'cyc-b.js': `export * from './cyc-a.js';\nexport const fromB = 'b';\n`,
      'main.js': `import * as ns from './star.js';\nimport * as cyc from './cyc-a.js';\nconsole.log(Object.keys(ns), 'x' in ns);\nconsole.log(Object.keys(cyc));\n`,
    });
  });
});

describe('names and scope', () => {
  it('import.meta is one object per module: the same at every read, also read late, another in each module', async () => {
    const out = await sameAsNode({
      'other.js': `export const meta = import.meta;\n`,
      'main.js': `import { meta as other } from './other.js';\nconst first = import.meta;\nconst later = () => import.meta;\nconsole.log(first === import.meta, later() === first, other === first, other.url.endsWith('/other.js'));\nimport.meta.extra = 1;\nconsole.log(later().extra);\n`,
    });
    assert.deepEqual(out.lines, ['true true false true', '1']);
  });

  it('import.meta has a null prototype; top-level this is undefined; top-level arguments is a ReferenceError', async () => {
    await sameAsNode({
      'main.js': `console.log(Object.getPrototypeOf(import.meta), this, typeof arguments);\ntry { arguments; } catch (e) { console.log(e.constructor.name, e.message); }\nconst arrow = () => { try { return arguments; } catch (e) { return e.constructor.name; } };\nconsole.log(arrow());\n`,
    });
  });

  it("import.meta has node's properties in node's order (with devhot's hot added), main only on a Node that has it", async () => {
    const out = await sameAsNode({
      'lib.js': `export const keys = Object.keys(import.meta).filter((k) => k !== 'hot');\nexport const spread = Object.keys({ ...import.meta }).filter((k) => k !== 'hot');\n`,
      // Not main's own value: the driver imports main.js under node, where it is no main module.
      'main.js': `import { keys, spread } from './lib.js';\nconsole.log(keys.join(), spread.join(), 'main' in import.meta, typeof import.meta.resolve);\n`,
    });
    assert.match(out.lines[0]!, /^dirname,filename,(main,)?resolve,url /);
  });

  it('import.meta.resolve: a file, a path with no file there (its URL, as node), a builtin, a package that is not there (ERR_MODULE_NOT_FOUND)', async () => {
    await sameAsNode({
      'a.js': 'export const a = 1;\n',
      'main.js': [
        `const show = (f) => { try { return f().replace(/.*\\//, ''); } catch (e) { return e.code + ' ' + e.constructor.name + ' ' + e.message.replace(/ imported from .*/, ''); } };`,
        `console.log(show(() => import.meta.resolve('./a.js')), show(() => import.meta.resolve('./missing.js')), show(() => import.meta.resolve('../elsewhere/x.js')));`,
        `console.log(show(() => import.meta.resolve('node:fs')), show(() => import.meta.resolve('fs')), show(() => import.meta.resolve('no-such-pkg/sub')));`,
      ].join('\n'),
    });
  });

  it('a hashbang line starts an ES module and a CommonJS file, as node allows (a CLI entry), and keeps the line numbers', async () => {
    const line = `console.log('runs', new Error('here').stack.split('\\n')[1].match(/:(\\d+):\\d+\\)?$/)[1]);\n`;
    await sameAsNode({ 'main.js': `#!/usr/bin/env node\n${line}` });
    await sameAsNode({ 'main.cjs': `#!/usr/bin/env node\n${line}` }, 'main.cjs');
  });

  it("stack frames name an ES module by its URL and a CommonJS file by its path, as node's do", async () => {
    // The frames' files with the fixture's directory taken out, and what CallSite.getFileName() gives.
    const lib = [
      `const dir = (s) => s.split(__dirname).join('');`,
      `const frames = () => new Error('x').stack.split('\\n').slice(1, 3).map((l) => dir(l.trim())).join(' | ');`,
      `const site = () => { const p = Error.prepareStackTrace; Error.prepareStackTrace = (_, s) => s; const s = new Error().stack[2]; Error.prepareStackTrace = p; return dir(s.getFileName()); };`,
    ].join('\n');
    const out = await sameAsNode({
      'lib.cjs': `${lib}\nmodule.exports = { frames, site };\n`,
      'main.js': `import { createRequire } from 'node:module';\nconst { frames, site } = createRequire(import.meta.url)('./lib.cjs');\nfunction named() { return [frames(), site()]; }\nconsole.log(named().join(' | '));\n`,
    });
    assert.match(out.lines[0]!, /^at frames \(\/lib\.cjs:2:\d+\) \| at named \(file:\/\/\/main\.js:3:\d+\) \| file:\/\/\/main\.js$/);
  });

  it("a var declared anywhere in a function shadows an import there; a module's vars are its exports", async () => {
    // Assigning an import throws, so a var the rewrite misses would throw where Node does not.
    const out = await sameAsNode({
      'dep.js': `export let a = 'A', b = 'B', c = 'C', d = 'D', e = 'E', f = 'F', g = 'G', w = 'W', x = 'X';\n`,
      'vars.js': `for (var h of ['h1', 'h2']) {}\ntry { throw 0; } catch { var k = 'k'; }\nswitch (1) { case 1: var s = 's'; }\nexport { h, k, s };\nexport function later() { h = 'h3'; }\n`,
      'main.js': [
        `import { a, b, c, d, e, f, g, w, x } from './dep.js';`,
        `import { h, k, s, later } from './vars.js';`,
        `function inner() {`,
        `  try { throw 0; } catch { var a = 'a'; }`,
        `  for (var b in { b: 1 }) {}`,
        `  switch (1) { case 1: var c = 'c'; }`,
        `  label: { var d = 'd'; }`,
        `  if (false) ; else { var e = 'e'; }`,
        `  do { var f = 'f'; } while (false);`,
        `  for (var g of ['g']) {}`,
        `  while (true) { var w = 'w'; break; }`,
        `  for (var x = 'x'; ; ) break;`,
        `  a += 1; b += 1; c += 1; d += 1; e += 1; f += 1; g += 1; w += 1; x += 1;`,
        `  return [a, b, c, d, e, f, g, w, x].join();`,
        `}`,
        `const m = (fn) => { try { return fn(); } catch (err) { return err.constructor.name; } };`,
        `console.log(m(inner), [a, b, c, d, e, f, g, w, x].join());`,
        `later();`,
        `console.log(h, k, s);`,
      ].join('\n'),
    });
    assert.deepEqual(out.lines, ['a1,b1,c1,d1,e1,f1,g1,w1,x1 A,B,C,D,E,F,G,W,X', 'h3 k s']);
  });

  it('direct eval sees imported bindings', async () => {
    await sameAsNode({
      'dep.js': `export const secret = 42;\n`,
      'main.js': `import { secret } from './dep.js';\nconsole.log(eval('secret + 1'));\n`,
    });
  });

  it('error messages name imported bindings as written', async () => {
    await sameAsNode({
      'helpers.js': `export const helpers = {};\nexport const notAFunction = 1;\nexport default undefined;\n`,
      'main.js': [
        `import { helpers, notAFunction as renamed } from './helpers.js';`,
        `import * as h from './helpers.js';`,
        `import dflt from './helpers.js';`,
        `const m = (fn) => { try { fn(); } catch (e) { console.log(e.constructor.name, e.message); } };`,
        `m(() => helpers.format('x'));`,
        `m(() => renamed());`,
        `m(() => h.missing());`,
        `m(() => new renamed());`,
        `m(() => { for (const x of renamed); });`,
        `m(() => dflt.prop);`,
        `m(() => { const { a } = dflt; });`,
        `m(() => { helpers = 1; });`,
      ].join('\n'),
    });
  });
});

describe('top-level await', () => {
  it('a sync sibling does not wait for an async one', async () => {
    const out = await sameAsNode({
      'slow.js': `console.log('slow:start');\nawait new Promise((r) => setTimeout(r, 20));\nconsole.log('slow:end');\n`,
      'fast.js': `console.log('fast');\n`,
      'main.js': `import './slow.js';\nimport './fast.js';\nconsole.log('main');\n`,
    });
    assert.deepEqual(out.lines, ['slow:start', 'fast', 'slow:end', 'main']);
  });

  it("cycles with top-level await finish in Node's order", async () => {
    await sameAsNode({
      'a.js': `import { b } from './b.js';\nconsole.log('a', b);\nawait null;\nexport const a = 'A';\nconsole.log('a done');\n`,
      'b.js': `import * as m from './a.js';\nconsole.log('b');\nawait new Promise((r) => setTimeout(r, 5));\nexport const b = 'B';\nconsole.log('b done');\n`,
      'c.js': `import { a } from './a.js';\nconsole.log('c', a);\n`,
      'main.js': `import './c.js';\nimport { b } from './b.js';\nconsole.log('main', b);\n`,
    });
  });
});
