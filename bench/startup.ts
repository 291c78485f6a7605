// npm run bench:startup: time from process start to a 200 from /health/ready, with the
// production defaults (NODE_ENV=production, its logging), for
// - enerlink with nothing pending, MIGRATIONS_RUN=false (production's default) and =true;
// - the baseline: Fastify + MikroORM mapping the same entities and connecting (bench/fixtures/orm-server.ts);
// - a bare Fastify server with a pg connection (bench/fixtures/bare-server.ts), for reference.
// Runs alternate in the same process; prints each one's runs, the medians and the ratios.
// BENCH_STARTUP_RUNS sets the runs of each (7).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
  const secret = () => randomBytes(32).toString('hex');
  const production = {
    NODE_ENV: 'production',
    DATABASE_URL: db.url,
    PORT: '0',
    JWT_SECRET: secret(),
    ADMIN_TOKEN: secret(),
    PAYMENT_WEBHOOK_SECRET: secret(),
    CACHE_PREFIX: `enerlink_bench_startup_${randomBytes(4).toString('hex')}`,
  };
  const variants = {
    bare: { label: 'bare Fastify + pg connect', args: ['bench/fixtures/bare-server.ts', db.url], env: production },
    orm: { label: 'Fastify + MikroORM connect, same entities', args: ['bench/fixtures/orm-server.ts', db.url], env: production },
    enerlink: { label: 'enerlink, nothing pending', args: ['src/server.ts'], env: production },
    migrating: { label: 'enerlink, MIGRATIONS_RUN=true, nothing pending', args: ['src/server.ts'], env: { ...production, MIGRATIONS_RUN: 'true' } },
  };
  const times = Object.fromEntries(Object.keys(variants).map(name => [name, [] as number[]])) as Record<keyof typeof variants, number[]>;
  for (let run = 0; run < RUNS; run++) {
    for (const [name, { args, env }] of Object.entries(variants)) times[name as keyof typeof variants].push(await timeToReady(args, env));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(`start to ready (200 from /health/ready), NODE_ENV=production, ${RUNS} runs each, alternating:`);
  for (const [name, { label }] of Object.entries(variants)) {
    const values = times[name as keyof typeof variants];
    console.log(`  ${`${label}:`.padEnd(50)} median ${median(values).toFixed(0).padStart(5)} ms  (${values.map(ms => ms.toFixed(0)).join(' / ')})`);
  }
  const ratio = (name: keyof typeof variants, baseline: keyof typeof variants) => (median(times[name]) / median(times[baseline])).toFixed(2);
  console.log(`ratio enerlink / Fastify + MikroORM: ${ratio('enerlink', 'orm')} (MIGRATIONS_RUN=true: ${ratio('migrating', 'orm')}; goal <= 1.5)`);
  console.log(`ratio enerlink / bare Fastify + pg:  ${ratio('enerlink', 'bare')} (MIGRATIONS_RUN=true: ${ratio('migrating', 'bare')})`);
} finally {
  await db.drop();
}
