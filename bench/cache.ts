// npm run bench:cache: purges 1M entries of an old schema generation while cached reads of
// the current generation go on, and compares those reads' latency with the same reads
// without a purge, in the same run. Uses the Redis of REDIS_URL under a namespace of its own,
// which it removes at the end. BENCH_CACHE_KEYS, BENCH_CACHE_READERS and BENCH_CACHE_READS
// change the sizes.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
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
/** Readers doing cached reads of the working set until `done()`; returns each read's latency in ms, and how long they read. */
async function read(done: (reads: number) => boolean): Promise<{ latencies: number[]; ms: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  const reader = async () => {
    while (!done(latencies.length)) {
      const n = Math.floor(Math.random() * WORKING_SET);
      const started = performance.now();
      await cache.getOrLoad('user', `user_${n}`, async () => {
        misses++;
        return JSON.parse(userEntry(n));
      });
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: READERS }, reader));
  return { latencies, ms: performance.now() - started };
}

function p99({ latencies }: { latencies: number[] }): number {
  const sorted = [...latencies].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))];
}

function describe({ latencies, ms }: { latencies: number[]; ms: number }): string {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(3);
  const perSecond = Math.round(sorted.length / (ms / 1000)).toLocaleString('en');
  return `${sorted.length.toLocaleString('en')} reads (${perSecond}/s), p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${sorted.at(-1)!.toFixed(3)} ms`;
}

try {
  const fill = await load(oldGeneration, OLD_KEYS);
  await load(currentGeneration, WORKING_SET);
  cache.useGeneration(currentGeneration);
  console.log(
    `loaded ${OLD_KEYS.toLocaleString('en')} old-generation entries in ${(fill / 1000).toFixed(1)} s, ` +
      `and ${WORKING_SET.toLocaleString('en')} current ones; ${READERS} concurrent readers of the current generation`,
  );

  await read(reads => reads >= 10_000); // warm-up
  const baseline = await read(reads => reads >= BASELINE_READS);

  let purging = true;
  const purgeStarted = performance.now();
  // the purge the service runs in the background after a schema change (CacheInvalidator.drain)
  const purge = purgeKeys(redis, cache.namespacePattern, {
    keep: key => cache.generationOf(key) === currentGeneration,
    pace: BACKGROUND_PURGE_PACE,
  }).finally(() => {
    purging = false;
  });
  const during = await read(() => !purging);
  const { deleted, matched } = await purge;
  const purgeMs = performance.now() - purgeStarted;

  console.log(
    `purge: ${deleted.toLocaleString('en')} old-generation keys deleted in ${(purgeMs / 1000).toFixed(2)} s ` +
      `(SCAN MATCH ${prefix}:* + UNLINK, paced to round trips of ${BACKGROUND_PURGE_PACE.roundTripMs} ms, working ${BACKGROUND_PURGE_PACE.minDuty * 100}-${BACKGROUND_PURGE_PACE.duty * 100}% of the time by readers' latency; ` +
      `${matched.toLocaleString('en')} matched, current generation kept)`,
  );
  console.log(`cached reads without a purge: ${describe(baseline)}`);
  console.log(`cached reads during the purge: ${describe(during)}`);
  console.log(`p99 during / p99 without: ${(p99(during) / p99(baseline)).toFixed(2)} (goal <= 1.5)`);
  if (misses > 0) console.log(`(${misses} reads missed the cache)`);
} finally {
  await purgeKeys(redis, cache.namespacePattern);
  redis.disconnect();
}
