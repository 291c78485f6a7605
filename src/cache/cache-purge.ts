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
   * UNLINK) should take at most `roundTripMs`, so COUNT shrinks when one takes longer (Redis
   * is single-threaded: a long command is a stall for every reader) and grows back when rounds
   * are quick; and the purge uses Redis at most `duty` of the time, resting in between.
   * Without it, the purge runs flat out with `count`.
   */
  pace?: { roundTripMs: number; duty: number };
  /** Stops the purge between two batches (when the app closes). */
  signal?: AbortSignal;
}

/**
 * Deletes the keys matching `match` in batches: SCAN MATCH ... COUNT, then UNLINK (freed in
 * Redis's background thread) of each batch. Never KEYS, never FLUSHDB/FLUSHALL: Redis keeps
 * serving other clients between batches, and keys outside the pattern are never touched.
 */
export async function purgeKeys(redis: Redis, match: string, options: PurgeOptions = {}): Promise<PurgeResult> {
  const { keep, count: maxCount = 1000, pace, signal } = options;
  const result: PurgeResult = { matched: 0, deleted: 0 };
  let count = pace ? Math.min(maxCount, 100) : maxCount;
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
      await sleep((took * (1 - pace.duty)) / pace.duty);
    }
  } while (cursor !== '0');
  return result;
}

/**
 * Deletes every entry of a cache namespace (`<namespace>:*`), whatever its generation, and
 * nothing else: the operators' purge (`npm run cache:purge`, `POST /admin/cache/purge`).
 */
export function purgeNamespace(redis: Redis, namespace: string): Promise<PurgeResult> {
  return purgeKeys(redis, `${namespace}:*`);
}
