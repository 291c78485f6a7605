import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../src/app.ts';
import { Cache } from '../../src/cache/cache.ts';
import { BACKGROUND_PURGE_PACE } from '../../src/cache/cache-invalidator.ts';
import { purgeKeys, type PurgeBatch } from '../../src/cache/cache-purge.ts';
import { createRedis } from '../../src/db/redis.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';
import { freePort, OwnRedis, startOwnRedis } from '../own-redis.ts';
import { countKeys, setKeys } from '../redis-keys.ts';

const INDEXES = 'Migration20241102000002_AddCompositeIndexes';

/** `readers` concurrent cached reads of `ids` until `stop()` is called; resolves when they have stopped. */
function readContinuously(cache: Cache, ids: string[], readers: number): { stop: () => Promise<number> } {
  let running = true;
  let reads = 0;
  const reader = async () => {
    while (running) {
      const id = ids[reads++ % ids.length];
      await cache.getOrLoad('user', id, async () => ({ userId: id }));
    }
  };
  const all = Promise.all(Array.from({ length: readers }, reader));
  return {
    stop: async () => {
      running = false;
      await all;
      return reads;
    },
  };
}

describe('the paced purge (purgeKeys with a pace)', () => {
  let redis: Redis;
  const prefix = `enerlink_test_purgepace_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
    await redis.connect();
  });
  afterAll(async () => {
    await purgeKeys(redis, `${prefix}*`);
    redis.disconnect();
  });

  it('deletes every key of the older generations, in many batches, and none of the current one or outside the namespace', async () => {
    const cache = new Cache({ redis, prefix, ttlSeconds: 600 });
    const old = Array.from({ length: 2 }, (_, generation) => Array.from({ length: 6000 }, (_, n) => `${prefix}:old${generation}:user:u${n}`)).flat();
    const current = Array.from({ length: 2000 }, (_, n) => `${prefix}:cur:user:u${n}`);
    // a generation whose name starts like the current one's, and keys that only look like ours
    const lookalikes = [`${prefix}:current:user:u1`, `${prefix}:cu:user:u1`];
    const outside = [`${prefix}x:old0:user:u1`, `${prefix}`, `other_${prefix}:old0:user:u1`];
    await setKeys(redis, [...old, ...current, ...lookalikes, ...outside], '{}');
    cache.useGeneration('cur');
    const reading = readContinuously(cache, ['u1', 'u2', 'u3'], 4);
    const batches: PurgeBatch[] = [];

    const result = await purgeKeys(redis, cache.namespacePattern, {
      keepPrefix: cache.generationPrefix('cur'),
      pace: BACKGROUND_PURGE_PACE,
      readers: cache.readers,
      onBatch: batch => void batches.push(batch),
    });
    await reading.stop();

    expect(result.deleted).toBe(old.length + lookalikes.length);
    expect(result.matched).toBe(old.length + lookalikes.length + current.length);
    expect(result.batches).toBeGreaterThan(10);
    expect(batches.every(({ count, nextCount }) => count <= BACKGROUND_PURGE_PACE.maxCount && nextCount <= BACKGROUND_PURGE_PACE.maxCount)).toBe(true);
    expect(await countKeys(redis, `${prefix}:old*`)).toBe(0);
    expect(await redis.exists(...lookalikes)).toBe(0);
    expect(await countKeys(redis, `${prefix}:cur:*`)).toBe(current.length);
    expect(await redis.exists(...outside)).toBe(outside.length);
  });

  describe('beside readers whose Redis stops answering for a while', () => {
    let server: Awaited<ReturnType<typeof startOwnRedis>>;
    let own: Redis;
    beforeAll(async () => {
      server = await startOwnRedis();
      // no command timeout: the readers and the purge wait for the stopped server as a slow one
      own = new Redis(server.url, { lazyConnect: true });
      await own.connect();
    });
    afterEach(() => server.resume());
    afterAll(async () => {
      own.disconnect();
      await server.remove();
    });

    it('takes a smaller share of Redis once the readers are slowed, and still finishes', async () => {
      const cache = new Cache({ redis: own, prefix: 'paced', ttlSeconds: 600 });
      cache.useGeneration('cur');
      const ids = Array.from({ length: 100 }, (_, n) => `u${n}`);
      await setKeys(own, Array.from({ length: 40_000 }, (_, n) => `paced:old:user:u${n}`));
      // enough readers that those stalled are more than 1% of any window of reads judged
      const reading = readContinuously(cache, ids, 40);
      // the readers' latency before the purge is what "slowed" is judged against
      await vi.waitFor(() => expect(cache.readers.total).toBeGreaterThan(1000), { timeout: 10_000, interval: 10 });

      const batches: PurgeBatch[] = [];
      let pausedAfter: number | undefined;
      const result = await purgeKeys(own, cache.namespacePattern, {
        keepPrefix: cache.generationPrefix('cur'),
        pace: BACKGROUND_PURGE_PACE,
        readers: cache.readers,
        onBatch: async batch => {
          batches.push(batch);
          if (batches.length === 20) {
            // every reader in flight now waits for the stopped server
            pausedAfter = batches.length;
            server.pause();
            setTimeout(() => server.resume(), 300);
          }
        },
      });
      await reading.stop();

      expect(pausedAfter).toBe(20);
      const afterPause = batches.slice(pausedAfter);
      // the batch that judged the reads slowed by the stop halved the share
      const judged = afterPause.find(batch => batch.slowedReads > batch.reads * BACKGROUND_PURGE_PACE.slowedShare);
      expect(judged).toBeDefined();
      expect(judged!.duty).toBeLessThan(BACKGROUND_PURGE_PACE.duty);
      expect(Math.min(...afterPause.map(batch => batch.duty))).toBeLessThan(BACKGROUND_PURGE_PACE.duty);
      expect(result.deleted).toBe(40_000);
      expect(await countKeys(own, 'paced:old:*')).toBe(0);
    });
  });
});

describe('Redis stopped in the middle of a background purge', () => {
  let db: TestDatabase;
  let server: OwnRedis;
  let app: FastifyInstance;
  const logLines: Array<{ level: number; msg: string }> = [];

  beforeAll(async () => {
    server = new OwnRedis(await freePort(), await mkdtemp(join(tmpdir(), 'enerlink-redis-')));
    await server.start();
    db = await createTestDatabase('purge_stopped');
    const config = { ...db.config, redisUrl: server.url };
    const orm = await createTestOrm(db, config);
    await orm.connect();
    const redis = createRedis(config);
    await redis.connect();
    const stream = { write: (line: string) => void logLines.push(JSON.parse(line)) };
    app = await buildApp({ config, orm, redis }, { logger: { level: 'info', stream } });
    await migratorOf(app.orm).up({ to: INDEXES });
  });
  afterAll(async () => {
    server?.resume();
    await app?.close();
    await server?.stop().catch(() => {});
    if (server) await rm(server.dir, { recursive: true, force: true });
    await db?.drop();
  });

  it('gives the purge up with a warning, keeps it in the outbox, and finishes it when Redis answers again', async () => {
    const old = app.cache.generation!;
    const prefix = app.cache.prefix;
    const oldKeys = 200_000;
    await server.client(client => setKeys(client, Array.from({ length: oldKeys }, (_, n) => `${prefix}:${old}:user:u${n}`)));

    await migratorOf(app.orm).up();
    const current = app.cache.generation!;
    expect(current).not.toBe(old);
    await app.cache.getOrLoad('user', 'kept', async () => ({ userId: 'kept' }));
    // stopped once the purge is under way, with most of the old generation still there
    await vi.waitFor(async () => expect(await server.client(client => client.dbsize())).toBeLessThan(oldKeys - 1000), { timeout: 30_000, interval: 5 });
    server.pause();
    await vi.waitFor(() => expect(logLines.map(line => line.msg)).toContain('cache: purge deferred, the outbox keeps it until Redis is back'), { timeout: 15_000 });
    const [pending] = await db.query('select count(*)::int as unpurged from cache_outbox where purged_at is null');
    expect(pending.unpurged).toBeGreaterThan(0);
    server.resume();

    await vi.waitFor(
      async () => {
        const [row] = await db.query('select count(*)::int as unpurged from cache_outbox where purged_at is null');
        expect(row.unpurged).toBe(0);
      },
      { timeout: 60_000, interval: 50 },
    );
    expect(await server.client(client => countKeys(client, `${prefix}:${old}:*`))).toBe(0);
    expect(await server.client(client => client.exists(app.cache.key('user', 'kept', current)))).toBe(1);
    expect(logLines.some(line => line.msg === 'cache: purged older generations')).toBe(true);
  });
});
