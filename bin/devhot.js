#!/usr/bin/env node
// Only loads the built CLI; everything lives in dist/src/cli.js.
import '../dist/src/cli.js';
