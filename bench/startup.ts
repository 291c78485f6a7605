// npm run bench:startup: time from process start to a 200 from /health/ready, for enerlink
// with nothing pending and for a bare Fastify server that only connects to the database,
// alternating runs in the same process; prints the medians and their ratio.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createOrm } from '../src/orm.ts';
import { migratorOf } from '../src/schema/enerlink-migrator.ts';
import { createTestDatabase } from '../test/helper.ts';

const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 7);
const root = new URL('..', import.meta.url).pathname;

async function timeToReady(args: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', chunk => (output += chunk));
  try {
    for (;;) {
      const port = /Server listening at http:\/\/[^:]+:(\d+)/.exec(output)?.[1];
      if (port) {
        const response = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined);
        if (response?.status === 200) return performance.now() - started;
      }
      if (child.exitCode !== null) throw new Error(`exited early: ${output}`);
      await sleep(5);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise(resolve => child.once('exit', resolve));
  }
}

const db = await createTestDatabase('bench_startup');
try {
  const orm = await createOrm(db.config, { migrations: { silent: true } });
  await migratorOf(orm).up();
  await orm.close();
  const env = { DATABASE_URL: db.url, PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'development' };
  const enerlink: number[] = [];
  const bare: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    bare.push(await timeToReady(['bench/fixtures/bare-server.ts', db.url], env));
    enerlink.push(await timeToReady(['src/server.ts'], env));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(`bare Fastify + PostgreSQL connect: ${bare.map(ms => ms.toFixed(0)).join(' / ')} ms, median ${median(bare).toFixed(0)} ms`);
  console.log(`enerlink, nothing pending:         ${enerlink.map(ms => ms.toFixed(0)).join(' / ')} ms, median ${median(enerlink).toFixed(0)} ms`);
  console.log(`ratio enerlink / bare: ${(median(enerlink) / median(bare)).toFixed(2)}`);
} finally {
  await db.drop();
}
