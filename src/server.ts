// npm start: the enerlink service process (see runAsProcess for its lifecycle).
import { loadConfigOrExit } from './config.ts';
import { runAsProcess } from './lifecycle/startup.ts';

await runAsProcess({ config: loadConfigOrExit() });
