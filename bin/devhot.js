#!/usr/bin/env node
// Forks the first app process, then loads the built CLI: everything lives in dist/src/cli.js.
// Node's compile cache first (Node >= 22.1): devhot's own modules then load without V8 compiling
// them again (src/app/boot.ts).
import module from 'node:module';
import v8 from 'node:v8';

module.enableCompileCache?.();
// The first app process before anything else of devhot's loads: it boots while the command and the
// supervisor load (dist/src/supervisor/app-fork.js says when it does not).
const { forkEarlyFor } = await import('../dist/src/supervisor/app-fork.js');
forkEarlyFor(process.argv.slice(2));
// This process (the supervisor, or a tool command) keeps V8's young generation at its first
// size: V8 grows it while much of what it allocates survives, as the watcher's first look at the
// project does, and then keeps the pages. At 3,000 modules its new space had grown to 8 MB, 1-1.5
// MB of it in use, on Node 20 and 24 alike. A flag V8 reads when it grows the space, so setting it
// here works (the heap's own sizes cannot be changed once the process runs). The supervisor after
// the CLI bench's edits at 3,000 modules: 70.9 -> 68.9 MB RSS on Node 20, 82.5 -> 78.7 MB on Node
// 24; its CPU to the first response the same, 410 ms, and warm starts within the hour's noise
// (memory-pairs and start-pairs benches, 2026-12-02).
v8.setFlagsFromString('--semi-space-growth-factor=1');
// Nor does it run V8's optimising compilers, which V8 checks each time a function gets hot. The
// supervisor's JavaScript is short bursts (a save's events, IPC, the channel), and user code never
// runs here. Their own code in the node binary is what it saves: the pages TurboFan and Maglev
// touch stay in the RSS. After the CLI bench's edits at 3,000 modules the supervisor took 74.7 ->
// 64.9 MB on Node 24, 71.7 -> 63.7 MB on Node 22, 58.7 -> 52.5 MB on Node 20, and 140-170 ms of
// CPU to the first response instead of 180-200 (2026-12-02). `--max-opt=0` does the same only on
// the command line; set from here V8 had already decided by it.
v8.setFlagsFromString('--no-turbofan');
v8.setFlagsFromString('--no-maglev');
await import('../dist/src/cli.js');
