// npm run bench:startup: time from process start to a 200 from /health/ready, with the
// production defaults (NODE_ENV=production, its logging), for
// - enerlink with nothing pending, MIGRATIONS_RUN=false (production's default) and =true, with
//   the compile cache src/server.ts turns on (and once more with it off);
// - the baseline: Fastify + MikroORM mapping the same entities and connecting (bench/fixtures/orm-server.ts),
//   as written (no compile cache) and with the compile cache on too;
// - a bare Fastify server with a pg connection (bench/fixtures/bare-server.ts), for reference.
// Runs alternate in the same process; prints each one's runs, the medians and the ratios, and
// the median of each startup phase enerlink logs (its `started` line).
// BENCH_STARTUP_RUNS sets the runs of each (7).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createOrm } from '../src/orm.ts';
import { createTestDatabase, migrateTestDatabase } from '../test/helper.ts';

const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 7);
const TIMEOUT_MS = 60_000;
const root = new URL('..', import.meta.url).pathname;

interface Start {
  ms: number;
  /** The phases of enerlink's `started` log line, in ms (none for the baselines). */
  phases: Record<string, number>;
}

async function timeToReady(args: string[], env: Record<string, string>): Promise<Start> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', chunk => (output += chunk));
  try {
    for (;;) {
      const port = /Server listening at http:\/\/[^:]+:(\d+)/.exec(output)?.[1];
      if (port) {
        const response = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined);
        if (response?.status === 200) return { ms: performance.now() - started, phases: startedLine(output)?.phases ?? {} };
      }
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited early: ${output}`);
      if (performance.now() - started > TIMEOUT_MS) throw new Error(`not ready after ${TIMEOUT_MS} ms: ${output}`);
      await sleep(5);
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise(resolve => child.once('exit', resolve));
      // a service still starting finishes its startup before it stops: SIGKILL after a while
      child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(forced);
    }
  }
}

function startedLine(output: string): { phases: Record<string, number> } | undefined {
  const line = output.split('\n').find(text => text.startsWith('{') && text.includes('"msg":"started"'));
  return line ? JSON.parse(line) : undefined;
}

const cacheRoot = mkdtempSync(join(tmpdir(), 'enerlink-bench-startup-'));
const db = await createTestDatabase('bench_startup');
try {
  const orm = await createOrm(db.config, { migrations: { silent: true } });
  await migrateTestDatabase(orm); // with the reference data, as a deployed database has
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
  // enerlink keeps Node's compile cache (src/server.ts); each side gets a directory of its own here
  const compileCache = (name: string) => ({ NODE_COMPILE_CACHE: join(cacheRoot, name) });
  const variants = {
    bare: { label: 'bare Fastify + pg connect', args: ['bench/fixtures/bare-server.ts', db.url], env: production },
    orm: { label: 'Fastify + MikroORM connect, same entities', args: ['bench/fixtures/orm-server.ts', db.url], env: production },
    ormCached: { label: '  the same with the compile cache on', args: ['bench/fixtures/orm-server.ts', db.url], env: { ...production, ...compileCache('orm') } },
    enerlink: { label: 'enerlink, nothing pending', args: ['src/server.ts'], env: { ...production, ...compileCache('enerlink') } },
    migrating: {
      label: 'enerlink, MIGRATIONS_RUN=true, nothing pending',
      args: ['src/server.ts'],
      env: { ...production, ...compileCache('enerlink'), MIGRATIONS_RUN: 'true' },
    },
    uncached: { label: '  enerlink with NODE_DISABLE_COMPILE_CACHE=1', args: ['src/server.ts'], env: { ...production, NODE_DISABLE_COMPILE_CACHE: '1' } },
  };
  const times = Object.fromEntries(Object.keys(variants).map(name => [name, [] as number[]])) as Record<keyof typeof variants, number[]>;
  const phases = Object.fromEntries(Object.keys(variants).map(name => [name, [] as Array<Record<string, number>>])) as Record<keyof typeof variants, Array<Record<string, number>>>;
  // one round first, not counted: it fills the compile caches and the OS's file cache
  for (const { args, env } of Object.values(variants)) await timeToReady(args, env);
  for (let run = 0; run < RUNS; run++) {
    for (const [name, { args, env }] of Object.entries(variants)) {
      const start = await timeToReady(args, env);
      times[name as keyof typeof variants].push(start.ms);
      phases[name as keyof typeof variants].push(start.phases);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(`start to ready (200 from /health/ready), NODE_ENV=production, ${RUNS} runs each, alternating:`);
  for (const [name, { label }] of Object.entries(variants)) {
    const values = times[name as keyof typeof variants];
    console.log(`  ${`${label}:`.padEnd(52)} median ${median(values).toFixed(0).padStart(5)} ms  (${values.map(ms => ms.toFixed(0)).join(' / ')})`);
  }
  console.log('enerlink\'s phases (median ms; boot: Node and src/server.ts, modules: loading the service, then each step of startService up to listening):');
  for (const name of ['enerlink', 'migrating', 'uncached'] as const) {
    const names = [...new Set(phases[name].flatMap(Object.keys))];
    const medians = names.map(phase => `${phase} ${median(phases[name].map(run => run[phase] ?? 0))}`);
    console.log(`  ${`${variants[name].label.trim()}:`.padEnd(52)} ${medians.join(', ')}`);
  }
  const ratio = (name: keyof typeof variants, baseline: keyof typeof variants) => (median(times[name]) / median(times[baseline])).toFixed(2);
  console.log(`ratio enerlink / Fastify + MikroORM: ${ratio('enerlink', 'orm')} (MIGRATIONS_RUN=true: ${ratio('migrating', 'orm')}; goal <= 1.5)`);
  console.log(`  both with the compile cache: ${ratio('enerlink', 'ormCached')}; both without: ${ratio('uncached', 'orm')}`);
  console.log(`ratio enerlink / bare Fastify + pg:  ${ratio('enerlink', 'bare')} (MIGRATIONS_RUN=true: ${ratio('migrating', 'bare')})`);
} finally {
  await db.drop();
  rmSync(cacheRoot, { recursive: true, force: true });
}
