/**
 * The app process's first module: Node's compile cache (Node >= 22.1; absent on 20) before
 * anything else loads, so devhot's own modules and the app's packages, which Node loads (express,
 * @nestjs/*), skip V8's compilation on every start after the first, and on every restart. Loading
 * @nestjs/core, common, platform-express and express took 335-451 ms without it and 295-298 ms
 * with it; devhot's runner 137-144 ms and 104-112 ms (Node 24.22, 2 cores, 2026-11-30).
 * Node's own switch turns it off: NODE_DISABLE_COMPILE_CACHE=1.
 */
import module from 'node:module';

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
await import('./main.js');
