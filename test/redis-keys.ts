import type { Redis } from 'ioredis';

/** How many keys match `match` (a full SCAN: the test Redis is shared with other test files). */
export async function countKeys(redis: Redis, match: string): Promise<number> {
  let count = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

/** Sets each key (to `value`, for ten minutes), a thousand per pipeline. */
export async function setKeys(redis: Redis, keys: string[], value = 'x'): Promise<void> {
  for (let start = 0; start < keys.length; start += 1000) {
    const pipeline = redis.pipeline();
    for (const key of keys.slice(start, start + 1000)) pipeline.set(key, value, 'EX', 600);
    await pipeline.exec();
  }
}
