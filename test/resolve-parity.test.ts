/**
 * What a specifier resolves to on disk, as Node sees it: each fixture runs under plain `node`
 * and under devhot's runner (helpers/differential.ts). devhot lists a directory once while it
 * discovers a module graph instead of asking about each file (dir-listing.ts); these fixtures
 * change the disk under it, and link files, and must still end as under node.
 *
 * node and devhot run side by side in one directory, so a fixture that writes or deletes files
 * names them after its engine (`process.argv[2]` of the driver: 'node' or 'devhot').
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sameAsNode } from './helpers/differential.js';

const ENGINE = 'const engine = process.argv[2];';
const SHOW = `const show = (label, e) => console.log(label, e?.constructor?.name, e?.code ?? '-');`;

describe('resolution against the disk, as node sees it', () => {
  it('a file written by top-level code into a directory already read is imported; a deleted one is not', async () => {
    const out = await sameAsNode({
      'lib/a.js': `export const a = 'a';\n`,
      'lib/doomed-node.js': `export const d = 'node';\n`,
      'lib/doomed-devhot.js': `export const d = 'devhot';\n`,
      'main.js': [
        `import { writeFileSync, unlinkSync } from 'node:fs';`,
        `import { a } from './lib/a.js';`,
        ENGINE,
        SHOW,
        `writeFileSync(new URL(\`./lib/made-\${engine}.js\`, import.meta.url), 'export const made = 42;\\n');`,
        `console.log(a, (await import(\`./lib/made-\${engine}.js\`)).made);`,
        `unlinkSync(new URL(\`./lib/doomed-\${engine}.js\`, import.meta.url));`,
        `try { await import(\`./lib/doomed-\${engine}.js\`); console.log('deleted file imported'); } catch (e) { show('deleted', e); }`,
      ].join('\n'),
    });
    assert.deepEqual(out.lines, ['a 42', 'deleted Error ERR_MODULE_NOT_FOUND']);
  });

  it('a linked file and a linked directory are the module at their real path, run once', async () => {
    const out = await sameAsNode({
      'real/shared.js': `console.log('shared evaluated');\nexport const where = new URL(import.meta.url).pathname.split('/').slice(-2).join('/');\n`,
      'real/other.js': `export { where } from './shared.js';\n`,
      'linked.js': { symlink: 'real/shared.js' },
      dirlink: { symlink: 'real' },
      'main.js': [
        `import * as direct from './real/shared.js';`,
        `import * as byFile from './linked.js';`,
        `import * as byDir from './dirlink/shared.js';`,
        `console.log(direct.where, direct === byFile, direct === byDir);`,
        `const late = await import('./dirlink/other.js');`,
        `console.log('late', late.where, (await import('./linked.js')) === direct);`,
      ].join('\n'),
    });
    assert.deepEqual(out.lines, ['shared evaluated', 'real/shared.js true true', 'late real/shared.js true']);
  });

  it('a name in another case, or missing, is not found', async () => {
    const out = await sameAsNode({
      'lib/Config.js': `export const c = 1;\n`,
      'main.js': [
        SHOW,
        `for (const s of ['./lib/config.js', './lib/CONFIG.js', './lib/Config.mjs', './nolib/Config.js', './lib/Config.js/x.js']) {`,
        `  try { await import(s); console.log(s, 'found'); } catch (e) { show(s, e); }`,
        `}`,
        `console.log((await import('./lib/Config.js')).c);`,
      ].join('\n'),
    });
    assert.equal(out.lines.at(-1), '1');
    // A case-insensitive file system (macOS, Windows) finds the first two, under node as well.
    if (process.platform === 'linux') assert.equal(out.lines.filter((l) => l.endsWith('ERR_MODULE_NOT_FOUND')).length, 5);
  });
});
