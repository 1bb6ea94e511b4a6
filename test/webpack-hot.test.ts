/**
 * webpack's `module.hot` in CommonJS TypeScript (issue #10.6): the NestJS docs' HMR recipe works
 * as written, and the rest of the API maps onto import.meta.hot.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { G, expectStatus, startProject } from './helpers/project.js';

describe('module.hot in a CommonJS module', () => {
  it("the NestJS recipe: accept() and dispose(() => app.close()) close the old app; data is webpack's", async (t) => {
    const { project, runner } = await startProject(
      t,
      {
        'app.ts': `export function makeApp() { return { version: 'v1', closed: false }; }\n`,
        'main.ts': [
          `import { makeApp } from './app';`,
          `declare const module: any;`,
          `const app = makeApp();`,
          `(globalThis as any).__t_apps = [...((globalThis as any).__t_apps ?? []), app];`,
          `(globalThis as any).__t_data = [...((globalThis as any).__t_data ?? []), module.hot.data];`,
          `if (module.hot) {`,
          `  module.hot.accept();`,
          `  module.hot.dispose((data: any) => { app.closed = true; data.closes = (data.closes ?? 0) + 1; });`,
          `}`,
        ].join('\n'),
      },
      { esm: false },
    );
    t.after(() => {
      delete G.__t_apps;
      delete G.__t_data;
    });
    expectStatus(await runner.update([project.edit('app.ts', 'v1', 'v2')]), 'applied');
    expectStatus(await runner.update([project.edit('app.ts', 'v2', 'v3')]), 'applied');
    assert.deepEqual(
      G.__t_apps.map((a: { version: string; closed: boolean }) => [a.version, a.closed]),
      [
        ['v1', true],
        ['v2', true],
        ['v3', false],
      ],
    );
    assert.equal(G.__t_data[0], undefined, 'data is undefined on the first run, as in webpack');
    assert.deepEqual(G.__t_data.slice(1), [{ closes: 2 }, { closes: 2 }], 'then the object the dispose handlers filled (one per module)');
  });

  it('accept(deps, callback) stops the update at the importer, which gets the list; decline() asks for a restart', async (t) => {
    const { project, runner } = await startProject(
      t,
      {
        'routes.ts': `export const route = 'r1';\n`,
        'config.ts': `declare const module: any;\nmodule.hot.decline();\nexport const port = 1;\n`,
        'main.ts': [
          `import * as routes from './routes';`,
          `import { port } from './config';`,
          `declare const module: any;`,
          `(globalThis as any).__t_runs = ((globalThis as any).__t_runs ?? 0) + 1;`,
          `module.hot.accept('./routes', (deps: string[]) => { (globalThis as any).__t_accepted = [deps, require('./routes').route]; });`,
          `export const used = [routes, port];`,
        ].join('\n'),
      },
      { esm: false },
    );
    t.after(() => {
      delete G.__t_runs;
      delete G.__t_accepted;
    });
    expectStatus(await runner.update([project.edit('routes.ts', 'r1', 'r2')]), 'applied');
    assert.equal(G.__t_runs, 1, 'the importer is not re-executed');
    assert.deepEqual(G.__t_accepted, [['./routes'], 'r2']);
    const declined = expectStatus(await runner.update([project.edit('config.ts', 'port = 1', 'port = 2')]), 'needs-restart');
    assert.match(declined.reason, /config\.ts/);
  });
});
