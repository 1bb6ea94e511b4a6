#!/usr/bin/env node
/**
 * Differential test262 runner: where does devhot's own module engine (src/runner/) differ from
 * Node's ES module loader?
 *
 *   node scripts/test262.mjs --test262 /path/to/test262 [--filter substring] [--jobs 2]
 *                            [--json out.json] [--devhot path/to/dist/src/index.js] [--timeout 5000]
 *   node scripts/test262.mjs --from out.json     # the report again from a --json file, nothing run
 *
 * Every test runs twice, each time in a child process of its own (killed after --timeout ms):
 *   - node:   `await import(testFile)`, Node's loader is the reference;
 *   - devhot: `createRunner({ root, entry: testFile, cacheDir: false, tsconfig: false, nativeLoads: true }).start()`
 *     (nativeLoads, as the app process has it: import() inside eval goes through Node's loader).
 * Both see the same files: the test folders are copied once into a temporary directory whose
 * package.json says `"type": "module"`, so every `.js` file (test and _FIXTURE) is an ES module.
 * Before the test, the harness is evaluated into the global scope (vm.runInThisContext):
 * assert.js, sta.js, doneprintHandle.js for `async` tests, then the test's `includes`; tests
 * flagged `raw` get no harness. `$DONOTEVALUATE()` is wrapped so that it also records that the
 * module body ran, and `print` records the async handle's messages.
 *
 * Which tests (from test/language/{module-code,import,export}, expressions/dynamic-import and
 * expressions/import.meta, never *_FIXTURE.js files):
 *   1. every test flagged `module`;
 *   2. a test without the `module` flag (Script goal) only if it is about import() or import.meta
 *      (it lives in expressions/dynamic-import or expressions/import.meta, or calls `import(`),
 *      run as a module, and only where that keeps its meaning. Skipped:
 *        - `noStrict` (module code is always strict) and `raw` tests;
 *        - tests whose verdict depends on the goal: Node's parser is asked whether the file
 *          parses as a Script and as a Module (vm.Script, vm.SourceTextModule); where the two
 *          differ, a positive test must parse as a module and a parse-negative test must not
 *          (this drops `var x; function x() {}` "script-code" tests, `await` as an
 *          identifier, and "import.meta is an error in a Script");
 *        - eval-self-once-script.js, which imports itself and counts on the second, module,
 *          evaluation of a file first run as a Script.
 *   Other Script-goal tests (`import`/`export` declarations in a Script, `await` as an
 *   identifier) are about what devhot never does: it evaluates modules only.
 *   Only the tests Node passes are compared, so a test that still means something else as a
 *   module, or that needs what Node lacks (import defer, source phase imports), drops out.
 *
 * Outcome of one run: pass or fail, with the error's constructor name and message.
 *   - positive test: the import/start() fulfils, nothing is thrown later (uncaught exception),
 *     and an `async` test prints Test262:AsyncTestComplete (not ...Failure) within the timeout;
 *   - negative test: the import/start() rejects with the expected type; for phase parse or
 *     resolution the module body must not have run ($DONOTEVALUATE not reached).
 *   devhot's error: start() rejects with a DevhotError whose cause is the error payload. A
 *   DEVHOT_ERR_TRANSFORM is a SyntaxError found while compiling (esbuild or meriyah); for a link
 *   error (DEVHOT_ERR_LINK) or an
 *   evaluation error the payload message is `Name: message` (a thrown non-Error arrives as
 *   `Error: String(value)`, read back as Test262Error or a thrown string where recognisable).
 *   The raw message is kept in the JSON output.
 *
 * Report: totals, the tests Node passes and devhot fails grouped by cause (CAUSES below, rules on
 * the test's path and both outcomes, first match wins; anything unmatched is grouped by devhot's
 * normalised error), tests devhot passes and Node fails, and last a line `N passed, M failed`:
 * devhot against the tests Node passes.
 */
import { fork, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';

const FOLDERS = [
  'test/language/module-code',
  'test/language/import',
  'test/language/export',
  'test/language/expressions/dynamic-import',
  'test/language/expressions/import.meta',
];
const SCRIPT_GOAL_FOLDERS = ['test/language/expressions/dynamic-import/', 'test/language/expressions/import.meta/'];
const NOT_MODULE_CODE = ['test/language/expressions/dynamic-import/eval-self-once-script.js'];
const DONOTEVALUATE = 'Test262: This statement should not be evaluated.';
// Taken before any test code runs: a test may replace them (returns-promise.js replaces Promise).
const { Promise: $Promise, setTimeout: $setTimeout } = globalThis;
const $race = $Promise.race.bind($Promise);
const EVALUATED = '__test262_body_evaluated__';
const INFRA_RETRIES = 6;
const INFRA_WAIT = 20_000;

// ---------------------------------------------------------------------------------------------
// Arguments

function parseArgs(argv) {
  const args = { jobs: 2, timeout: 5000, devhot: fileURLToPath(new URL('../dist/src/index.js', import.meta.url)) };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--test262':
        args.test262 = resolve(value());
        break;
      case '--filter':
        args.filter = value();
        break;
      case '--jobs':
        args.jobs = Math.max(1, Number(value()) || 1);
        break;
      case '--json':
        args.json = resolve(value());
        break;
      case '--devhot':
        args.devhot = resolve(value());
        break;
      case '--timeout':
        args.timeout = Number(value());
        break;
      case '--child':
        args.child = value();
        break;
      case '--from':
        args.from = resolve(value());
        break;
      case '-h':
      case '--help':
        console.log(
          'node scripts/test262.mjs --test262 <dir> [--filter substring] [--jobs 2] [--json out.json] [--devhot path] [--timeout ms]',
        );
        console.log('node scripts/test262.mjs --from out.json [--filter substring]');
        return process.exit(0);
      default:
        console.error(`unknown argument ${argv[i]}`);
        process.exit(2);
    }
  }
  return args;
}

// ---------------------------------------------------------------------------------------------
// Frontmatter: the small YAML subset test262 uses (scalars, [a, b] lists, `- a` lists, one
// nested map for `negative`, block scalars for description/info, skipped).

function parseFrontmatter(source) {
  const m = /\/\*---([\s\S]*?)---\*\//.exec(source);
  const meta = { flags: [], includes: [], features: [] };
  if (!m) return meta;
  const lines = m[1].split(/\r?\n/);
  let current;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.trim() || /^\s*#/.test(line)) continue;
    const top = /^([A-Za-z_]+):\s*(.*)$/.exec(line);
    if (top) {
      const [, key, rest] = top;
      current = key;
      if (rest === '') meta[key] = key === 'negative' ? {} : [];
      else if (/^[|>]/.test(rest)) meta[key] = '';
      else meta[key] = scalarOrList(rest);
      continue;
    }
    const item = /^\s+-\s+(.*)$/.exec(line);
    if (item && Array.isArray(meta[current])) {
      meta[current].push(unquote(item[1]));
      continue;
    }
    const nested = /^\s+([A-Za-z_]+):\s*(.*)$/.exec(line);
    if (nested && meta[current] && typeof meta[current] === 'object' && !Array.isArray(meta[current])) {
      meta[current][nested[1]] = scalarOrList(nested[2]);
    }
  }
  for (const key of ['flags', 'includes', 'features']) if (!Array.isArray(meta[key])) meta[key] = meta[key] ? [meta[key]] : [];
  return meta;
}

function scalarOrList(text) {
  const t = text.trim();
  if (t.startsWith('[') && t.endsWith(']'))
    return t
      .slice(1, -1)
      .split(',')
      .map((s) => unquote(s.trim()))
      .filter(Boolean);
  return unquote(t);
}

function unquote(s) {
  return s.replace(/^(['"])(.*)\1$/, '$2');
}

// ---------------------------------------------------------------------------------------------
// Which tests

function listTests(t262, filter) {
  const tests = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.js') && !name.includes('_FIXTURE')) {
        const rel = relative(t262, full).split(sep).join('/');
        if (!filter || rel.includes(filter)) tests.push(rel);
      }
    }
  };
  for (const folder of FOLDERS) walk(join(t262, folder));
  return tests;
}

/** Why a test is not run, or undefined when it is (see the header). */
function skipReason(rel, meta, source, parses) {
  if (meta.flags.includes('module')) return undefined;
  const aboutImport =
    SCRIPT_GOAL_FOLDERS.some((f) => rel.startsWith(f)) || /\bimport\s*\(/.test(source.replace(/\/\*---[\s\S]*?---\*\//, ''));
  if (!aboutImport) return 'script goal, not about import() or import.meta';
  if (meta.flags.includes('noStrict')) return 'script goal, noStrict (module code is strict)';
  if (meta.flags.includes('raw')) return 'script goal, raw';
  if (NOT_MODULE_CODE.includes(rel)) return 'script goal, must not run as module code';
  if (parses === undefined) return 'check';
  // Where Node parses the file the same way in both goals, the goal does not matter (an error in
  // both may be a syntax Node lacks, such as `import defer`: Node fails it, no comparison).
  if (parses.script === parses.module) return undefined;
  const parseError = meta.negative?.phase === 'parse';
  if (parseError && parses.module) return 'script goal, its early error is about the Script goal (valid module code)';
  if (!parseError && !parses.module) return 'script goal, valid Script but not valid module code';
  return undefined;
}

/** Whether each file parses as a Script and as a Module, asked of Node's parser (vm.Script
 * compiles without running; vm.SourceTextModule parses without linking). */
function parseGoals(files) {
  if (files.length === 0) return [];
  const code = `
    const vm = require('node:vm'), fs = require('node:fs');
    const files = JSON.parse(fs.readFileSync(0, 'utf8'));
    const ok = (f) => { try { f(); return true; } catch { return false; } };
    process.stdout.write(JSON.stringify(files.map((file) => {
      const source = fs.readFileSync(file, 'utf8');
      return { script: ok(() => new vm.Script(source)), module: ok(() => new vm.SourceTextModule(source)) };
    })));`;
  const r = spawnSync(process.execPath, ['--experimental-vm-modules', '--no-warnings', '-e', code], {
    input: JSON.stringify(files),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`parse check failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// ---------------------------------------------------------------------------------------------
// Child: one test under one engine. Reports { error, uncaught, async, evaluated, prints } by IPC.

async function child(args) {
  const { engine, file, meta, harness, root } = JSON.parse(args.child);
  const report = { engine, prints: [], uncaught: [], unhandled: [] };
  let createRunner;
  if (engine === 'devhot') {
    // Loaded before the harness and the test. A failure here is devhot's build (being rebuilt?),
    // not the test's outcome: the parent retries.
    try {
      ({ createRunner } = await import(pathToFileURL(args.devhot).href));
      if (typeof createRunner !== 'function') throw new Error(`${args.devhot} exports no createRunner`);
    } catch (error) {
      process.send({ engine, infra: String(error?.stack ?? error).slice(0, 2000) }, () => process.exit(0));
      return;
    }
  }
  let asyncDone;
  const asyncSettled = new $Promise((r) => (asyncDone = r));
  globalThis.print = (msg) => {
    const text = String(msg);
    report.prints.push(text);
    if (text.startsWith('Test262:AsyncTest')) asyncDone(text);
  };
  process.on('uncaughtException', (e) => report.uncaught.push(describeThrown(e)));
  process.on('unhandledRejection', (e) => report.unhandled.push(describeThrown(e)));
  if (!meta.flags.includes('raw')) {
    const files = ['assert.js', 'sta.js'];
    if (meta.flags.includes('async')) files.push('doneprintHandle.js');
    for (const inc of meta.includes) if (!files.includes(inc)) files.push(inc);
    for (const f of files) vm.runInThisContext(readFileSync(join(harness, f), 'utf8'), { filename: join(harness, f) });
    const original = globalThis.$DONOTEVALUATE;
    globalThis.$DONOTEVALUATE = function $DONOTEVALUATE() {
      globalThis[EVALUATED] = true;
      return original();
    };
  }
  let runner;
  try {
    if (engine === 'node') {
      await import(pathToFileURL(file).href);
    } else {
      runner = createRunner({ root, entry: file, cacheDir: false, tsconfig: false, nativeLoads: true });
      await runner.start();
    }
  } catch (error) {
    report.error = engine === 'devhot' ? describeDevhot(error) : describeThrown(error);
  }
  if (meta.flags.includes('async') && !report.error) {
    report.async = await $race([asyncSettled, new $Promise((r) => $setTimeout(r, Math.max(500, args.timeout - 1500), 'timeout'))]);
  }
  // Let queued jobs (a late throw, a late $DONE) settle.
  await new $Promise((r) => $setTimeout(r, 20));
  report.evaluated = globalThis[EVALUATED] === true;
  process.send(report, () => process.exit(0));
  if (runner) void runner.close().catch(() => {});
}

function describeThrown(v) {
  if (v !== null && (typeof v === 'object' || typeof v === 'function')) {
    let type = 'Object';
    try {
      type = v.constructor?.name || (v instanceof Error ? v.name : 'Object');
    } catch {}
    let message;
    try {
      message = typeof v.message === 'string' ? v.message : String(v);
    } catch {
      message = '<unprintable>';
    }
    const out = { type, message };
    if (typeof v.code === 'string') out.code = v.code;
    return out;
  }
  return { type: typeof v, message: String(v) };
}

/** devhot's rejection: a DevhotError whose cause is the error payload (see the header). */
function describeDevhot(error) {
  const payload = error?.cause && typeof error.cause === 'object' && 'code' in error.cause ? error.cause : undefined;
  if (!payload || error?.name !== 'DevhotError') {
    // start() is documented to reject with a DevhotError: anything else is devhot failing itself,
    // and must not pass for the error a negative test expects.
    const inner = describeThrown(error);
    return { ...inner, type: `not a DevhotError (${inner.type})`, raw: String(error?.stack ?? error) };
  }
  const raw = String(payload.message);
  const code = payload.code;
  if (code === 'DEVHOT_ERR_TRANSFORM') return { type: 'SyntaxError', message: raw, code, phase: 'parse', raw };
  if (code !== 'DEVHOT_ERR_EVALUATION' && code !== 'DEVHOT_ERR_LINK') return { type: 'Error', message: raw, code, raw };
  // `Name: message (file:line:column)`, the location added when the stack pointed at user code
  // (a link error's SyntaxError points at the importer's line).
  const text = raw.replace(/ \([^()\n]*:\d+:\d+\)$/, '');
  const m = /^([A-Za-z_$][\w$]*): ([\s\S]*)$/.exec(text) ?? /^([A-Za-z_$][\w$]*)$/.exec(text);
  let type = m ? m[1] : 'Error';
  let message = m ? (m[2] ?? '') : text;
  if (type === 'Error') {
    const t = /^Test262Error(?:: ([\s\S]*))?$/.exec(message);
    if (t) [type, message] = ['Test262Error', t[1] ?? ''];
    else if (message === DONOTEVALUATE) type = 'string';
  }
  return { type, message, code, raw };
}

// ---------------------------------------------------------------------------------------------
// Parent: run the pool, judge, group, report.

/** Children running now, killed if the runner is interrupted. */
const live = new Set();

/** One run in a child process; when devhot itself cannot be loaded, wait and try again. */
async function runChild(args, engine, test, root) {
  for (let attempt = 1; ; attempt++) {
    const result = await runChildOnce(args, engine, test, root);
    if (!result.infra) return result;
    if (attempt === INFRA_RETRIES) throw new Error(`devhot cannot be loaded from ${args.devhot}:\n${result.infra}`);
    process.stderr.write(
      `devhot cannot be loaded (rebuilt right now?), retrying in ${INFRA_WAIT / 1000} s: ${result.infra.split('\n')[0]}\n`,
    );
    await new Promise((r) => setTimeout(r, INFRA_WAIT));
  }
}

function runChildOnce(args, engine, test, root) {
  const file = join(root, test.rel);
  const payload = JSON.stringify({ engine, file, meta: test.meta, harness: join(args.test262, 'harness'), root });
  return new Promise((done) => {
    const t0 = Date.now();
    let report;
    let stderr = '';
    const proc = fork(fileURLToPath(import.meta.url), ['--child', payload, '--devhot', args.devhot, '--timeout', String(args.timeout)], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    proc.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    proc.on('message', (m) => (report = m));
    const timer = setTimeout(() => proc.kill('SIGKILL'), args.timeout);
    live.add(proc);
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      clearTimeout(timer);
      const ms = Date.now() - t0;
      if (report) return done({ ...report, ms });
      if (signal === 'SIGKILL') return done({ engine, ms, timeout: true });
      done({ engine, ms, crash: { code, signal, stderr: stderr.trim().split('\n').slice(-6).join('\n') } });
    });
  });
}

/** The newest modification time under devhot's build folder: a change means it was rebuilt. */
function buildStamp(devhot) {
  let newest = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else newest = Math.max(newest, statSync(full).mtimeMs);
    }
  };
  try {
    walk(dirname(devhot));
  } catch {
    return undefined;
  }
  return newest;
}

/** pass/fail and a one-line reason. */
function judge(test, r) {
  const neg = test.meta.negative;
  if (r.timeout) return { pass: false, why: 'timeout' };
  if (r.crash) return { pass: false, why: `process exited (${r.crash.code ?? r.crash.signal}): ${r.crash.stderr}` };
  const err = r.error;
  if (neg) {
    if (!err) return { pass: false, why: `expected ${neg.type} (${neg.phase}), loaded without error` };
    if (err.type !== neg.type) return { pass: false, why: `expected ${neg.type} (${neg.phase}), got ${err.type}: ${err.message}` };
    if ((neg.phase === 'parse' || neg.phase === 'resolution') && r.evaluated) {
      return { pass: false, why: `${neg.type} as expected, but the module body ran before it (expected at ${neg.phase})` };
    }
    return { pass: true };
  }
  if (err) return { pass: false, why: `${err.type}: ${err.message}` };
  if (r.uncaught.length) return { pass: false, why: `uncaught ${r.uncaught[0].type}: ${r.uncaught[0].message}` };
  if (test.meta.flags.includes('async')) {
    if (r.async === 'timeout') {
      const lost = r.unhandled?.[0];
      return { pass: false, why: `$DONE not called${lost ? ` (unhandled rejection: ${lost.type}: ${lost.message})` : ''}` };
    }
    if (r.async !== 'Test262:AsyncTestComplete') return { pass: false, why: String(r.async).replace(/^Test262:AsyncTestFailure:/, '') };
  }
  return { pass: true };
}

// What goes wrong, first match wins: `test` matches the test's path (relative to test/language/),
// `why` devhot's failure (its judgement and raw error). Each rule was written after reading the
// tests it catches; a test no rule catches is grouped by the shape of devhot's error.
const CAUSES = [
  {
    name: 'link: import/re-export of a name the target does not export is no SyntaxError (body runs)',
    test: /instn-(iee|named|star)-err-(not-found|dflt-thru-star)|import-attributes\/json-named-bindings|import-attributes\/allow-nlt-before-with/,
    why: /should not be evaluated|loaded without error/,
  },
  {
    name: 'link: circular indirect export (export {x} from a cycle) is no SyntaxError; import() of it fulfils',
    test: /instn-iee-err-circular/,
  },
  {
    name: 'link: ambiguous name from two `export *` is no SyntaxError when imported, and stays in the namespace',
    test: /ambiguous-export-bindings\/(error-|omitted-from-namespace)|instn-iee-err-ambiguous-import/,
  },
  {
    name: '`export *` resolution has no cycle detection (resolveSet): stack overflow',
    test: /instn-star-iee-.*cycle/,
    why: /Maximum call stack/,
  },
  {
    name: 'rewrite: parenthesised `export default (expr)` loses its `(`, compiled code is a SyntaxError',
    test: /export-dflt-expr-|instn-named-bndng-dflt-expr/,
    why: /Unexpected token '\)'/,
  },
  {
    name: 'rewrite: `import((expr))` / `import((a, b))` loses the parentheses of its argument',
    test: /cover-parenthesized-expr/,
    why: /Unexpected token/,
  },
  {
    name: 'rewrite: anonymous `export default class {}` is named "__dh_default", not "default"',
    test: /module-code\/eval-export-dflt-cls-anon/,
    why: /__dh_default/,
  },
  {
    name: 'namespace is extensible, its properties configurable: defineProperty/set/delete/setPrototypeOf/preventExtensions succeed',
    test: /namespace\/internals\/(define-own-property|delete-exported|is-extensible|set\.js|set-prototype-of)|export-expname-binding-index|ns-(define-own-property|delete-exported-init|extensible|set-prototype-of|set-strict)/,
  },
  {
    name: 'namespace properties are accessors: getOwnPropertyDescriptor gives get/set, not { value, writable: true }',
    test: /get-own-property-str-found-init|get-nested-namespace-dflt|ns-prop-descs/,
  },
  {
    name: 'namespace: [[GetOwnProperty]] of an uninitialised binding (hasOwnProperty, Object.keys, for-in) does not throw ReferenceError',
    test: /namespace\/internals\/(.*-binding-uninit|get-own-property-str-found-uninit)/,
  },
  {
    name: 'namespace keys are in export order, not sorted (code unit order)',
    test: /own-property-keys-(sort|binding-types)/,
  },
  {
    name: 'top-level `this` of a module is not undefined',
    test: /module-code\/eval-this\.js/,
  },
  {
    name: 'TLA: a synchronous module waits for an earlier sibling with top-level await (Node runs it first)',
    test: /top-level-await\/async-module-does-not-block-sibling-modules/,
  },
  {
    name: 'import() of a module still evaluating (itself, or an importer on the stack) re-instantiates and re-runs it: stack overflow or endless loop',
    test: /dynamic-import\/(eval-export-dflt|imported-self-update|eval-self-once-module)|module-code\/verify-dfs/,
    why: /Maximum call stack|timeout/,
  },
  {
    name: 'import() options (2nd argument) ignored: no TypeError for non-object options/with/values, no Get/enumeration of `with`',
    test: /dynamic-import\/import-attributes\/2nd-param-(non-object|with-non-object|get-with-error|with-enumeration|with-value)/,
  },
  {
    name: 'concurrent import() of a module still loading rejects with "<file> was not compiled"',
    why: /was not compiled/,
  },
  {
    name: 'import(): ToString(specifier) throws synchronously instead of returning a rejected promise',
    test: /specifier-tostring-abrupt-rejects|trailing-comma-reject/,
  },
  {
    name: 'import() rejects with a DevhotError, not the SyntaxError of the imported module',
    why: /DevhotError/,
    test: /eval-script-code-target/,
  },
  {
    name: 'import.meta inherits from Object.prototype (Node: null prototype), so import(import.meta) does not reject with TypeError',
    test: /assignment-expression\/import-meta\.js/,
  },
  {
    name: 'import() inside eval code: "A dynamic import callback was not specified" (TypeError)',
    test: /usage-from-eval/,
  },
];

function categorise(t) {
  const path = t.rel.replace(/^test\/language\//, '');
  const why = `${t.devhotJudge.why}\n${t.devhot.error?.raw ?? ''}`;
  for (const c of CAUSES) if ((!c.test || c.test.test(path)) && (!c.why || c.why.test(why))) return c.name;
  const e = t.devhot.error;
  const shape = (e ? `${e.type}: ${e.message}` : t.devhotJudge.why)
    .replace(/\/[^\s'"`)]*\//g, '')
    .replace(/'[^']*'/g, "'…'")
    .replace(/\d+/g, 'N')
    .slice(0, 90);
  return `other: ${shape}`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) return child(args);
  if (args.from) return report(args, loadJson(args), undefined);
  if (!args.test262) {
    console.error('--test262 <dir> is required (or --from out.json)');
    process.exit(2);
  }
  if (!existsSync(join(args.test262, 'harness', 'assert.js'))) {
    console.error(`${args.test262} is not a test262 checkout (no harness/assert.js)`);
    process.exit(2);
  }
  if (!existsSync(args.devhot)) {
    console.error(`${args.devhot} does not exist: build devhot (npm run build) or pass --devhot <dist/src/index.js>`);
    process.exit(2);
  }
  const all = listTests(args.test262, args.filter).map((rel) => {
    const file = join(args.test262, rel);
    const source = readFileSync(file, 'utf8');
    const meta = parseFrontmatter(source);
    return { rel, file, meta, source, skip: skipReason(rel, meta, source, undefined) };
  });
  const toCheck = all.filter((t) => t.skip === 'check');
  parseGoals(toCheck.map((t) => t.file)).forEach((parses, i) => {
    const t = toCheck[i];
    t.skip = skipReason(t.rel, t.meta, t.source, parses);
  });
  for (const t of all) delete t.source;
  const tests = all.filter((t) => !t.skip);
  const root = mkdtempSync(join(tmpdir(), 'devhot-test262-'));
  // However the runner ends (done, an error, Ctrl-C), the copy goes and no child outlives it.
  process.on('exit', () => {
    for (const proc of live) proc.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
  for (const folder of FOLDERS) cpSync(join(args.test262, folder), join(root, folder), { recursive: true });
  writeFileSync(join(root, 'package.json'), `${JSON.stringify({ type: 'module', private: true })}\n`);

  console.log(
    `${all.length} test files, ${tests.length} run, ${all.length - tests.length} skipped; node ${process.version}; devhot ${args.devhot}`,
  );
  const stampBefore = buildStamp(args.devhot);
  const tasks = tests.flatMap((t) => [
    [t, 'node'],
    [t, 'devhot'],
  ]);
  let next = 0;
  let finished = 0;
  const t0 = Date.now();
  const worker = async () => {
    while (next < tasks.length) {
      const [test, engine] = tasks[next++];
      test[engine] = await runChild(args, engine, test, root);
      finished++;
      const elapsed = ((Date.now() - t0) / 1000).toFixed(0);
      if (process.stderr.isTTY) process.stderr.write(`\r${finished}/${tasks.length} runs, ${elapsed} s `);
      else if (finished % 200 === 0) process.stderr.write(`${finished}/${tasks.length} runs, ${elapsed} s\n`);
    }
  };
  await Promise.all(Array.from({ length: args.jobs }, worker));
  if (process.stderr.isTTY) process.stderr.write('\n');
  report(args, all, (Date.now() - t0) / 1000);
  if (buildStamp(args.devhot) !== stampBefore) {
    console.error(`warning: devhot's build (${dirname(args.devhot)}) changed during the run: the runs mix two builds; run again for one`);
  }
}

/** Tests and outcomes from a --json file, for --from. */
function loadJson(args) {
  const data = JSON.parse(readFileSync(args.from, 'utf8'));
  args.devhot = data.devhot;
  const rows = data.tests.filter((row) => !args.filter || row.test.includes(args.filter));
  return rows.map((row) => {
    const strip = (r) => {
      if (!r) return undefined;
      const { pass, why, ...rest } = r;
      return rest;
    };
    return {
      rel: row.test,
      meta: { flags: row.flags, features: row.features, includes: row.includes ?? [], negative: row.negative },
      skip: row.skipped,
      node: strip(row.node),
      devhot: strip(row.devhot),
    };
  });
}

function report(args, all, seconds) {
  const tests = all.filter((t) => !t.skip);
  for (const t of tests) {
    t.nodeJudge = judge(t, t.node);
    t.devhotJudge = judge(t, t.devhot);
  }
  const nodePasses = tests.filter((t) => t.nodeJudge.pass);
  const diffs = nodePasses.filter((t) => !t.devhotJudge.pass);
  const devhotOnly = tests.filter((t) => !t.nodeJudge.pass && t.devhotJudge.pass);
  const groups = new Map();
  for (const t of diffs) {
    t.cause = categorise(t);
    if (!groups.has(t.cause)) groups.set(t.cause, []);
    groups.get(t.cause).push(t);
  }
  const one = (text, n) => text.replace(/\s+/g, ' ').slice(0, n);
  const out = [];
  out.push(
    `${tests.length} tests; Node passes ${nodePasses.length}; devhot passes ${nodePasses.length - diffs.length} of those; ` +
      `${diffs.length} differences${seconds === undefined ? '' : ` (${seconds.toFixed(0)} s)`}`,
  );
  const skipped = new Map();
  for (const t of all) if (t.skip) skipped.set(t.skip, (skipped.get(t.skip) ?? 0) + 1);
  for (const [why, n] of skipped) out.push(`  skipped ${n}: ${why}`);
  const nodeFails = new Map();
  for (const t of tests) {
    if (t.nodeJudge.pass) continue;
    const key =
      t.meta.features.find((f) => /defer|source-phase|import-text|import-bytes|immutable-arraybuffer|promise-with-resolvers/.test(f)) ??
      'other (Node differs from test262)';
    nodeFails.set(key, (nodeFails.get(key) ?? 0) + 1);
  }
  if (nodeFails.size > 0) {
    const byFeature = [...nodeFails].map(([f, n]) => `${f} ${n}`).join(', ');
    out.push(`  Node fails ${tests.length - nodePasses.length}, not compared (by feature): ${byFeature}`);
  }
  out.push('');
  out.push(`Differences (Node passes, devhot fails), ${groups.size} cause${groups.size === 1 ? '' : 's'}:`);
  for (const [name, list] of [...groups].sort((a, b) => b[1].length - a[1].length)) {
    out.push('');
    out.push(`## ${name} (${list.length})`);
    const rep = list[0];
    out.push(`   devhot: ${one(rep.devhot.error?.raw ?? rep.devhotJudge.why, 300)}`);
    for (const t of list) out.push(`   ${t.rel}  -- ${one(t.devhotJudge.why, 160)}`);
  }
  if (devhotOnly.length) {
    out.push('');
    out.push(`devhot passes, Node fails (${devhotOnly.length}, not counted):`);
    for (const t of devhotOnly) out.push(`   ${t.rel}  -- node: ${one(t.nodeJudge.why, 140)}`);
  }
  out.push('');
  out.push(`${nodePasses.length - diffs.length} passed, ${diffs.length} failed`);
  console.log(out.join('\n'));

  if (args.json) {
    const rows = all.map((t) => ({
      test: t.rel,
      flags: t.meta.flags,
      features: t.meta.features,
      includes: t.meta.includes,
      negative: t.meta.negative,
      skipped: t.skip,
      node: t.node && { pass: t.nodeJudge.pass, why: t.nodeJudge.why, ...t.node },
      devhot: t.devhot && { pass: t.devhotJudge.pass, why: t.devhotJudge.why, ...t.devhot },
      cause: t.cause,
    }));
    writeFileSync(args.json, `${JSON.stringify({ node: process.version, devhot: args.devhot, tests: rows }, null, 1)}\n`);
  }
}

await main();
