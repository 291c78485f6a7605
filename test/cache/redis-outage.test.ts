import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import type { AppConfig } from '../../src/config.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { readSchemaGeneration } from '../../src/cache/schema-generation.ts';
import { createRedis } from '../../src/db/redis.ts';
import { User } from '../../src/users/user.entity.ts';
import { buildTestApp, createTestDatabase, createTestOrm, migrateTestDatabase, type TestDatabase } from '../helper.ts';
import { freePort, OwnRedis } from '../own-redis.ts';

const INDEXES = 'Migration20241102000002_AddCompositeIndexes';

describe('Redis stopped during a migration', () => {
  let db: TestDatabase;
  let redisServer: OwnRedis;
  let config: AppConfig;
  let app: FastifyInstance;
  const logLines: Array<{ level: number; msg: string }> = [];

  function readUser(userId: string) {
    return app.cache.getOrLoad('user', userId, async () => {
      const user = await app.orm.em.fork().findOne(User, userId);
      return user && { name: user.name };
    });
  }

  beforeAll(async () => {
    redisServer = new OwnRedis(await freePort(), await mkdtemp(join(tmpdir(), 'enerlink-redis-')));
    await redisServer.start();
    db = await createTestDatabase('redis_outage');
    config = { ...db.config, redisUrl: redisServer.url };
    const orm = await createTestOrm(db);
    await orm.connect();
    const redis = createRedis(config);
    await redis.connect();
    const stream = { write: (line: string) => void logLines.push(JSON.parse(line)) };
    app = await buildApp({ config, orm, redis }, { logger: { level: 'info', stream } });
    await migratorOf(app.orm).up({ to: INDEXES });
    const em = app.orm.em.fork();
    em.create(User, { userId: 'u1', name: 'Before', email: 'u1@example.test', passwordHash: 'x' });
    await em.flush();
  });
  afterAll(async () => {
    await app?.close();
    await redisServer.stop().catch(() => {});
    await rm(redisServer.dir, { recursive: true, force: true });
    await db?.drop();
  });

  it('keeps answering from PostgreSQL, then purges from the outbox and never serves the old entry', async () => {
    const old = app.cache.generation!;
    const oldKey = app.cache.key('user', 'u1');
    expect(await readUser('u1')).toEqual({ name: 'Before' });
    await db.query(`update "user" set name = 'After' where user_id = 'u1'`);
    expect(await readUser('u1')).toEqual({ name: 'Before' }); // served from Redis

    const warningsBefore = logLines.filter(line => line.level >= 40).length;
    await redisServer.stop();
    await vi.waitFor(() => expect(app.redisState()).not.toBe('ready'), { timeout: 15_000 });

    // the service keeps answering, from PostgreSQL, and a migration (with the reference data it brings) goes through
    for (let n = 0; n < 50; n++) expect(await readUser('u1')).toEqual({ name: 'After' });
    expect((await app.inject('/health/live')).statusCode).toBe(200);
    await migrateTestDatabase(app.orm);
    // the generation PostgreSQL now has; while Redis is down the cache is off and may not hold
    // it yet (each failed reconnect turns it off again), so ask the database
    const current = await readSchemaGeneration(db.query);
    expect(current).not.toBe(old);
    expect(await readUser('u1')).toEqual({ name: 'After' });
    const ready = await app.inject('/health/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().redis).not.toBe('ready');
    // the purges Redis could not take are recorded, with the schema change and the reference data
    const recorded = await db.query('select generation, purged_at from cache_outbox order by id');
    expect(recorded).toHaveLength(2);
    expect(recorded.map(row => row.purged_at)).toEqual([null, null]);
    expect(recorded.at(-1)!.generation).toBe(current);
    // warnings once (Redis gone), none per request; the schema change itself went out through PostgreSQL
    const warnings = logLines.filter(line => line.level >= 40).slice(warningsBefore).map(line => line.msg);
    expect(warnings).toContain('redis: unavailable, serving without cache until it is back');
    expect(new Set(warnings).size).toBe(warnings.length);

    await redisServer.start();
    const served = new Set<string>();
    await vi.waitFor(
      async () => {
        served.add((await readUser('u1'))!.name);
        const [row] = await db.query('select count(*)::int as unpurged from cache_outbox where purged_at is null');
        expect(row.unpurged).toBe(0);
      },
      { timeout: 20_000, interval: 20 },
    );
    expect(served).toEqual(new Set(['After']));
    // the old entry survived the outage (saved and loaded again), and the outbox purge deleted it
    // (the second purge may also take an entry read under the migration's generation meanwhile)
    const [{ purged }] = await db.query('select sum(purged_keys)::int as purged from cache_outbox');
    expect(purged).toBeGreaterThanOrEqual(1);
    expect(await redisServer.client(client => client.exists(oldKey))).toBe(0);
    expect(app.cache.active).toBe(true);
    expect(await readUser('u1')).toEqual({ name: 'After' });
    expect(await redisServer.client(client => client.get(app.cache.key('user', 'u1')))).toBe(JSON.stringify({ name: 'After' }));
  });

  it('starts while Redis is down, serves from PostgreSQL, and uses the cache once Redis is up', async () => {
    await redisServer.stop();
    const second = await buildTestApp(db, config);
    try {
      expect(second.cache.active).toBe(false);
      const read = () => second.cache.getOrLoad('user', 'u1', async () => ({ name: (await second.orm.em.fork().findOneOrFail(User, 'u1')).name }));
      expect(await read()).toEqual({ name: 'After' });
      expect((await second.inject('/health/ready')).json()).toMatchObject({ status: 'ready', redis: expect.not.stringMatching(/^ready$/) });
      await redisServer.start();
      await vi.waitFor(() => expect(second.cache.active).toBe(true), { timeout: 20_000 });
      expect(await read()).toEqual({ name: 'After' });
      expect(await redisServer.client(client => client.get(second.cache.key('user', 'u1')))).toBe(JSON.stringify({ name: 'After' }));
    } finally {
      await second.close();
    }
  });
});
