import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { readSchemaGeneration } from '../../src/cache/schema-generation.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { User } from '../../src/users/user.entity.ts';
import { Wallet } from '../../src/wallets/wallet.entity.ts';
import '../cached-test-entities.ts';
import { buildTestApp, createTestDatabase, type TestDatabase } from '../helper.ts';

const INDEXES = 'Migration20241102000002_AddCompositeIndexes';

/** A user read the way a route would: through the cache, loading from PostgreSQL on a miss. */
function readUser(app: FastifyInstance, userId: string) {
  return app.cache.getOrLoad('user', userId, async () => {
    const user = await app.orm.em.fork().findOne(User, userId);
    return user && { userId: user.userId, name: user.name };
  });
}

function readWallet(app: FastifyInstance, address: string) {
  return app.cache.getOrLoad('wallet', address, async () => {
    const wallet = await app.orm.em.fork().findOne(Wallet, address);
    return wallet && { walletAddress: wallet.walletAddress, walletName: wallet.walletName };
  });
}

describe('the cache', () => {
  let db: TestDatabase;
  let app: FastifyInstance;

  async function generationInPostgres(): Promise<string> {
    return readSchemaGeneration(db.query);
  }

  /** Renames a user behind the ORM's back: no event, so only a cache miss can show the new name. */
  async function renameQuietly(userId: string, name: string): Promise<void> {
    await db.query('update "user" set name = ? where user_id = ?', [name, userId]);
  }

  beforeAll(async () => {
    db = await createTestDatabase('cache');
    app = await buildTestApp(db);
    await migratorOf(app.orm).up({ to: INDEXES });
    const em = app.orm.em.fork();
    for (const n of [1, 2, 3]) {
      const user = em.create(User, { userId: `u${n}`, name: `User ${n}`, email: `u${n}@example.test`, passwordHash: 'x' });
      em.create(Wallet, { walletAddress: `0xw${n}`, user, walletName: `Wallet ${n}` });
    }
    await em.flush();
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
  });

  it('stores a read under <prefix>:<schema generation>:<entity>:<id> with the TTL, and serves it from there', async () => {
    const generation = await generationInPostgres();
    expect(app.cache.generation).toBe(generation);
    expect(await readUser(app, 'u1')).toEqual({ userId: 'u1', name: 'User 1' });
    const key = `${db.config.cachePrefix}:${generation}:user:u1`;
    expect(JSON.parse((await app.redis.get(key))!)).toEqual({ userId: 'u1', name: 'User 1' });
    const ttl = await app.redis.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(db.config.cacheTtlSeconds);
    await renameQuietly('u1', 'Renamed quietly');
    expect(await readUser(app, 'u1')).toEqual({ userId: 'u1', name: 'User 1' });
  });

  it('caches "no such row" too, until the row is created', async () => {
    expect(await readUser(app, 'u9')).toBeNull();
    expect(await app.redis.get(app.cache.key('user', 'u9'))).toBe('null');
    const em = app.orm.em.fork();
    em.create(User, { userId: 'u9', name: 'User 9', email: 'u9@example.test', passwordHash: 'x' });
    await em.flush();
    expect(await readUser(app, 'u9')).toEqual({ userId: 'u9', name: 'User 9' });
  });

  it('an entity change through the ORM deletes exactly that entity\'s entry', async () => {
    await readUser(app, 'u2');
    await readUser(app, 'u3');
    await readWallet(app, '0xw2');
    await renameQuietly('u3', 'User 3, renamed quietly');
    const em = app.orm.em.fork();
    const user = await em.findOneOrFail(User, 'u2');
    user.name = 'User 2, renamed';
    await em.flush();
    expect(await app.redis.exists(app.cache.key('user', 'u2'))).toBe(0);
    expect(await app.redis.exists(app.cache.key('user', 'u3'), app.cache.key('wallet', '0xw2'))).toBe(2);
    expect(await readUser(app, 'u2')).toEqual({ userId: 'u2', name: 'User 2, renamed' });
    expect(await readUser(app, 'u3')).toEqual({ userId: 'u3', name: 'User 3' }); // untouched entry, still cached
  });

  it('changes inside a transaction invalidate once it commits', async () => {
    expect(await readWallet(app, '0xw1')).toEqual({ walletAddress: '0xw1', walletName: 'Wallet 1' });
    await app.orm.em.fork().transactional(async em => {
      const wallet = await em.findOneOrFail(Wallet, '0xw1');
      wallet.walletName = 'Trading';
      await em.flush();
      // not committed: the entry is still there, and still right for every other reader
      expect(await app.redis.exists(app.cache.key('wallet', '0xw1'))).toBe(1);
    });
    expect(await readWallet(app, '0xw1')).toEqual({ walletAddress: '0xw1', walletName: 'Trading' });
  });

  it('does not cache a value loaded while its entry was being invalidated', async () => {
    const value = await app.cache.getOrLoad('user', 'u7', async () => {
      const loaded = { userId: 'u7', name: 'read before the change committed' };
      await app.events.emit('entity.changed', { entity: 'user', id: 'u7' });
      return loaded;
    });
    expect(value.name).toBe('read before the change committed');
    expect(await app.redis.exists(app.cache.key('user', 'u7'))).toBe(0);
  });

  it('after seeding (bulk writes, no entity events), the current generation is purged', async () => {
    await readUser(app, 'u1');
    await readWallet(app, '0xw3');
    await app.events.emit('seed.completed', { users: 3, wallets: 3, meters: 0, seed: 1 });
    expect(await app.redis.exists(app.cache.key('user', 'u1'), app.cache.key('wallet', '0xw3'))).toBe(0);
  });

  it('a cached read, then a migration: the next read is never the old entry', async () => {
    const before = app.cache.generation!;
    const cached = await readUser(app, 'u1');
    await renameQuietly('u1', 'Renamed before the migration');
    expect(await readUser(app, 'u1')).toEqual(cached); // the cached, now stale, entry
    await migratorOf(app.orm).up();
    expect(app.cache.generation).not.toBe(before);
    expect(app.cache.generation).toBe(await generationInPostgres());
    expect(await readUser(app, 'u1')).toEqual({ userId: 'u1', name: 'Renamed before the migration' });
    // the change was recorded in the outbox in its transaction, and the purge carried it out
    await vi.waitFor(async () => {
      const rows = await db.query('select generation, migrations, purged_at from cache_outbox');
      expect(rows).toEqual([{ generation: app.cache.generation, migrations: 'Migration20261121000001_CacheOutbox,Migration20261201000001_MarketIntegrity,Migration20261202000001_LimitDefaults', purged_at: expect.any(Date) }]);
    }, { timeout: 15_000 });
    expect(await app.redis.exists(`${db.config.cachePrefix}:${before}:user:u1`)).toBe(0);
  });

  it('a migration reverted and applied again is a new generation, not the one from before the revert', async () => {
    const generations = [app.cache.generation];
    await migratorOf(app.orm).down({ to: INDEXES });
    generations.push(app.cache.generation);
    await renameQuietly('u1', 'Renamed again');
    await migratorOf(app.orm).up();
    generations.push(app.cache.generation);
    expect(new Set(generations).size).toBe(3);
    expect(await readUser(app, 'u1')).toEqual({ userId: 'u1', name: 'Renamed again' });
  });
});
