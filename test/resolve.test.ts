import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { DevhotError, ErrorCodes, type ErrorCode } from '../src/errors.js';
import { resolvePackageExports, resolvePackageImports } from '../src/runner/package-exports.js';
import { createResolver, type Resolver } from '../src/runner/resolve.js';
import { parseJsonc } from '../src/runner/jsonc.js';
import { type Tree, writeTree } from './helpers/tree.js';

/** Writes a fixture project into a fresh temp dir; returns its real path. */
function makeProject(tree: Tree): string {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'devhot-resolve-')));
  writeTree(root, tree, { esm: false });
  return root;
}

const json = (value: unknown): string => JSON.stringify(value, null, 2);

function throwsDevhot(fn: () => unknown, code: ErrorCode): DevhotError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof DevhotError, `expected a DevhotError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

describe('resolver: a project with tsconfig, imports and packages', () => {
  let root: string;
  let importer: string;
  let r: Resolver;
  const user = (rel: string) => ({ kind: 'user', file: path.join(root, rel) });
  const external = (rel: string) => ({ kind: 'external', url: pathToFileURL(path.join(root, rel)).href });

  before(() => {
    root = makeProject({
      'package.json': json({
        name: 'app',
        type: 'module',
        exports: { '.': './src/index.ts', './util': './src/util.js' },
        imports: {
          '#lib/*': './src/lib/*.js',
          '#cfg': { require: './src/cfg-cjs.cts', import: './src/cfg-esm.ts' },
          '#dep': 'exp',
          '#fs': 'fs',
          '#gone': null,
        },
      }),
      'tsconfig.json': `{
        // comments and trailing commas, as tsconfig files are written
        "compilerOptions": {
          "baseUrl": ".", /* paths are relative to this */
          "paths": {
            "@/*": ["src/*"],
            "@utils": ["src/utils/index.ts"],
            "~/*": ["src/shared/*", "src/fallback/*"],
            "#alias/*": ["src/lib/*"],
          },
        },
      }`,
      'src/a.ts': '',
      'src/b.ts': '',
      'src/plain.js': '',
      'src/m.mts': '',
      'src/c.cts': '',
      'src/comp.tsx': '',
      'src/data.json': '{}',
      'src/style.css': '',
      'src/x.png': '',
      'src/addon.node': '',
      'src/dir/index.ts': '',
      'src/pkgdir/package.json': json({ main: './lib/entry.js' }),
      'src/pkgdir/lib/entry.ts': '',
      'src/index.ts': '',
      'src/util.ts': '',
      'src/lib/x.ts': '',
      'src/cfg-cjs.cts': '',
      'src/cfg-esm.ts': '',
      'src/utils/index.ts': '',
      'src/fallback/only-here.ts': '',
      'node_modules/exp/package.json': json({
        name: 'exp',
        exports: {
          '.': { import: './esm/index.js', require: './cjs/index.cjs' },
          './features/*': './src/features/*.js',
          './features/private/*': null,
          './nested': {
            node: { import: { default: './nested-import.js' }, require: './nested-require.js' },
            default: './nested-default.js',
          },
          './broken': './missing.js',
        },
      }),
      'node_modules/exp/esm/index.js': '',
      'node_modules/exp/cjs/index.cjs': '',
      'node_modules/exp/src/features/a.js': '',
      'node_modules/exp/src/features/private/p.js': '',
      'node_modules/exp/nested-import.js': '',
      'node_modules/exp/nested-require.js': '',
      'node_modules/exp/nested-default.js': '',
      'node_modules/exp/internal.js': '',
      'node_modules/mainonly/package.json': json({ name: 'mainonly', main: 'lib/main' }),
      'node_modules/mainonly/lib/main.js': '',
      // A shipped .ts next to the .js must not win inside node_modules.
      'node_modules/mainonly/lib/main.ts': '',
      'node_modules/mainonly/lib/other.js': '',
      'node_modules/noentry/index.js': '',
      'node_modules/@scope/pkg/package.json': json({ name: '@scope/pkg', exports: { './sub': './sub.js' } }),
      'node_modules/@scope/pkg/sub.js': '',
      'packages/ws/package.json': json({
        name: '@app/ws',
        exports: { '.': './src/index.ts', './lib': './src/lib.js' },
        imports: { '#own': './src/own.ts' },
      }),
      'packages/ws/src/index.ts': '',
      'packages/ws/src/lib.ts': '',
      'packages/ws/src/own.ts': '',
      'node_modules/@app/ws': { symlink: '../../packages/ws' },
    });
    importer = path.join(root, 'src/a.ts');
    r = createResolver({ root });
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('resolves relative paths with and without extensions', () => {
    assert.deepEqual(r.resolve('./b', importer), user('src/b.ts'));
    assert.deepEqual(r.resolve('./b.ts', importer), user('src/b.ts'));
    assert.deepEqual(r.resolve('./plain.js', importer), user('src/plain.js'));
    assert.deepEqual(r.resolve('./plain', importer), user('src/plain.js'));
    assert.deepEqual(r.resolve('./data.json', importer), user('src/data.json'));
    assert.deepEqual(r.resolve('../src/b', importer), user('src/b.ts'));
    assert.deepEqual(r.resolve(path.join(root, 'src/b'), importer), user('src/b.ts'));
    assert.deepEqual(r.resolve(pathToFileURL(path.join(root, 'src/b.ts')).href, importer), user('src/b.ts'));
  });

  it('maps NodeNext-style .js/.mjs/.cjs/.jsx specifiers to the TypeScript file', () => {
    assert.deepEqual(r.resolve('./b.js', importer), user('src/b.ts'));
    assert.deepEqual(r.resolve('./m.mjs', importer), user('src/m.mts'));
    assert.deepEqual(r.resolve('./c.cjs', importer), user('src/c.cts'));
    assert.deepEqual(r.resolve('./comp.jsx', importer), user('src/comp.tsx'));
    assert.deepEqual(r.resolve('./comp.js', importer), user('src/comp.tsx'));
  });

  it('resolves directories: index files and package.json main', () => {
    assert.deepEqual(r.resolve('./dir', importer), user('src/dir/index.ts'));
    assert.deepEqual(r.resolve('./dir/', importer), user('src/dir/index.ts'));
    assert.deepEqual(r.resolve('./pkgdir', importer), user('src/pkgdir/lib/entry.ts'));
    assert.deepEqual(r.resolve('.', path.join(root, 'src/dir/x.ts')), user('src/dir/index.ts'));
  });

  it('returns native addons and data: URLs as externals', () => {
    assert.deepEqual(r.resolve('./addon.node', importer), external('src/addon.node'));
    const data = 'data:text/javascript,export default 1';
    assert.deepEqual(r.resolve(data, importer), { kind: 'external', url: data });
  });

  it('normalizes built-ins to the node: form', () => {
    assert.deepEqual(r.resolve('fs', importer), { kind: 'builtin', id: 'node:fs' });
    assert.deepEqual(r.resolve('node:fs', importer), { kind: 'builtin', id: 'node:fs' });
    assert.deepEqual(r.resolve('fs/promises', importer), { kind: 'builtin', id: 'node:fs/promises' });
    assert.deepEqual(r.resolve('node:test', importer), { kind: 'builtin', id: 'node:test' });
    const err = throwsDevhot(() => r.resolve('node:nope', importer), ErrorCodes.RESOLVE);
    assert.match(err.message, /'node:nope'/);
  });

  it('resolves tsconfig paths relative to baseUrl, then baseUrl itself', () => {
    assert.deepEqual(r.resolve('@/b', importer), user('src/b.ts'));
    assert.deepEqual(r.resolve('@/b.js', importer), user('src/b.ts'));
    assert.deepEqual(r.resolve('@/dir', importer), user('src/dir/index.ts'));
    assert.deepEqual(r.resolve('@utils', importer), user('src/utils/index.ts'));
    assert.deepEqual(r.resolve('~/only-here', importer), user('src/fallback/only-here.ts'));
    assert.deepEqual(r.resolve('src/b', importer), user('src/b.ts'));
  });

  it('resolves #imports with conditions, bare and built-in targets', () => {
    assert.deepEqual(r.resolve('#lib/x', importer), user('src/lib/x.ts'));
    assert.deepEqual(r.resolve('#cfg', importer), user('src/cfg-esm.ts'));
    assert.deepEqual(r.resolve('#cfg', importer, 'require'), user('src/cfg-cjs.cts'));
    assert.deepEqual(r.resolve('#dep', importer), external('node_modules/exp/esm/index.js'));
    assert.deepEqual(r.resolve('#fs', importer), { kind: 'builtin', id: 'node:fs' });
    // Not in "imports", but tsconfig paths maps it.
    assert.deepEqual(r.resolve('#alias/x', importer), user('src/lib/x.ts'));
    const missing = throwsDevhot(() => r.resolve('#nope', importer), ErrorCodes.RESOLVE);
    assert.match(missing.message, /'#nope' imported from src\/a\.ts/);
    assert.match(missing.fix ?? '', /"imports"/);
    throwsDevhot(() => r.resolve('#gone', importer), ErrorCodes.RESOLVE);
  });

  it('resolves package exports by condition, pattern and nested conditions', () => {
    assert.deepEqual(r.resolve('exp', importer), external('node_modules/exp/esm/index.js'));
    assert.deepEqual(r.resolve('exp', importer, 'require'), external('node_modules/exp/cjs/index.cjs'));
    assert.deepEqual(r.resolve('exp/features/a', importer), external('node_modules/exp/src/features/a.js'));
    assert.deepEqual(r.resolve('exp/nested', importer), external('node_modules/exp/nested-import.js'));
    assert.deepEqual(r.resolve('exp/nested', importer, 'require'), external('node_modules/exp/nested-require.js'));
  });

  it('refuses subpaths that exports blocks or does not list', () => {
    const blocked = throwsDevhot(() => r.resolve('exp/features/private/p', importer), ErrorCodes.RESOLVE);
    assert.match(blocked.message, /'exp\/features\/private\/p' imported from src\/a\.ts/);
    assert.match(blocked.fix ?? '', /null/);
    const hidden = throwsDevhot(() => r.resolve('exp/internal.js', importer), ErrorCodes.RESOLVE);
    assert.match(hidden.fix ?? '', /not exported/);
    assert.match(hidden.fix ?? '', /\.\/features\/\*/);
    const broken = throwsDevhot(() => r.resolve('exp/broken', importer), ErrorCodes.RESOLVE);
    assert.match(broken.fix ?? '', /missing\.js/);
  });

  it('resolves packages with only main, no package.json, and scoped packages', () => {
    assert.deepEqual(r.resolve('mainonly', importer), external('node_modules/mainonly/lib/main.js'));
    assert.deepEqual(r.resolve('mainonly/lib/other', importer), external('node_modules/mainonly/lib/other.js'));
    assert.deepEqual(r.resolve('noentry', importer), external('node_modules/noentry/index.js'));
    assert.deepEqual(r.resolve('@scope/pkg/sub', importer), external('node_modules/@scope/pkg/sub.js'));
  });

  it('resolves a package importing itself by name through its exports', () => {
    assert.deepEqual(r.resolve('app', importer), user('src/index.ts'));
    assert.deepEqual(r.resolve('app/util', importer), user('src/util.ts'));
  });

  it('treats a workspace symlink to TypeScript source as user code, by real path', () => {
    assert.deepEqual(r.resolve('@app/ws', importer), user('packages/ws/src/index.ts'));
    assert.deepEqual(r.resolve('@app/ws/lib', importer), user('packages/ws/src/lib.ts'));
    // Inside the workspace package, its own package.json scope applies.
    assert.deepEqual(r.resolve('#own', path.join(root, 'packages/ws/src/index.ts')), user('packages/ws/src/own.ts'));
  });

  it('names the specifier, the importer and what was tried for a missing file', () => {
    const err = throwsDevhot(() => r.resolve('./missing', importer), ErrorCodes.RESOLVE);
    assert.equal(err.message, "Cannot find module './missing' imported from src/a.ts");
    assert.match(err.fix ?? '', /src\/missing\.ts, src\/missing\.tsx/);
    const twin = throwsDevhot(() => r.resolve('./nope.js', importer), ErrorCodes.RESOLVE);
    assert.match(twin.fix ?? '', /src\/nope\.js, src\/nope\.ts/);
  });

  it('tells the user to install a missing package', () => {
    const err = throwsDevhot(() => r.resolve('left-pad/x', importer), ErrorCodes.RESOLVE);
    assert.match(err.message, /'left-pad' imported from src\/a\.ts/);
    assert.match(err.fix ?? '', /npm install left-pad/);
  });

  it('rejects files devhot cannot evaluate', () => {
    const css = throwsDevhot(() => r.resolve('./style.css', importer), ErrorCodes.UNSUPPORTED_FILE);
    assert.match(css.message, /src\/style\.css/);
    assert.match(css.message, /from src\/a\.ts/);
    throwsDevhot(() => r.resolve('./x.png', importer), ErrorCodes.UNSUPPORTED_FILE);
  });

  it('picks the same files as Node for packages', () => {
    // Not 'mainonly/lib/other' for ESM: devhot probes extensions there like require() does,
    // where Node's import would fail.
    const esm = ['exp', 'exp/features/a', 'exp/nested', 'mainonly', 'noentry', '@scope/pkg/sub', '#dep'];
    const cjs = ['exp', 'exp/nested', 'mainonly', 'mainonly/lib/other', 'noentry', '@scope/pkg/sub'];
    const probe = path.join(root, 'src/probe.mjs');
    fs.writeFileSync(
      probe,
      `import { createRequire } from 'node:module';
      import { pathToFileURL } from 'node:url';
      const require = createRequire(import.meta.url);
      console.log(JSON.stringify({
        esm: ${JSON.stringify(esm)}.map((s) => import.meta.resolve(s)),
        cjs: ${JSON.stringify(cjs)}.map((s) => pathToFileURL(require.resolve(s)).href),
      }));`,
    );
    const out = execFileSync(process.execPath, [probe], { encoding: 'utf8' });
    const node = JSON.parse(out) as { esm: string[]; cjs: string[] };
    const urlOf = (s: string, kind: 'import' | 'require') => {
      const result = r.resolve(s, probe, kind);
      return result.kind === 'external' ? result.url : result.kind;
    };
    assert.deepEqual(
      esm.map((s) => urlOf(s, 'import')),
      node.esm,
    );
    assert.deepEqual(
      cjs.map((s) => urlOf(s, 'require')),
      node.cjs,
    );
  });

  it('lists the tsconfig and package.json files it read', () => {
    assert.ok(r.configFiles.has(path.join(root, 'tsconfig.json')));
    assert.ok(r.configFiles.has(path.join(root, 'package.json')));
    assert.ok(r.configFiles.has(path.join(root, 'node_modules/exp/package.json')));
  });

  it('answers from its cache in about a microsecond', () => {
    const specifiers = ['./b', '@/b', 'exp', '#lib/x', 'fs', '@app/ws'];
    for (const s of specifiers) r.resolve(s, importer);
    const rounds = 20_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) for (const s of specifiers) r.resolve(s, importer);
    const perCall = Number(process.hrtime.bigint() - start) / (rounds * specifiers.length);
    // Generous bound so a loaded CI machine does not flake; typically well under 1 µs.
    assert.ok(perCall < 20_000, `warm resolve took ${perCall.toFixed(0)} ns`);
  });
});

describe('resolver: tsconfig extends chains', () => {
  const roots: string[] = [];
  after(() => {
    for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
  });

  it('takes paths without baseUrl relative to the config that declares them, later extends win', () => {
    const root = makeProject({
      'tsconfig.json': json({ extends: ['@tsconfig/node20/tsconfig.json', './configs/paths.json'] }),
      'configs/paths.json': json({ extends: './deep/base', compilerOptions: { paths: { 'app/*': ['../src/*'] } } }),
      'configs/deep/base.json': json({ compilerOptions: { paths: { 'old/*': ['./old/*'] } } }),
      'configs/deep/old/x.ts': '',
      'node_modules/@tsconfig/node20/package.json': json({ name: '@tsconfig/node20' }),
      'node_modules/@tsconfig/node20/tsconfig.json': json({
        compilerOptions: { target: 'es2022', paths: { 'app/*': ['./wrong/*'] } },
      }),
      'src/main.ts': '',
      'src/feature.ts': '',
    });
    roots.push(root);
    const r = createResolver({ root });
    const importer = path.join(root, 'src/main.ts');
    assert.deepEqual(r.resolve('app/feature', importer), { kind: 'user', file: path.join(root, 'src/feature.ts') });
    // paths.json's own "paths" replaces the one it extends.
    throwsDevhot(() => r.resolve('old/x', importer), ErrorCodes.RESOLVE);
    for (const f of ['tsconfig.json', 'configs/paths.json', 'configs/deep/base.json', 'node_modules/@tsconfig/node20/tsconfig.json']) {
      assert.ok(r.configFiles.has(path.join(root, f)), f);
    }
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript's literal `${configDir}` token
  it('extends a package by name, with ${configDir} and baseUrl from the base', () => {
    const root = makeProject({
      'tsconfig.app.json': json({ extends: '@acme/tsconfig' }),
      'node_modules/@acme/tsconfig/package.json': json({ name: '@acme/tsconfig', tsconfig: 'base.json' }),
      'node_modules/@acme/tsconfig/base.json': `{
        "compilerOptions": { "baseUrl": "\${configDir}/src", "paths": { "$lib/*": ["\${configDir}/lib/*"] }, },
      }`,
      'lib/db.ts': '',
      'src/models/user.ts': '',
      'src/main.ts': '',
    });
    roots.push(root);
    const r = createResolver({ root, tsconfig: 'tsconfig.app.json' });
    const importer = path.join(root, 'src/main.ts');
    assert.deepEqual(r.resolve('$lib/db', importer), { kind: 'user', file: path.join(root, 'lib/db.ts') });
    assert.deepEqual(r.resolve('models/user.js', importer), { kind: 'user', file: path.join(root, 'src/models/user.ts') });
  });

  it('reports a broken tsconfig on bare imports but still resolves relative ones', () => {
    const root = makeProject({ 'tsconfig.json': '{ "extends": "./nowhere.json" }', 'src/a.ts': '', 'src/b.ts': '' });
    roots.push(root);
    const r = createResolver({ root });
    const importer = path.join(root, 'src/a.ts');
    assert.deepEqual(r.resolve('./b', importer), { kind: 'user', file: path.join(root, 'src/b.ts') });
    const err = throwsDevhot(() => r.resolve('some-pkg', importer), ErrorCodes.TSCONFIG);
    assert.match(err.message, /nowhere/);
    const none = createResolver({ root, tsconfig: false });
    throwsDevhot(() => none.resolve('some-pkg', importer), ErrorCodes.RESOLVE);
  });
});

describe('resolver: cache', () => {
  let root: string;
  before(() => {
    root = makeProject({ 'src/a.ts': '', 'tsconfig.json': json({ compilerOptions: {} }) });
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('finds a new file after clearCache', () => {
    const r = createResolver({ root });
    const importer = path.join(root, 'src/a.ts');
    throwsDevhot(() => r.resolve('./later', importer), ErrorCodes.RESOLVE);
    fs.writeFileSync(path.join(root, 'src/later.ts'), '');
    r.clearCache();
    assert.deepEqual(r.resolve('./later', importer), { kind: 'user', file: path.join(root, 'src/later.ts') });
  });

  it('picks up changed tsconfig paths after clearCache', () => {
    const r = createResolver({ root });
    const importer = path.join(root, 'src/a.ts');
    throwsDevhot(() => r.resolve('@/a', importer), ErrorCodes.RESOLVE);
    fs.writeFileSync(path.join(root, 'tsconfig.json'), json({ compilerOptions: { paths: { '@/*': ['./src/*'] } } }));
    r.clearCache();
    assert.deepEqual(r.resolve('@/a', importer), { kind: 'user', file: path.join(root, 'src/a.ts') });
    assert.ok(r.configFiles.has(path.join(root, 'tsconfig.json')));
  });
});

describe('package exports/imports algorithm', () => {
  const conditions: ReadonlySet<string> = new Set(['node', 'import', 'default']);

  it('prefers the most specific pattern and substitutes every *', () => {
    const exports = { './*': './all/*.js', './a/*': './a/*/*.js', './a/b/*': './ab/*.js', './a/b/c': './exact.js' };
    assert.deepEqual(resolvePackageExports(exports, './a/b/c', conditions), { kind: 'path', path: './exact.js' });
    assert.deepEqual(resolvePackageExports(exports, './a/b/x', conditions), { kind: 'path', path: './ab/x.js' });
    assert.deepEqual(resolvePackageExports(exports, './a/x', conditions), { kind: 'path', path: './a/x/x.js' });
    assert.deepEqual(resolvePackageExports(exports, './z', conditions), { kind: 'path', path: './all/z.js' });
    assert.deepEqual(resolvePackageExports({ './*.js': './lib/*.mjs' }, './x$&.js', conditions), { kind: 'path', path: './lib/x$&.mjs' });
  });

  it('handles sugar, arrays, null, and invalid targets', () => {
    assert.deepEqual(resolvePackageExports('./main.js', '.', conditions), { kind: 'path', path: './main.js' });
    assert.deepEqual(resolvePackageExports({ import: './m.js', default: './c.js' }, '.', conditions), { kind: 'path', path: './m.js' });
    assert.equal(resolvePackageExports('./main.js', './x', conditions).kind, 'none');
    // An invalid target in an array falls back to the next one.
    assert.deepEqual(resolvePackageExports({ '.': ['bad-url:x', './ok.js'] }, '.', conditions), { kind: 'path', path: './ok.js' });
    assert.equal(resolvePackageExports({ '.': null }, '.', conditions).kind, 'none');
    assert.equal(resolvePackageExports({ '.': './a.js', import: './b.js' }, '.', conditions).kind, 'none');
    assert.equal(resolvePackageExports({ './x': '../outside.js' }, './x', conditions).kind, 'none');
    assert.equal(resolvePackageExports({ './*': './lib/*' }, './node_modules/x', conditions).kind, 'none');
    assert.deepEqual(resolvePackageExports({ '.': { browser: './b.js' } }, '.', conditions), {
      kind: 'none',
      reason: "no condition matches '.' (conditions: node, import, default)",
    });
  });

  it('resolves imports to paths, packages, and refuses #/ and undefined keys', () => {
    const imports = { '#a': './a.js', '#p/*': 'pkg/*', '#u': 'https://x.test/a.js' };
    assert.deepEqual(resolvePackageImports(imports, '#a', conditions), { kind: 'path', path: './a.js' });
    assert.deepEqual(resolvePackageImports(imports, '#p/sub', conditions), { kind: 'bare', specifier: 'pkg/sub' });
    assert.equal(resolvePackageImports(imports, '#u', conditions).kind, 'none');
    assert.equal(resolvePackageImports(imports, '#/x', conditions).kind, 'none');
    assert.equal(resolvePackageImports(imports, '#b', conditions).kind, 'none');
  });
});

describe('parseJsonc', () => {
  it('drops comments and trailing commas, but not inside strings', () => {
    const text = '\uFEFF{ "a": "http://x/*y*/", // c\n "b": [1, 2, /* c */ ], "c": "\\"//", }';
    assert.deepEqual(parseJsonc(text), { a: 'http://x/*y*/', b: [1, 2], c: '"//' });
  });
});
