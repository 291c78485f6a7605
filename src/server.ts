// npm start: the enerlink service process (see runAsProcess for its lifecycle).
import { enableCompileCache } from 'node:module';
import { performance } from 'node:perf_hooks';

// Node keeps what it compiled of every module (V8 code, TypeScript stripped of its types) in
// a cache on disk, so a restart skips most of the compiling: a third of the time to ready
// (bench:startup). Before the imports below, which are all dynamic for that reason. Its
// directory is NODE_COMPILE_CACHE, or node-compile-cache in the OS's temporary directory; where
// that cannot be written it is simply off, and NODE_DISABLE_COMPILE_CACHE=1 turns it off.
enableCompileCache();

// the startup log line reports these with the other phases (bench:startup prints them)
const loading = performance.now();
const { loadConfigOrExit } = await import('./config.ts');
const { runAsProcess } = await import('./lifecycle/startup.ts');
const configuring = performance.now();
const config = loadConfigOrExit();

await runAsProcess({ config, phases: { boot: loading, modules: configuring - loading, config: performance.now() - configuring } });
