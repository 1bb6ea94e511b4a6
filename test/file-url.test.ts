/**
 * The fast form of an ES module's URL (src/runner/file-url.ts) is Node's `pathToFileURL` for
 * every path, the plain ones it builds itself and the others it hands over.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { fileUrlOf } from '../src/runner/file-url.js';

test("fileUrlOf gives what node's pathToFileURL gives", () => {
  const paths = [
    '/app/src/server.ts',
    '/app/node_modules/@scope/pkg/index.js',
    "/a'b/(c)/d@e+f,g;h=i&j$k!l.ts",
    '/home/me/~/x.ts',
    '/with space/x.ts',
    '/hash#dir/x.ts',
    '/per%cent/x.ts',
    '/q?mark/x.ts',
    '/caf\u00e9/x.ts',
    '/back\\slash/x.ts',
    '/br[ack]ets/{x}/y|z^w`v"u<t>.ts',
    '/tab\there/x.ts',
    '/new\nline/x.ts',
  ];
  for (const path of paths) assert.equal(fileUrlOf(path), pathToFileURL(path).href, JSON.stringify(path));
});
