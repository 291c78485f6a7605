import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { revocationKey } from '../../src/auth/auth.plugin.ts';
import { recordDataChange } from '../../src/cache/cache-outbox.ts';
import { LocalTier } from '../../src/cache/local-tier.ts';
import type { AppConfig } from '../../src/config.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { User } from '../../src/users/user.entity.ts';
import { expectProblem, signUp, type Account } from '../api.ts';
import { buildTestApp, createTestDatabase, type TestDatabase } from '../helper.ts';
import { startOwnRedis, type OwnRedis } from '../own-redis.ts';

/** A bound no test outlives: whatever such an instance sees at once, its notifications (or a clear) did. */
const LONG_BOUND_MS = 60_000;
/** A bound short enough to wait out. */
const SHORT_BOUND_MS = 300;
/** Upper bound for what happens in the background (notifications, reconnections); not a timing goal. */
const WAIT = { timeout: 15_000, interval: 50 };
const LISTENER = 'enerlink schema-change listener';

const jtiOf = (token: string): string => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti;

/** One database, one Redis of the test's own, instances built on them with the bound given. */
async function fleet(label: string) {
  const redisServer = await startOwnRedis();
  const db = await createTestDatabase(label);
  const apps: FastifyInstance[] = [];
  const base: AppConfig = { ...db.config, redisUrl: redisServer.url, jwtSecret: 'local-tier-test-secret-local-tier-test-secret' };
  return {
    db,
    redisServer,
    async instance(cacheLocalTtlMs: number): Promise<FastifyInstance> {
      const app = await buildTestApp(db, { ...base, cacheLocalTtlMs });
      if (apps.length === 0) await migratorOf(app.orm).up();
      apps.push(app);
      await vi.waitFor(() => expect(app.cache.active).toBe(true), WAIT);
      return app;
    },
    async close() {
      for (const app of apps) await app.close();
      await redisServer.remove();
      await db.drop();
    },
  };
}

async function nameSeenBy(app: FastifyInstance, reader: Account, userId: string): Promise<string> {
  const reply = await app.inject({ url: `/users/${userId}`, headers: reader.headers });
  expect(reply.statusCode, reply.body).toBe(200);
  return reply.json().name;
}

/** Renames a user behind every cache's back: no entity event, no notification, Redis's entry deleted by hand. */
async function renameUnannounced(f: Awaited<ReturnType<typeof fleet>>, app: FastifyInstance, userId: string, name: string) {
  await f.db.query('update "user" set name = ? where user_id = ?', [name, userId]);
  await app.redis.unlink(app.cache.key('user', userId));
}

async function renameThroughOrm(app: FastifyInstance, userId: string, name: string) {
  const em = app.orm.em.fork();
  const user = await em.findOneOrFail(User, { userId });
  user.name = name;
  await em.flush();
}

describe('the in-process tier, two instances on one database: changes reach the other at once through NOTIFY', () => {
  let f: Awaited<ReturnType<typeof fleet>>;
  let one: FastifyInstance;
  let two: FastifyInstance;
  let beacon: Account;
  let beacons = 0;

  /**
   * Waits until the second instance has heard every notification sent so far (a sign-up sends
   * one too, which could otherwise evict an entry a test relies on): PostgreSQL delivers them in
   * commit order, so once a rename made now is seen, every earlier one has been heard.
   */
  async function heardEverything(): Promise<void> {
    const name = `Beacon ${++beacons}`;
    await renameThroughOrm(one, beacon.userId, name);
    await vi.waitFor(async () => expect(await nameSeenBy(two, beacon, beacon.userId)).toBe(name), WAIT);
  }

  beforeAll(async () => {
    f = await fleet('local_tier_notify');
    one = await f.instance(LONG_BOUND_MS);
    two = await f.instance(LONG_BOUND_MS);
    beacon = await signUp(one, 'Beacon');
  });
  afterAll(async () => {
    await f?.close();
  });

  it('a logout on one is refused on the other as soon as it is notified, and on the first at once', async () => {
    const account = await signUp(one, 'Leaver');
    for (let n = 0; n < 3; n++) expect((await two.inject({ url: '/users/me', headers: account.headers })).statusCode).toBe(200);
    expect(two.cache.local.size).toBeGreaterThan(0); // the standing is held by the second instance
    expect((await one.inject({ method: 'POST', url: '/auth/logout', headers: account.headers })).statusCode).toBe(204);
    // the instance that made the change evicted its own tier before answering
    expectProblem(await one.inject({ url: '/users/me', headers: account.headers }), 401, 'TOKEN_REVOKED');
    // the other one holds it for LONG_BOUND_MS unless told: only the notification can refuse it now
    await vi.waitFor(async () => expectProblem(await two.inject({ url: '/users/me', headers: account.headers }), 401, 'TOKEN_REVOKED'), WAIT);
  });

  it('a profile changed through the ORM on one is seen on the other once notified; other entries stay', async () => {
    const reader = await signUp(one, 'Reader');
    const [subject, bystander] = [await signUp(one, 'Subject'), await signUp(one, 'Bystander')];
    await heardEverything();
    expect(await nameSeenBy(two, reader, subject.userId)).toBe('Subject');
    expect(await nameSeenBy(two, reader, bystander.userId)).toBe('Bystander');
    // the bystander changes unannounced: the second instance keeps its copy (no clear happens)
    await renameUnannounced(f, two, bystander.userId, 'Bystander, renamed quietly');
    await renameThroughOrm(one, subject.userId, 'Subject, renamed');
    expect(await nameSeenBy(one, reader, subject.userId)).toBe('Subject, renamed');
    await vi.waitFor(async () => expect(await nameSeenBy(two, reader, subject.userId)).toBe('Subject, renamed'), WAIT);
    expect(await nameSeenBy(two, reader, bystander.userId)).toBe('Bystander');
  });

  it('a user deleted through the ORM on one: its token is refused on the other once notified', async () => {
    const em = one.orm.em.fork();
    em.create(User, { userId: 'user_doomed', name: 'Doomed', email: 'doomed@example.test', passwordHash: 'x' });
    await em.flush();
    const headers = { authorization: `Bearer ${one.issueAccessToken('user_doomed').token}` };
    expect((await two.inject({ url: '/users/me', headers })).statusCode).toBe(200);
    em.remove(await em.findOneOrFail(User, { userId: 'user_doomed' }));
    await em.flush();
    await vi.waitFor(async () => {
      const reply = await two.inject({ url: '/users/me', headers });
      expectProblem(reply, 401, 'UNAUTHORIZED');
      expect(reply.json().detail).toBe('The user of this token no longer exists');
    }, WAIT);
  });

  it('a change rolled back announces nothing and evicts nothing it should not', async () => {
    const reader = await signUp(one, 'Rollback Reader');
    const subject = await signUp(one, 'Kept');
    expect(await nameSeenBy(two, reader, subject.userId)).toBe('Kept');
    await expect(
      one.orm.em.fork().transactional(async em => {
        const user = await em.findOneOrFail(User, { userId: subject.userId });
        user.name = 'Never committed';
        await em.flush();
        throw new Error('rolled back on purpose');
      }),
    ).rejects.toThrow('rolled back on purpose');
    expect(await nameSeenBy(one, reader, subject.userId)).toBe('Kept');
    expect(await nameSeenBy(two, reader, subject.userId)).toBe('Kept');
  });

  it('the LISTEN session of the second terminated: its tier is emptied, and what changed unannounced is seen', async () => {
    const reader = await signUp(one, 'Listener Reader');
    const subject = await signUp(one, 'Quiet');
    await heardEverything();
    expect(await nameSeenBy(two, reader, subject.userId)).toBe('Quiet');
    await renameUnannounced(f, two, subject.userId, 'Quiet, renamed');
    expect(await nameSeenBy(two, reader, subject.userId)).toBe('Quiet'); // the tier's copy, good for LONG_BOUND_MS
    // every listener of this database: both instances lose their notifications
    const terminated = await f.db.query('select pg_terminate_backend(pid) as done from pg_stat_activity where datname = current_database() and application_name = ?', [LISTENER]);
    expect(terminated.length).toBeGreaterThanOrEqual(2);
    await vi.waitFor(async () => expect(await nameSeenBy(two, reader, subject.userId)).toBe('Quiet, renamed'), WAIT);
    // listening again, the tier is used again
    await vi.waitFor(() => expect(two.lifecycle.followingChanges && two.cache.active).toBe(true), WAIT);
    await nameSeenBy(two, reader, subject.userId);
    expect(two.cache.local.size).toBeGreaterThan(0);
  });

  it('a seed committed anywhere (a new generation) empties the tier', async () => {
    const reader = await signUp(one, 'Seed Reader');
    const subject = await signUp(one, 'Before Seed');
    expect(await nameSeenBy(two, reader, subject.userId)).toBe('Before Seed');
    await renameUnannounced(f, two, subject.userId, 'After Seed');
    const generation = two.cache.generation;
    // what `npm run seed` records in its own transaction, from a session of the test's own
    await recordDataChange(f.db.query);
    await vi.waitFor(() => expect(two.cache.generation).not.toBe(generation), WAIT);
    expect(await nameSeenBy(two, reader, subject.userId)).toBe('After Seed');
  });

  it('a migration (a new generation) empties the tier', async () => {
    const reader = await signUp(one, 'Migration Reader');
    const subject = await signUp(one, 'Before Migration');
    expect(await nameSeenBy(two, reader, subject.userId)).toBe('Before Migration');
    await renameUnannounced(f, two, subject.userId, 'After Migration');
    const generation = two.cache.generation;
    await migratorOf(one.orm).down();
    await migratorOf(one.orm).up();
    await vi.waitFor(() => expect(two.cache.generation).not.toBe(generation), WAIT);
    expect(await nameSeenBy(two, reader, subject.userId)).toBe('After Migration');
  });
});

describe('the in-process tier when notifications never come: the bound holds', () => {
  let f: Awaited<ReturnType<typeof fleet>>;
  let one: FastifyInstance;
  let two: FastifyInstance;

  beforeAll(async () => {
    f = await fleet('local_tier_bound');
    one = await f.instance(SHORT_BOUND_MS);
    two = await f.instance(SHORT_BOUND_MS);
  });
  afterAll(async () => {
    await f?.close();
  });

  it('a revocation written without a notification (SQL, an older release) is refused once the bound has passed', async () => {
    const account = await signUp(one, 'Revoked In SQL');
    expect((await two.inject({ url: '/users/me', headers: account.headers })).statusCode).toBe(200);
    await f.db.query(`insert into token_blacklist (token_hash, user_id, reason, expires_at) values (?, ?, 'LOGOUT', now() + interval '1 hour')`, [
      revocationKey(jtiOf(account.token)),
      account.userId,
    ]);
    await sleep(SHORT_BOUND_MS);
    for (const app of [one, two]) expectProblem(await app.inject({ url: '/users/me', headers: account.headers }), 401, 'TOKEN_REVOKED');
  });

  it('a user deleted in SQL: its token is refused once the bound has passed', async () => {
    const account = await signUp(one, 'Deleted In SQL');
    expect((await two.inject({ url: '/users/me', headers: account.headers })).statusCode).toBe(200);
    await f.db.query('delete from wallet where user_id = ?', [account.userId]);
    await f.db.query('delete from "user" where user_id = ?', [account.userId]);
    await sleep(SHORT_BOUND_MS);
    const reply = await two.inject({ url: '/users/me', headers: account.headers });
    expectProblem(reply, 401, 'UNAUTHORIZED');
    expect(reply.json().detail).toBe('The user of this token no longer exists');
  });

  it('a profile change whose notification never came is seen once the bound has passed', async () => {
    const reader = await signUp(one, 'Bound Reader');
    const subject = await signUp(one, 'Unheard');
    expect(await nameSeenBy(two, reader, subject.userId)).toBe('Unheard');
    await renameUnannounced(f, two, subject.userId, 'Unheard, renamed');
    await sleep(SHORT_BOUND_MS);
    expect(await nameSeenBy(two, reader, subject.userId)).toBe('Unheard, renamed');
  });

  it('under concurrent traffic, every read after the bound sees the change', async () => {
    const reader = await signUp(one, 'Busy Reader');
    const subject = await signUp(one, 'Busy');
    let running = true;
    const traffic = (async () => {
      while (running) await Promise.all(Array.from({ length: 10 }, () => nameSeenBy(two, reader, subject.userId)));
    })();
    await sleep(50);
    await renameUnannounced(f, two, subject.userId, 'Busy, renamed');
    await sleep(SHORT_BOUND_MS);
    const seen = await Promise.all(Array.from({ length: 20 }, () => nameSeenBy(two, reader, subject.userId)));
    running = false;
    await traffic;
    expect(new Set(seen)).toEqual(new Set(['Busy, renamed']));
  });
});

describe('the in-process tier and Redis: a lost Redis empties it, and it is bypassed until Redis is back', () => {
  let f: Awaited<ReturnType<typeof fleet>>;
  let app: FastifyInstance;
  let reader: Account;

  beforeAll(async () => {
    f = await fleet('local_tier_redis');
    app = await f.instance(LONG_BOUND_MS);
    reader = await signUp(app, 'Redis Reader');
  });
  afterAll(async () => {
    await f?.close();
  });

  async function expectBypassedWhileDown(subject: Account, label: string) {
    expect(app.cache.local.size).toBe(0);
    // every read goes to PostgreSQL: each unannounced change is seen at once, and nothing is kept
    for (const n of [1, 2]) {
      await f.db.query('update "user" set name = ? where user_id = ?', [`${label} ${n}`, subject.userId]);
      expect(await nameSeenBy(app, reader, subject.userId)).toBe(`${label} ${n}`);
      expect(app.cache.local.size).toBe(0);
    }
  }

  it('Redis killed: the tier is emptied and bypassed, then used again once Redis is back', async () => {
    const subject = await signUp(app, 'Killed');
    expect(await nameSeenBy(app, reader, subject.userId)).toBe('Killed');
    expect(app.cache.local.size).toBeGreaterThan(0);
    await f.redisServer.stop();
    await vi.waitFor(() => expect(app.redisState() !== 'ready' && !app.cache.active).toBe(true), WAIT);
    await expectBypassedWhileDown(subject, 'Killed, renamed');
    await f.redisServer.start();
    await vi.waitFor(() => expect(app.cache.active).toBe(true), { ...WAIT, timeout: 20_000 });
    await app.redis.unlink(app.cache.key('user', subject.userId)); // the snapshot's entry predates the renames
    // the recovery may switch the generation more than once (Redis back, generation read again),
    // each emptying the tier: it holds entries again once that has settled
    await vi.waitFor(async () => {
      expect(await nameSeenBy(app, reader, subject.userId)).toBe('Killed, renamed 2');
      expect(app.cache.local.size).toBeGreaterThan(0);
    }, WAIT);
  });

  it('Redis stopped (SIGSTOP): once the heartbeat notices, the tier is emptied and bypassed until Redis answers', async () => {
    const subject = await signUp(app, 'Stopped');
    expect(await nameSeenBy(app, reader, subject.userId)).toBe('Stopped');
    expect(app.cache.local.size).toBeGreaterThan(0);
    f.redisServer.pause();
    try {
      // the heartbeat marks Redis down, then drops the connection: from then on the cache is off
      await vi.waitFor(() => expect(app.redisState() === 'down' && !app.cache.active).toBe(true), WAIT);
      await expectBypassedWhileDown(subject, 'Stopped, renamed');
    } finally {
      f.redisServer.resume();
    }
    await vi.waitFor(() => expect(app.cache.active).toBe(true), { ...WAIT, timeout: 20_000 });
    await app.redis.unlink(app.cache.key('user', subject.userId));
    // the recovery may switch the generation more than once (Redis back, generation read again),
    // each emptying the tier: it holds entries again once that has settled
    await vi.waitFor(async () => {
      expect(await nameSeenBy(app, reader, subject.userId)).toBe('Stopped, renamed 2');
      expect(app.cache.local.size).toBeGreaterThan(0);
    }, WAIT);
  });
});

describe('with the tier off (CACHE_LOCAL_TTL_MS=0): as before, PostgreSQL answers every standing and Redis every profile', () => {
  let f: Awaited<ReturnType<typeof fleet>>;
  let app: FastifyInstance;

  beforeAll(async () => {
    f = await fleet('local_tier_off');
    app = await f.instance(0);
  });
  afterAll(async () => {
    await f?.close();
  });

  it('a revocation or a deletion in SQL is refused on the very next request, and Redis answers profiles', async () => {
    const reader = await signUp(app, 'Off Reader');
    const revoked = await signUp(app, 'Off Revoked');
    const deleted = await signUp(app, 'Off Deleted');
    for (const account of [revoked, deleted]) expect((await app.inject({ url: '/users/me', headers: account.headers })).statusCode).toBe(200);
    await f.db.query(`insert into token_blacklist (token_hash, user_id, reason, expires_at) values (?, ?, 'LOGOUT', now() + interval '1 hour')`, [
      revocationKey(jtiOf(revoked.token)),
      revoked.userId,
    ]);
    await f.db.query('delete from wallet where user_id = ?', [deleted.userId]);
    await f.db.query('delete from "user" where user_id = ?', [deleted.userId]);
    expectProblem(await app.inject({ url: '/users/me', headers: revoked.headers }), 401, 'TOKEN_REVOKED');
    expectProblem(await app.inject({ url: '/users/me', headers: deleted.headers }), 401, 'UNAUTHORIZED');

    const subject = await signUp(app, 'Off Subject');
    expect(await nameSeenBy(app, reader, subject.userId)).toBe('Off Subject');
    const key = app.cache.key('user', subject.userId);
    const entry = JSON.parse((await app.redis.get(key))!);
    await app.redis.set(key, JSON.stringify({ ...entry, name: 'Off Subject (in Redis)' }), 'KEEPTTL');
    expect(await nameSeenBy(app, reader, subject.userId)).toBe('Off Subject (in Redis)');
    expect(app.cache.local.enabled).toBe(false);
    expect(app.cache.local.size).toBe(0);
  });
});

describe('LocalTier.peek, the synchronous read of a hit', () => {
  it('gives what getOrLoad would at once, and nothing once evicted, cleared, past the bound or with the tier off', async () => {
    const tier = new LocalTier({ ttlMs: SHORT_BOUND_MS, maxEntries: 10 });
    expect(tier.peek('user:a')).toBeUndefined();
    expect(await tier.getOrLoad('user:a', async () => ({ name: 'A' }))).toEqual({ name: 'A' });
    expect(await tier.getOrLoad('user:none', async () => null)).toBeNull();
    expect(tier.peek('user:a')).toEqual({ name: 'A' });
    expect(tier.peek('user:none')).toBeNull();
    tier.evict('user:a');
    expect(tier.peek('user:a')).toBeUndefined();
    tier.clear();
    expect(tier.peek('user:none')).toBeUndefined();
    await tier.getOrLoad('user:b', async () => 'B');
    await sleep(SHORT_BOUND_MS);
    expect(tier.peek('user:b')).toBeUndefined();
    const off = new LocalTier({ ttlMs: 0, maxEntries: 10 });
    await off.getOrLoad('user:c', async () => 'C');
    expect(off.peek('user:c')).toBeUndefined();
  });
});
