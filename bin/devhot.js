#!/usr/bin/env node
// Only loads the built CLI; everything lives in dist/src/cli.js. Node's compile cache first
// (Node >= 22.1): devhot's own modules then load without V8 compiling them again (src/app/boot.ts).
import module from 'node:module';

module.enableCompileCache?.();
await import('../dist/src/cli.js');
