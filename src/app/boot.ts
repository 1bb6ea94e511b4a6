/**
 * The app process's first module: Node's compile cache (Node >= 22.1; absent on 20) before
 * anything else loads, so devhot's own modules and the app's packages, which Node loads (express,
 * @nestjs/*), skip V8's compilation on every start after the first, and on every restart. Loading
 * @nestjs/core, common, platform-express and express took 335-451 ms without it and 295-298 ms
 * with it; devhot's runner 137-144 ms and 104-112 ms (Node 24.22, 2 cores, 2026-11-30).
 * Node's own switch turns it off: NODE_DISABLE_COMPILE_CACHE=1. Node writes it at a process's
 * own exit, which the app never makes: main.ts writes it when the app is stopped
 * (`flushCompileCache`). And the flags the supervisor starts it with (shared/app-flags.ts)
 * leave `process.execArgv`.
 *
 * The build makes `./main.js` one module, with the runner and everything else of devhot's it
 * imports (scripts/bundle.mjs): Node 20 loaded the ~90 files in 75-100 ms of every start,
 * the one file takes 30-45 ms (Node 20, 2 cores, 2026-12-01; spawn -> first response at 3,000
 * modules 1,001 -> 981 ms, median of 12 alternating pairs).
 */
import module from 'node:module';
import { isAppFlag } from '../shared/app-flags.js';

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
// The flags the supervisor adds are devhot's, not the app's: its process.execArgv is plain node's.
for (let i = process.execArgv.length - 1; i >= 0; i--) if (isAppFlag(process.execArgv[i]!)) process.execArgv.splice(i, 1);
await import('./main.js');
