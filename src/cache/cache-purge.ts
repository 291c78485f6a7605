import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';

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
   * After each batch, rest this many times as long as the batch took, leaving Redis to the
   * clients being served (1: half speed). 0, the default: no rest.
   */
  restRatio?: number;
  /** Stops the purge between two batches (when the app closes). */
  signal?: AbortSignal;
}

/**
 * Deletes the keys matching `match` in batches: SCAN MATCH ... COUNT, then UNLINK (freed in
 * Redis's background thread) of each batch. Never KEYS, never FLUSHDB/FLUSHALL: Redis keeps
 * serving other clients between batches, and keys outside the pattern are never touched.
 */
export async function purgeKeys(redis: Redis, match: string, options: PurgeOptions = {}): Promise<PurgeResult> {
  const { keep, count = 1000, restRatio = 0, signal } = options;
  const result: PurgeResult = { matched: 0, deleted: 0 };
  let cursor = '0';
  do {
    signal?.throwIfAborted();
    const started = performance.now();
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', count);
    cursor = next;
    result.matched += keys.length;
    const doomed = keep ? keys.filter(key => !keep(key)) : keys;
    if (doomed.length > 0) result.deleted += await redis.unlink(...doomed);
    if (restRatio > 0 && cursor !== '0') await sleep((performance.now() - started) * restRatio);
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
