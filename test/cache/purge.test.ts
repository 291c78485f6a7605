import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { purgeKeys } from '../../src/cache/cache-purge.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { User } from '../../src/users/user.entity.ts';
import { buildTestApp, createTestDatabase, type TestDatabase } from '../helper.ts';
import { countKeys, setKeys } from '../redis-keys.ts';

const INDEXES = 'Migration20241102000002_AddCompositeIndexes';

describe('purging old generations after a schema change', () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  let prefix: string;
  const foreign = `foreignapp_${randomBytes(4).toString('hex')}`;
  let lookalikes: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('purge');
    prefix = db.config.cachePrefix;
    app = await buildTestApp(db);
    await migratorOf(app.orm).up({ to: INDEXES });
    const em = app.orm.em.fork();
    for (let n = 0; n < 50; n++) em.create(User, { userId: `u${n}`, name: `User ${n}`, email: `u${n}@example.test`, passwordHash: 'x' });
    await em.flush();
  });
  afterAll(async () => {
    await purgeKeys(app.redis, `${foreign}:*`);
    if (lookalikes.length) await app.redis.del(...lookalikes);
    await app.close();
    await db.drop();
  });

  it('deletes exactly our old-generation keys; 10k keys of another application and look-alikes survive', async () => {
    const old = app.cache.generation!;
    // entries the service cached, and many more of the same generation so the purge takes several batches
    for (let n = 0; n < 50; n++) await app.cache.getOrLoad('user', `u${n}`, async () => ({ userId: `u${n}` }));
    await setKeys(app.redis, Array.from({ length: 3000 }, (_, n) => `${prefix}:${old}:meter:filler-${n}`));
    // another application's keys, and keys that only look like ours
    await setKeys(app.redis, Array.from({ length: 10_000 }, (_, n) => `${foreign}:${old}:user:u${n}`));
    lookalikes = [`${prefix}`, `${prefix}x:${old}:user:u1`, `${prefix}-old:${old}:user:u1`, `${foreign}:${prefix}:${old}:user:u1`];
    await setKeys(app.redis, lookalikes);
    expect(await countKeys(app.redis, `${prefix}:${old}:*`)).toBe(3050);

    await migratorOf(app.orm).up();
    const current = app.cache.generation!;
    expect(current).not.toBe(old);
    await app.cache.getOrLoad('user', 'u1', async () => ({ userId: 'u1' })); // an entry of the new generation

    await vi.waitFor(async () => {
      const [row] = await db.query('select purged_at, purged_keys from cache_outbox');
      expect(row.purged_at).toBeInstanceOf(Date);
    }, { timeout: 15_000 });
    expect(await countKeys(app.redis, `${prefix}:${old}:*`)).toBe(0);
    expect(await countKeys(app.redis, `${prefix}:${current}:*`)).toBe(1);
    expect(await countKeys(app.redis, `${foreign}:*`)).toBe(10_001);
    expect(await app.redis.exists(...lookalikes)).toBe(lookalikes.length);
    const [row] = await db.query('select purged_keys from cache_outbox');
    expect(Number(row.purged_keys)).toBe(3050);
  });
});
