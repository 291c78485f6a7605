// npm run bench:cache: purges 1M entries of an old schema generation while cached reads of
// the current generation go on, and compares those reads' latency while the purge works with
// the same reads while it rests (it is paused every other second), in the same run. Uses the Redis of REDIS_URL under a namespace of its own,
// which it removes at the end. BENCH_CACHE_KEYS, BENCH_CACHE_READERS and BENCH_CACHE_READS
// change the sizes.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { Cache } from '../src/cache/cache.ts';
import { BACKGROUND_PURGE_PACE } from '../src/cache/cache-invalidator.ts';
import { purgeKeys } from '../src/cache/cache-purge.ts';
import { schemaGeneration } from '../src/cache/schema-generation.ts';
import { loadConfigOrExit } from '../src/config.ts';
import { createRedis } from '../src/db/redis.ts';

const OLD_KEYS = Number(process.env.BENCH_CACHE_KEYS ?? 1_000_000);
const READERS = Number(process.env.BENCH_CACHE_READERS ?? 8);
const BASELINE_READS = Number(process.env.BENCH_CACHE_READS ?? 100_000);
const WORKING_SET = 10_000;
/** How long the purge works, then rests, in turn. */
const WORK_MS = 1000;
const REST_MS = 500;

const config = loadConfigOrExit();
const redis = createRedis(config);
await redis.connect();
const prefix = `enerlink_bench_${randomBytes(4).toString('hex')}`;
const cache = new Cache({ redis, prefix, ttlSeconds: 3600 });
const oldGeneration = schemaGeneration([{ id: 1, name: 'Migration1_Old' }]);
const currentGeneration = schemaGeneration([
  { id: 1, name: 'Migration1_Old' },
  { id: 2, name: 'Migration2_New' },
]);

/** A user entry as the service caches it. */
const userEntry = (n: number) => JSON.stringify({ userId: `user_${n}`, name: `User ${n}`, email: `user${n}@example.test` });

async function load(generation: string, count: number): Promise<number> {
  const started = performance.now();
  for (let start = 0; start < count; start += 10_000) {
    const pipeline = redis.pipeline();
    for (let n = start; n < Math.min(start + 10_000, count); n++) pipeline.set(cache.key('user', `user_${n}`, generation), userEntry(n), 'EX', 3600);
    await pipeline.exec();
  }
  return performance.now() - started;
}

let misses = 0;

/** Cached reads: their latencies (ns, HDR histogram: every read counts, nothing kept per read) and how long they read. */
interface Reads {
  latencies: RecordableHistogram;
  ms: number;
}

/**
 * Readers doing cached reads of the working set until `done()`; each read's latency goes to the
 * histogram `into()` names when the read starts, if it is the same when the read ends (a read
 * that straddles a change of phase counts nowhere).
 */
async function read(done: () => boolean, into: () => RecordableHistogram | undefined): Promise<number> {
  const started = performance.now();
  const reader = async () => {
    while (!done()) {
      const n = Math.floor(Math.random() * WORKING_SET);
      const histogram = into();
      const started = performance.now();
      await cache.getOrLoad('user', `user_${n}`, async () => {
        misses++;
        return JSON.parse(userEntry(n));
      });
      if (histogram && histogram === into()) histogram.record(Math.max(1, Math.round((performance.now() - started) * 1e6)));
    }
  };
  await Promise.all(Array.from({ length: READERS }, reader));
  return performance.now() - started;
}

const p99 = ({ latencies }: Reads) => latencies.percentile(99) / 1e6;

function describe({ latencies, ms }: Reads): string {
  const at = (percentile: number) => (latencies.percentile(percentile) / 1e6).toFixed(3);
  const perSecond = Math.round(latencies.count / (ms / 1000)).toLocaleString('en');
  return `${latencies.count.toLocaleString('en')} reads (${perSecond}/s), p50 ${at(50)} ms, p99 ${at(99)} ms, p99.9 ${at(99.9)} ms, max ${(latencies.max / 1e6).toFixed(3)} ms`;
}

try {
  const fill = await load(oldGeneration, OLD_KEYS);
  await load(currentGeneration, WORKING_SET);
  cache.useGeneration(currentGeneration);
  console.log(
    `loaded ${OLD_KEYS.toLocaleString('en')} old-generation entries in ${(fill / 1000).toFixed(1)} s, ` +
      `and ${WORKING_SET.toLocaleString('en')} current ones; ${READERS} concurrent readers of the current generation`,
  );

  const warmUp = createHistogram();
  await read(() => warmUp.count >= 10_000, () => warmUp);
  const before: Reads = { latencies: createHistogram(), ms: 0 };
  before.ms = await read(() => before.latencies.count >= BASELINE_READS, () => before.latencies);

  // The purge the service runs in the background after a schema change (CacheInvalidator.drain),
  // in the readers' process and on their connection, as in the service. It is paused for REST_MS
  // after every WORK_MS: the reads while it works and the reads while it rests alternate, so that the
  // machine's load at any moment weighs on both sides alike. A read counts while the purge
  // works ("during") or rests ("without"), none while it finishes its batch before pausing.
  const during = createHistogram();
  const without = createHistogram();
  let phase: 'working' | 'pausing' | 'resting' = 'working';
  let resume: (() => void) | undefined;
  let purging = true;
  let workedMs = 0;
  let lowestDuty = BACKGROUND_PURGE_PACE.duty;
  const purgeStarted = performance.now();
  const purge = purgeKeys(redis, cache.namespacePattern, {
    keepPrefix: cache.generationPrefix(currentGeneration),
    pace: BACKGROUND_PURGE_PACE,
    readers: cache.readers,
    onBatch: async ({ duty }) => {
      lowestDuty = Math.min(lowestDuty, duty);
      if (phase !== 'pausing') return;
      phase = 'resting';
      await new Promise<void>(resolve => (resume = resolve));
    },
  }).finally(() => {
    purging = false;
    resume?.();
  });
  const alternate = (async () => {
    while (purging) {
      const working = performance.now();
      await sleep(WORK_MS);
      workedMs += performance.now() - working;
      if (!purging) break;
      phase = 'pausing';
      while (phase === 'pausing' && purging) await sleep(1);
      await sleep(REST_MS);
      phase = 'working';
      resume?.();
      resume = undefined;
    }
  })();
  const readMs = await read(
    () => !purging,
    () => (phase === 'working' ? during : phase === 'resting' ? without : undefined),
  );
  await alternate;
  const { deleted, matched, batches, redisMs } = await purge;
  const purgeMs = performance.now() - purgeStarted;
  const duringReads: Reads = { latencies: during, ms: workedMs };
  const withoutReads: Reads = { latencies: without, ms: readMs - workedMs };

  console.log(
    `purge: ${deleted.toLocaleString('en')} old-generation keys deleted in ${(purgeMs / 1000).toFixed(2)} s, working ${(workedMs / 1000).toFixed(2)} s of it ` +
      `(${batches.toLocaleString('en')} batches of ${Math.round(matched / batches)} keys on average, Redis busy with them ${(redisMs / 1000).toFixed(2)} s = ${((100 * redisMs) / workedMs).toFixed(1)}% of the working time; ` +
      `share of the time allowed ${BACKGROUND_PURGE_PACE.minDuty * 100}-${BACKGROUND_PURGE_PACE.duty * 100}%, lowest reached ${(lowestDuty * 100).toFixed(1)}%; ` +
      `${matched.toLocaleString('en')} matched)`,
  );
  console.log(`cached reads before the purge: ${describe(before)}`);
  console.log(`cached reads while the purge rests (without): ${describe(withoutReads)}`);
  console.log(`cached reads while the purge works (during):  ${describe(duringReads)}`);
  console.log(`p99 during / p99 without: ${(p99(duringReads) / p99(withoutReads)).toFixed(2)} (goal <= 1.5)`);
  const kept = await redis.exists(...Array.from({ length: WORKING_SET }, (_, n) => cache.key('user', `user_${n}`)));
  console.log(`current generation: ${kept.toLocaleString('en')} of ${WORKING_SET.toLocaleString('en')} entries kept`);
  if (misses > 0) console.log(`(${misses} reads missed the cache)`);
} finally {
  await purgeKeys(redis, cache.namespacePattern);
  redis.disconnect();
}
