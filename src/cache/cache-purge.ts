import { setImmediate as yieldToIo, setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { ReaderLatency } from './reader-latency.ts';

/** The smallest SCAN COUNT a paced purge goes down to: below it, a batch is mostly its own overhead. */
const MIN_COUNT = 10;
/** Readers' latencies are judged over this many reads, or this long when there are fewer. */
const WINDOW_READS = 1000;
const WINDOW_MS = 250;

/**
 * One batch, in Redis: SCAN, then UNLINK of what it found outside `keepPrefix`, timed by Redis's
 * own clock. The keys never travel to this process and back, and the batch is one command: one
 * round trip, and a stall whose length Redis measures.
 */
const PURGE_BATCH = `
local started = redis.call('TIME')
local scan = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
local keep = ARGV[4]
local doomed = {}
for _, key in ipairs(scan[2]) do
  if keep == '' or string.sub(key, 1, #keep) ~= keep then doomed[#doomed + 1] = key end
end
local deleted = 0
-- unpack's arguments are bounded (Lua's C stack): UNLINK a thousand at a time
for first = 1, #doomed, 1000 do
  deleted = deleted + redis.call('UNLINK', unpack(doomed, first, math.min(first + 999, #doomed)))
end
local ended = redis.call('TIME')
return { scan[1], #scan[2], deleted, (ended[1] - started[1]) * 1000000 + (ended[2] - started[2]) }`;

type PurgeBatchCommand = (cursor: string, match: string, count: number, keepPrefix: string) => Promise<[string, number, number, number]>;

/** What a purge did. */
export interface PurgeResult {
  /** Keys SCAN returned for the pattern. */
  matched: number;
  /** Keys UNLINKed. */
  deleted: number;
  /** Batches (one command each). */
  batches: number;
  /** Time Redis spent on the batches, by its own clock. */
  redisMs: number;
}

/** One batch as the purge saw it, after it adjusted its pace (for observers: tests, benchmarks). */
export interface PurgeBatch {
  /** SCAN COUNT of this batch. */
  count: number;
  /** Time Redis spent on it, by its own clock. */
  redisMs: number;
  /** SCAN COUNT of the next batch. */
  nextCount: number;
  /** Share of the time the purge works from now on. */
  duty: number;
  /** Reads judged after this batch (0 when none were), and how many of them were slowed. */
  reads: number;
  slowedReads: number;
}

/** How a background purge paces itself; see purgeKeys. */
export interface PurgePace {
  /** Time Redis may spend on one batch, by its own clock (ms). */
  batchMs: number;
  /** SCAN COUNT at most. */
  maxCount: number;
  /** Share of the time the purge works at most (on an idle Redis), and at least. */
  duty: number;
  minDuty: number;
  /** A read is slowed when it takes longer than this multiple of the readers' p99 before the purge. */
  slowdown: number;
  /** Share of the reads that may be slowed before the purge's share halves. */
  slowedShare: number;
}

export interface PurgeOptions {
  /** Keys matching the pattern that start with this prefix stay. */
  keepPrefix?: string;
  /** SCAN COUNT: how much of the keyspace each batch walks (without `pace`). */
  count?: number;
  /**
   * Paces the purge by what the readers it shares Redis with see:
   * - a batch holds Redis (single-threaded: a stall for every reader) for at most `batchMs`, by
   *   Redis's own clock: COUNT follows each batch's time, down at once, up by a quarter at most;
   * - after each batch it rests so as to take at most a share of Redis's time. That share follows the
   *   latencies of `readers`' reads (the cache's own reads), judged every 1000 reads or 250 ms:
   *   when more than `slowedShare` of them took longer than `slowdown` times the p99 of the reads
   *   before the purge started, it halves (down to `minDuty`), otherwise it grows back by a
   *   tenth (up to `duty`). Without readers (or with fewer than 100 reads before it), it works at `duty`.
   * Without `pace`, the purge runs flat out with `count`.
   */
  pace?: PurgePace;
  /** The reads the pace protects (Cache.readers). */
  readers?: ReaderLatency;
  /** Stops the purge between two batches (when the app closes). */
  signal?: AbortSignal;
  /** Called after every paced batch; the next one waits for what it returns (a benchmark pauses the purge so). */
  onBatch?: (batch: PurgeBatch) => void | Promise<void>;
}

/**
 * Deletes the keys matching `match` in batches: SCAN MATCH ... COUNT, then UNLINK of each batch,
 * in one Lua script per batch. Never KEYS, never FLUSHDB/FLUSHALL: Redis serves other clients
 * between batches, and keys outside the pattern are never touched. A failed batch (Redis gone,
 * a command timeout) rejects; the keys not reached stay for the next purge.
 */
export async function purgeKeys(redis: Redis, match: string, options: PurgeOptions = {}): Promise<PurgeResult> {
  const { keepPrefix = '', pace, readers, signal, onBatch } = options;
  const batch = purgeBatchCommand(redis);
  const result: PurgeResult = { matched: 0, deleted: 0, batches: 0, redisMs: 0 };
  let count = pace ? Math.min(pace.maxCount, 2 * MIN_COUNT) : (options.count ?? 1000);
  let duty = pace?.duty ?? 1;
  // the readers' p99 before the purge: what "slowed" is measured against
  const before = readers?.quantile(0.99);
  let judgedReads = readers?.total ?? 0;
  let judgedAt = performance.now();
  let rest = 0;
  let cursor = '0';
  do {
    signal?.throwIfAborted();
    const [next, matched, deleted, redisUs] = await batch(cursor, match, count, keepPrefix);
    cursor = String(next);
    result.matched += matched;
    result.deleted += deleted;
    result.batches++;
    result.redisMs += redisUs / 1000;
    if (!pace || cursor === '0') continue;

    const batchCount = count;
    const redisMs = redisUs / 1000;
    count = Math.max(MIN_COUNT, Math.min(pace.maxCount, Math.ceil(count * 1.25), Math.floor((count * pace.batchMs) / Math.max(redisMs, 0.001))));
    let reads = 0;
    let slowedReads = 0;
    const now = performance.now();
    if (readers && (readers.total - judgedReads >= WINDOW_READS || now - judgedAt >= WINDOW_MS)) {
      const latencies = readers.since(judgedReads);
      judgedReads = readers.total;
      judgedAt = now;
      reads = latencies.length;
      if (before !== undefined) for (const ms of latencies) if (ms > before * pace.slowdown) slowedReads++;
      duty = slowedReads > reads * pace.slowedShare ? Math.max(pace.minDuty, duty / 2) : Math.min(pace.duty, duty * 1.1);
    }
    await onBatch?.({ count: batchCount, redisMs, nextCount: count, duty, reads, slowedReads });
    // the share is of Redis's time, the one thing every reader waits for (the round trip also
    // holds this process's queue, which the readers' own work fills). Timers sleep whole
    // milliseconds: the rest owed is collected until it is one; meanwhile the readers' replies
    // that came in are handled before the next batch
    rest += (redisMs * (1 - duty)) / duty;
    if (rest >= 1) {
      await sleep(rest);
      rest = 0;
    } else {
      await yieldToIo();
    }
  } while (cursor !== '0');
  return result;
}

function purgeBatchCommand(redis: Redis): PurgeBatchCommand {
  const client = redis as Redis & { enerlinkPurgeBatch?: PurgeBatchCommand };
  // ioredis sends it with EVALSHA, and the script itself once when Redis does not have it
  if (!client.enerlinkPurgeBatch) redis.defineCommand('enerlinkPurgeBatch', { numberOfKeys: 0, lua: PURGE_BATCH });
  return client.enerlinkPurgeBatch!.bind(client);
}

/**
 * Deletes every entry of a cache namespace (`<namespace>:*`), whatever its generation, and
 * nothing else: the operators' purge (`npm run cache:purge`, `POST /admin/cache/purge`).
 */
export function purgeNamespace(redis: Redis, namespace: string): Promise<PurgeResult> {
  return purgeKeys(redis, `${namespace}:*`);
}
