import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { User } from '../../src/users/user.entity.ts';
import { buildTestApp, createTestDatabase, type TestDatabase } from '../helper.ts';

const run = promisify(execFile);
const INDEXES = 'Migration20241102000002_AddCompositeIndexes';
/** Upper bound for what happens in the background (pub/sub, purges); not a timing goal. */
const WAIT = { timeout: 15_000 };

function readUser(app: FastifyInstance, userId: string) {
  return app.cache.getOrLoad('user', userId, async () => {
    const user = await app.orm.em.fork().findOne(User, userId);
    return user && { name: user.name };
  });
}

describe('two instances of the service on one database and one Redis', () => {
  let db: TestDatabase;
  let one: FastifyInstance;
  let two: FastifyInstance;

  beforeAll(async () => {
    db = await createTestDatabase('two_instances');
    one = await buildTestApp(db);
    two = await buildTestApp(db);
    await migratorOf(one.orm).up({ to: INDEXES });
    const em = one.orm.em.fork();
    em.create(User, { userId: 'u1', name: 'Before', email: 'u1@example.test', passwordHash: 'x' });
    await em.flush();
    await vi.waitFor(() => expect(two.cache.generation).toBe(one.cache.generation), WAIT);
  });
  afterAll(async () => {
    await one.close();
    await two.close();
    await db.drop();
  });

  it('a migration on one switches the other\'s generation, and the other no longer reads the old entry', async () => {
    expect(await readUser(one, 'u1')).toEqual({ name: 'Before' });
    expect(await readUser(two, 'u1')).toEqual({ name: 'Before' }); // the same entry: one cache for both
    await db.query(`update "user" set name = 'After' where user_id = 'u1'`);
    const old = two.cache.generation;

    await migratorOf(one.orm).up();

    await vi.waitFor(() => expect(two.cache.generation).toBe(one.cache.generation), WAIT);
    expect(two.cache.generation).not.toBe(old);
    expect(await readUser(two, 'u1')).toEqual({ name: 'After' });
  });

  it('so does a migration run from the command line', async () => {
    const generation = one.cache.generation;
    const cli = new URL('../../node_modules/@mikro-orm/cli/cli.js', import.meta.url).pathname;
    await run(process.execPath, [cli, 'migration:down'], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, DATABASE_URL: db.url, CACHE_PREFIX: db.config.cachePrefix, NODE_ENV: 'development' },
    });
    await vi.waitFor(() => {
      expect(one.cache.generation).not.toBe(generation);
      expect(two.cache.generation).toBe(one.cache.generation);
    }, WAIT);
    await db.query(`update "user" set name = 'After the CLI' where user_id = 'u1'`);
    expect(await readUser(one, 'u1')).toEqual({ name: 'After the CLI' });
    expect(await readUser(two, 'u1')).toEqual({ name: 'After the CLI' });
  });
});
