import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';

/** The smallest SCAN COUNT a paced purge goes down to: below it, round trips cost more than the keys. */
const MIN_COUNT = 20;

/** What a purge did. */
export interface PurgeResult {
  /** Keys SCAN returned for the pattern. */
  matched: number;
  /** Keys UNLINKed. */
  deleted: number;
}

export interface PurgeOptions {
  /** Keys matching the pattern that must stay. */
  keep?: (key: string) => boolean;
  /** SCAN COUNT: how much of the keyspace each round trip walks. */
  count?: number;
  /**
   * Paces the purge by what the readers it shares Redis with see: each round trip (SCAN +
   * UNLINK, COUNT at most `maxCount`) should take at most `roundTripMs`, so COUNT shrinks when one takes longer (Redis
   * is single-threaded: a long command is a stall for every reader) and grows back when rounds
   * are quick; and after each batch it rests, so as to work at most `duty` of the time. That
   * share follows a reader's latency: a PING after each batch, as a reader would send it,
   * timed against the fastest of 9 before the purge started; while readers see Redis slower
   * than that (by half again), the share halves, down to `minDuty`, and it grows back by a
   * quarter a batch when they do not: flat out on an idle Redis, gently beside busy readers. Without `pace`, the purge runs flat out with `count`.
   */
  pace?: { roundTripMs: number; duty: number; minDuty: number; maxCount: number };
  /** Stops the purge between two batches (when the app closes). */
  signal?: AbortSignal;
}

/**
 * Deletes the keys matching `match` in batches: SCAN MATCH ... COUNT, then UNLINK (freed in
 * Redis's background thread) of each batch. Never KEYS, never FLUSHDB/FLUSHALL: Redis keeps
 * serving other clients between batches, and keys outside the pattern are never touched.
 */
export async function purgeKeys(redis: Redis, match: string, options: PurgeOptions = {}): Promise<PurgeResult> {
  const { keep, pace, signal } = options;
  const maxCount = pace?.maxCount ?? options.count ?? 1000;
  const result: PurgeResult = { matched: 0, deleted: 0 };
  let count = pace ? Math.min(maxCount, 100) : maxCount;
  let duty = pace?.duty ?? 1;
  // what a reader waits for a PING when the purge is not in the way (the fastest of 9)
  const readerMs = pace ? Math.min(...(await sequence(9, () => timePing(redis)))) : 0;
  let cursor = '0';
  do {
    signal?.throwIfAborted();
    const started = performance.now();
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', count);
    cursor = next;
    result.matched += keys.length;
    const doomed = keep ? keys.filter(key => !keep(key)) : keys;
    if (doomed.length > 0) result.deleted += await redis.unlink(...doomed);
    if (pace && cursor !== '0') {
      const took = performance.now() - started;
      if (took > pace.roundTripMs) count = Math.max(MIN_COUNT, Math.floor(count / 2));
      else if (took < pace.roundTripMs / 2) count = Math.min(maxCount, Math.ceil(count * 1.25));
      const seenMs = await timePing(redis);
      duty = seenMs > readerMs * 1.5 ? Math.max(pace.minDuty, duty / 2) : Math.min(pace.duty, duty * 1.25);
      await sleep((took * (1 - duty)) / duty);
    }
  } while (cursor !== '0');
  return result;
}

async function sequence<T>(times: number, run: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let n = 0; n < times; n++) results.push(await run());
  return results;
}

async function timePing(redis: Redis): Promise<number> {
  const started = performance.now();
  await redis.ping();
  return performance.now() - started;
}

/**
 * Deletes every entry of a cache namespace (`<namespace>:*`), whatever its generation, and
 * nothing else: the operators' purge (`npm run cache:purge`, `POST /admin/cache/purge`).
 */
export function purgeNamespace(redis: Redis, namespace: string): Promise<PurgeResult> {
  return purgeKeys(redis, `${namespace}:*`);
}
