/**
 * The supervisor's decisions without processes, sockets or timers: what a batch of saves leads
 * to, the restart owed after a failed one and which saves retry it, crashes and their back-off,
 * which process serves after a failed start, reloads with no app, and closing. Plus the batch a
 * burst of saves adds up to (ChangeSet).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChangeKind, FileChange } from '../src/shared/ipc.js';
import type { UpdateResult } from '../src/shared/results.js';
import { ChangeSet, coalesce, mergeKind } from '../src/supervisor/change-set.js';
import { restartTriggers, SupervisorPolicy, type PolicyOptions } from '../src/supervisor/policy.js';

const ROOT = '/p';
const ENV = `${ROOT}/.env`;
const CONFIG = `${ROOT}/devhot.config.ts`;
/** What the app reported: the tsconfig chain (with a base in configs/) and the package.json files it read. */
const APP_CONFIG = new Set(['tsconfig.json', 'configs/base.json', 'package.json', 'packages/api/package.json'].map((f) => `${ROOT}/${f}`));

/** The app's module graph, as it reported it. */
const MODULES = new Set(['src/server.ts', 'src/a.ts', 'src/b.ts', 'data.json'].map((f) => `${ROOT}/${f}`));

function policy(overrides: Partial<PolicyOptions> = {}): SupervisorPolicy {
  return new SupervisorPolicy({
    root: ROOT,
    hot: true,
    restartOnCrash: false,
    restartTrigger: restartTriggers({ root: ROOT, envFiles: [ENV], configFile: CONFIG, appConfigFiles: () => APP_CONFIG }),
    appModules: () => MODULES,
    ...overrides,
  });
}

const change = (rel: string, kind: ChangeKind = 'change'): FileChange => ({ file: `${ROOT}/${rel}`, kind });
const changes = (...rels: string[]) => rels.map((rel) => change(rel));

describe('a batch of saves', () => {
  it('goes to the app as it came, each file with its kind', () => {
    const batch = [change('src/a.ts'), change('src/new.ts', 'add'), change('src/old.ts', 'unlink')];
    assert.deepEqual(policy().batch(batch, true), { action: 'update', browser: [], app: batch });
  });

  it('sends stylesheets and pages to browsers only, source to the app', () => {
    assert.deepEqual(policy().batch(changes('public/site.css', 'views/index.html', 'src/a.ts', 'views/old.htm'), true), {
      action: 'update',
      browser: [
        { type: 'css-update', path: 'public/site.css' },
        { type: 'full-reload', path: 'views/index.html' },
        { type: 'full-reload', path: 'views/old.htm' },
      ],
      app: [change('src/a.ts')],
    });
    assert.deepEqual(policy().batch(changes('public/site.css'), true), {
      action: 'update',
      browser: [{ type: 'css-update', path: 'public/site.css' }],
      app: [],
    });
  });

  it('restarts for a file that cannot be applied in-process, naming it', () => {
    const cases: Array<[string, string]> = [
      ['.env', '.env changed'],
      ['devhot.config.ts', 'devhot.config.ts (devhot config) changed'],
      ['package.json', 'package.json changed'],
      ['packages/api/package.json', 'packages/api/package.json changed'],
      ['tsconfig.json', 'tsconfig.json changed'],
      ['configs/base.json', 'configs/base.json changed'],
      ['build/Release/addon.node', 'native addon build/Release/addon.node changed'],
    ];
    for (const [rel, reason] of cases) {
      assert.deepEqual(policy().batch(changes('src/a.ts', rel), true), { action: 'restart', reason }, rel);
    }
  });

  it('config files the app did not read are not restart triggers (nor modules: they run nothing)', () => {
    for (const rel of ['tsconfig.build.json', 'packages/web/package.json', 'configs/other.json']) {
      assert.deepEqual(policy().batch(changes(rel), true), { action: 'none' }, rel);
    }
  });

  it("a file that is neither a module of the app nor a trigger runs nothing: logs, devhot's own output", () => {
    // `devhot src/server.ts --json > events.jsonl`, an app's log: each line written is a save.
    for (const rel of ['events.jsonl', 'dev.log', 'notes.txt', 'cache.json', 'README.md']) {
      assert.deepEqual(policy().batch(changes(rel), true), { action: 'none' }, rel);
    }
    // In the same batch as a module, only the module goes to the app.
    assert.deepEqual(policy().batch(changes('dev.log', 'src/a.ts'), true), { action: 'update', browser: [], app: changes('src/a.ts') });
  });

  it('code the graph does not hold yet, a new JSON file, and the files a failure names still go to the app', () => {
    // A new module, or one a failed update imported (its rollback dropped it from the graph).
    assert.deepEqual(policy().batch(changes('src/new.ts'), true), { action: 'update', browser: [], app: changes('src/new.ts') });
    // A JSON file a failed import was missing: when it is created, not when an unrelated one changes.
    assert.equal(policy().batch([change('src/data/new.json', 'add')], true).action, 'update');
    assert.equal(policy().batch([change('src/data/new.json', 'change')], true).action, 'none');
    // A failed update names its files: a save of one of them retries it, whatever it is.
    const p = policy();
    p.afterUpdate({
      status: 'error',
      phase: 'transform',
      error: { code: 'DEVHOT_ERR_TRANSFORM', message: 'bad JSON', file: `${ROOT}/config/settings.json` },
      files: [`${ROOT}/src/a.ts`],
      duration: 1,
    });
    assert.equal(p.batch(changes('config/settings.json'), true).action, 'update');
    // Once an update applies, the failure is gone, and so is the exception.
    p.afterUpdate({ status: 'unchanged', files: [], duration: 0 });
    assert.equal(p.batch(changes('config/settings.json'), true).action, 'none');
  });

  it('asks the injected trigger check, so the rule can come from elsewhere', () => {
    const asked: string[] = [];
    const p = policy({
      restartTrigger: (file) => {
        asked.push(file);
        return file.endsWith('.prisma') ? 'schema changed' : undefined;
      },
    });
    assert.deepEqual(p.batch(changes('src/a.ts', 'schema.prisma'), true), { action: 'restart', reason: 'schema changed' });
    assert.deepEqual(asked, [`${ROOT}/src/a.ts`, `${ROOT}/schema.prisma`]);
    assert.equal(p.batch(changes('package.json'), true).action, 'none');
  });

  it('with no app running: a save of its code starts one, anything else waits', () => {
    assert.deepEqual(policy().batch(changes('src/a.ts'), false), { action: 'restart', reason: 'the app had exited' });
    assert.deepEqual(policy().batch(changes('data.json'), false), { action: 'restart', reason: 'the app had exited' });
    assert.deepEqual(policy().batch(changes('notes.txt', 'public/site.css', 'other.json'), false), { action: 'none' });
  });

  it("--no-hot: every save of the app's code restarts, named after its first file in the batch", () => {
    const p = policy({ hot: false });
    assert.deepEqual(p.batch(changes('README.md', 'src/b.ts'), true), { action: 'restart', reason: 'src/b.ts changed' });
    assert.deepEqual(p.batch(changes('public/site.css'), true), { action: 'none' });
    // A data file the app writes (not imported) must not restart it in a loop.
    assert.deepEqual(p.batch(changes('db.json', 'app.log'), true), { action: 'none' });
    assert.deepEqual(p.batch(changes('.env'), true), { action: 'restart', reason: '.env changed' });
  });

  it('an empty batch is nothing', () => {
    assert.deepEqual(policy().batch([], true), { action: 'none' });
  });
});

describe('a restart that failed', () => {
  it('while the previous process serves: it keeps serving, the restart is owed', () => {
    const p = policy();
    assert.deepEqual(p.restartFailed('.env changed', true), {
      keep: 'previous',
      reason: 'the previous process keeps serving; the next save retries',
    });
    assert.equal(p.restartOwed, '.env changed');
  });

  it('is retried by a source save or a trigger, not by any file written in the project', () => {
    const p = policy();
    p.restartFailed('.env changed', true);
    // A log or pid file the old app keeps writing must not retry the failing restart forever.
    assert.deepEqual(p.batch(changes('app.log'), true), { action: 'none' });
    assert.deepEqual(p.batch(changes('public/site.css'), true).action, 'update');
    assert.deepEqual(p.batch(changes('src/server.ts'), true), { action: 'restart', reason: '.env changed' });
    // A trigger in the batch names itself.
    assert.deepEqual(p.batch(changes('package.json'), true), { action: 'restart', reason: 'package.json changed' });
  });

  it('with nothing else running: the new process is kept, nothing is owed', () => {
    const p = policy();
    assert.deepEqual(p.restartFailed('src/a.ts changed', false), { keep: 'new', reason: 'waiting for a change' });
    assert.equal(p.restartOwed, undefined);
  });

  it('is no longer owed once a restart succeeds', () => {
    const p = policy();
    p.restartFailed('.env changed', true);
    p.restartSucceeded();
    assert.equal(p.restartOwed, undefined);
    assert.equal(p.batch(changes('src/server.ts'), true).action, 'update');
  });
});

describe('an app that exits', () => {
  it('is reported and waits for a save without --restart-on-crash', () => {
    assert.deepEqual(policy().appExited({ current: true, stopping: false }), {
      action: 'wait',
      reason: 'waiting for a change to restart it',
    });
  });

  it('is ignored when devhot stopped it, when it is not the serving one, or when devhot closes', () => {
    const p = policy({ restartOnCrash: true });
    assert.deepEqual(p.appExited({ current: true, stopping: true }), { action: 'ignore' });
    // A retired process, or a new one that exits while starting (a failed restart, reported as such).
    assert.deepEqual(p.appExited({ current: false, stopping: false }), { action: 'ignore' });
    p.close();
    assert.deepEqual(p.appExited({ current: true, stopping: false }), { action: 'ignore' });
  });

  it('--restart-on-crash: restarts with back-off doubling from 100 ms to at most 5 s, reset by a good restart', () => {
    const p = policy({ restartOnCrash: true });
    const waits = () => {
      const decision = p.appExited({ current: true, stopping: false });
      assert.equal(decision.action, 'restart');
      return decision.action === 'restart' ? decision : undefined;
    };
    const first = waits();
    assert.deepEqual(first, { action: 'restart', reason: 'restarting', restartReason: 'the app exited', afterMs: 100 });
    assert.deepEqual(
      [200, 400, 800, 1600, 3200, 5000, 5000].map(() => waits()!.afterMs),
      [200, 400, 800, 1600, 3200, 5000, 5000],
    );
    p.restartSucceeded();
    assert.equal(waits()!.afterMs, 100);
  });
});

describe('reloads and closing', () => {
  it('a reload runs in the app, or starts one when none runs', () => {
    assert.deepEqual(policy().reload(true), { action: 'reload' });
    assert.deepEqual(policy().reload(false), { action: 'restart', reason: 'reload requested, the app was not running' });
  });

  it('an update or reload the app cannot apply in-process asks for a restart with its reason', () => {
    const needs: UpdateResult = { status: 'needs-restart', rung: 'restart', reason: 'src/db.ts called decline()', files: [], duration: 0 };
    const applied: UpdateResult = { status: 'unchanged', files: [], duration: 0 };
    assert.equal(policy().afterUpdate(needs), 'src/db.ts called decline()');
    assert.equal(policy().afterUpdate(applied), undefined);
  });

  it('once closing, nothing starts: batches lead nowhere, restarts may not start', () => {
    const p = policy();
    assert.equal(p.mayStart, true);
    p.close();
    assert.equal(p.mayStart, false);
    assert.deepEqual(p.batch(changes('src/a.ts'), true), { action: 'none' });
    assert.deepEqual(p.batch(changes('.env'), false), { action: 'none' });
  });
});

describe('the batch a burst of saves adds up to', () => {
  it('one entry per file, in the order files first changed', () => {
    const set = new ChangeSet();
    for (const c of [change('b.ts'), change('a.ts'), change('b.ts')]) set.add(c);
    assert.deepEqual(set.list(), [change('b.ts'), change('a.ts')]);
    assert.equal(set.size, 2);
    assert.equal(set.has(`${ROOT}/a.ts`), true);
    set.clear();
    assert.deepEqual(set.list(), []);
  });

  it('a delete then a create is a change; a created file stays new; otherwise the last kind', () => {
    assert.equal(mergeKind('unlink', 'add'), 'change');
    assert.equal(mergeKind('add', 'change'), 'add');
    assert.equal(mergeKind('add', 'unlink'), 'unlink');
    assert.equal(mergeKind('change', 'unlink'), 'unlink');
    assert.equal(mergeKind(undefined, 'add'), 'add');
    assert.equal(mergeKind('change', 'change'), 'change');
  });
});

describe('saves that arrived while an update ran', () => {
  it('coalesce into one batch: one entry per file, kinds merged', () => {
    const arrived = [
      change('a.ts'),
      change('b.ts', 'unlink'),
      change('a.ts'),
      change('b.ts', 'add'),
      change('c.ts', 'add'),
      change('c.ts'),
    ];
    assert.deepEqual(coalesce(arrived), [change('a.ts'), change('b.ts'), change('c.ts', 'add')]);
  });
});
