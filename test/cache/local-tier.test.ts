import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { revocationKey } from '../../src/auth/auth.plugin.ts';
import { recordDataChange } from '../../src/cache/cache-outbox.ts';
import { LocalTier, type EntryKind } from '../../src/cache/local-tier.ts';
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

describe('the in-process tier under steady traffic: entries in use are read again in bulk before their bound', () => {
  let f: Awaited<ReturnType<typeof fleet>>;
  let one: FastifyInstance;
  let two: FastifyInstance;

  beforeAll(async () => {
    f = await fleet('local_tier_reload');
    one = await f.instance(SHORT_BOUND_MS);
    two = await f.instance(SHORT_BOUND_MS);
  });
  afterAll(async () => {
    await f?.close();
  });

  /** Reads `/users/me` of every account and each other's profile on `app` until `until()`, a round every 10 ms. */
  async function traffic(app: FastifyInstance, accounts: Account[], until: () => Promise<boolean>): Promise<void> {
    for (;;) {
      const replies = await Promise.all(accounts.flatMap(account => [
        app.inject({ url: '/users/me', headers: account.headers }),
        app.inject({ url: `/users/${accounts[0].userId}`, headers: account.headers }),
      ]));
      if (await until()) return;
      for (const reply of replies) expect(reply.statusCode, reply.body).toBe(200);
      await sleep(10);
    }
  }

  it('token checks are read again from PostgreSQL in one query, so a revocation in SQL is refused within the bound without a full check', async () => {
    const accounts = [await signUp(one, 'Steady A'), await signUp(one, 'Steady B'), await signUp(one, 'Steady C')];
    const standings: number[] = [];
    const tokenStandings = two.reads.tokenStandings;
    two.reads.tokenStandings = tokens => {
      standings.push(tokens.length);
      return tokenStandings(tokens);
    };
    try {
      // three bounds of traffic: every check is read again at least twice
      const started = Date.now();
      await traffic(two, accounts, async () => Date.now() - started > 3 * SHORT_BOUND_MS);
      // one full check per token (a query of one), then the reloads: all three tokens in one query
      expect(standings.filter(count => count === 1)).toHaveLength(3);
      expect(standings.filter(count => count === 3).length).toBeGreaterThanOrEqual(2);

      const [revoked] = accounts;
      await f.db.query(`insert into token_blacklist (token_hash, user_id, reason, expires_at) values (?, ?, 'LOGOUT', now() + interval '1 hour')`, [
        revocationKey(jtiOf(revoked.token)),
        revoked.userId,
      ]);
      const revokedAt = Date.now();
      // the revoked token stays in use meanwhile, as do the others: its check is reloaded, not dropped
      await traffic(two, accounts.slice(1), async () => {
        const reply = await two.inject({ url: '/users/me', headers: revoked.headers });
        if (reply.statusCode !== 200) expectProblem(reply, 401, 'TOKEN_REVOKED');
        return Date.now() - revokedAt > SHORT_BOUND_MS;
      });
      expectProblem(await two.inject({ url: '/users/me', headers: revoked.headers }), 401, 'TOKEN_REVOKED');
      expect(standings.filter(count => count === 1)).toHaveLength(3);
    } finally {
      two.reads.tokenStandings = tokenStandings;
    }
  });

  it('profiles are read again from Redis in one MGET: a change Redis holds is seen within the bound, one Redis dropped is read from PostgreSQL', async () => {
    const reader = await signUp(one, 'Steady Reader');
    const subject = await signUp(one, 'Steady Subject');
    const mgets: number[] = [];
    const mget = two.redis.mget.bind(two.redis);
    two.redis.mget = ((...keys: string[]) => {
      mgets.push(keys.flat().length);
      return mget(...keys);
    }) as typeof two.redis.mget;
    try {
      const started = Date.now();
      await traffic(two, [subject, reader], async () => Date.now() - started > 3 * SHORT_BOUND_MS);
      expect(mgets.length).toBeGreaterThanOrEqual(2); // the subject's profile, read again from Redis
      // Redis given a new value behind everyone's back (as another instance's cache-aside would)
      const key = two.cache.key('user', subject.userId);
      await two.redis.set(key, JSON.stringify({ ...JSON.parse((await two.redis.get(key))!), name: 'Steady, in Redis' }), 'KEEPTTL');
      const seenAfterTheBound = async (name: string) => {
        const changedAt = Date.now();
        await traffic(two, [subject, reader], async () => Date.now() - changedAt > SHORT_BOUND_MS);
        expect(await nameSeenBy(two, reader, subject.userId)).toBe(name);
      };
      await seenAfterTheBound('Steady, in Redis');
      // renamed in SQL and Redis's entry deleted: the reload finds nothing, the entry expires, PostgreSQL answers
      await renameUnannounced(f, two, subject.userId, 'Steady, in SQL');
      await seenAfterTheBound('Steady, in SQL');
    } finally {
      two.redis.mget = mget;
    }
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

describe('LocalTier loads under way when entities are evicted', () => {
  it('a load is not kept when an entity it depends on was evicted meanwhile, or the tier cleared; evictions of others do not matter', async () => {
    const tier = new LocalTier({ ttlMs: LONG_BOUND_MS, maxEntries: 10 });
    const bearerLike: EntryKind<string> = { dependsOn: () => ['user:x', 'revocation:k'] };
    const loadDuring = async (key: string, during: () => void) => {
      let open!: (value: string) => void;
      const loading = tier.getOrLoad(key, () => new Promise<string>(resolve => (open = resolve)), bearerLike);
      during();
      open(`${key} loaded`);
      await loading;
      return tier.peek(key);
    };
    expect(await loadDuring('bearer:1', () => tier.evict('revocation:k'))).toBeUndefined();
    expect(await loadDuring('bearer:2', () => tier.evict('user:x'))).toBeUndefined();
    expect(await loadDuring('bearer:3', () => tier.evict('bearer:3'))).toBeUndefined();
    expect(await loadDuring('bearer:4', () => tier.clear())).toBeUndefined();
    expect(await loadDuring('bearer:5', () => ['wallet:1', 'user:y', 'revocation:other'].forEach(other => tier.evict(other)))).toBe('bearer:5 loaded');
    // and its own dependencies evict it once held
    tier.evict('user:x');
    expect(tier.peek('bearer:5')).toBeUndefined();
  });

  it('a load that finishes after a later one of the same key does not replace the newer value', async () => {
    const tier = new LocalTier({ ttlMs: LONG_BOUND_MS, maxEntries: 10 });
    let finishOlder!: (value: string) => void;
    const older = tier.getOrLoad('user:a', () => new Promise<string>(resolve => (finishOlder = resolve)));
    tier.evict('wallet:1'); // readers from now on start a load of their own
    expect(await tier.getOrLoad('user:a', async () => 'newer')).toBe('newer');
    finishOlder('older');
    expect(await older).toBe('older');
    expect(tier.peek('user:a')).toBe('newer');
  });
});

describe('LocalTier reload ahead', () => {
  /** A kind whose reload gives `<key> v<version>`, recording the keys of each bulk read. */
  function versioned() {
    const state = { version: 1, batches: [] as string[][], loads: 0, gate: Promise.resolve() as Promise<unknown>, fail: false, drop: new Set<string>() };
    const kind: EntryKind<string> = {
      async reload(held) {
        state.batches.push(held.map(({ key }) => key));
        await state.gate;
        if (state.fail) throw new Error('source unreachable');
        return held.map(({ key }) => (state.drop.has(key) ? undefined : `${key} v${state.version}`));
      },
    };
    const read = (tier: LocalTier, key: string) =>
      tier.getOrLoad(key, async () => {
        state.loads++;
        return `${key} v0`;
      }, kind);
    return { state, read };
  }
  const BOUND = 1000;

  it('entries read after three quarters of their bound are read again together, and served past their first bound; others expire', async () => {
    const tier = new LocalTier({ ttlMs: BOUND, maxEntries: 10 });
    const { state, read } = versioned();
    const loaded = performance.now();
    for (const key of ['a', 'b', 'c']) await read(tier, key);
    // a and b stay in use, c is never read again (a peek is a read: it would be reloaded too)
    await vi.waitFor(async () => {
      for (const key of ['a', 'b']) await read(tier, key);
      expect(state.batches.length).toBeGreaterThan(0);
    }, { timeout: 5 * BOUND, interval: 20 });
    expect(state.batches[0]).toEqual(['a', 'b']);
    await sleep(BOUND - (performance.now() - loaded));
    // the bound of the values read first has passed: c is gone, a and b are served as reloaded
    expect(tier.peek('a')).toBe('a v1');
    expect(tier.peek('b')).toBe('b v1');
    expect(state.loads).toBe(3);
  });

  it('a clear (the app closing, Redis lost) cancels the reloads waiting to be sent', async () => {
    const bound = 2 * BOUND; // room for a slow machine between the read at 4/5 of it and its end
    const tier = new LocalTier({ ttlMs: bound, maxEntries: 10 });
    const { state, read } = versioned();
    const loaded = performance.now();
    await read(tier, 'a');
    await sleep(bound * 0.8 - (performance.now() - loaded));
    expect(tier.peek('a')).toBe('a v0'); // queued: its reload would be sent bound / 20 from now
    tier.clear();
    await sleep(bound / 5);
    expect(state.batches).toEqual([]);
  });

  it('splits a large reload into bulk reads of at most 1,000 entries', async () => {
    const tier = new LocalTier({ ttlMs: BOUND, maxEntries: 5000 });
    const { state, read } = versioned();
    const keys = Array.from({ length: 2500 }, (_, n) => `k${n}`);
    for (const key of keys) await read(tier, key);
    await vi.waitFor(async () => {
      for (const key of keys) await read(tier, key);
      expect(state.batches.flat()).toHaveLength(2500);
    }, { timeout: 5 * BOUND, interval: 20 });
    expect(state.batches.map(batch => batch.length)).toEqual([1000, 1000, 500]);
    await vi.waitFor(() => expect(keys.every(key => tier.peek(key) === `${key} v1`)).toBe(true), WAIT);
  });

  it('a reload under way when another entity is evicted is kept; a failed one, or a value the source no longer has, expires', async () => {
    const tier = new LocalTier({ ttlMs: BOUND, maxEntries: 10 });
    const { state, read } = versioned();
    const untilReloading = async (keys: string[]) => {
      const before = state.batches.length;
      await vi.waitFor(async () => {
        for (const key of keys) await read(tier, key);
        expect(state.batches.length).toBeGreaterThan(before);
      }, { timeout: 5 * BOUND, interval: 20 });
    };
    const expiresUnreloaded = async (key: string) => {
      const loads = state.loads;
      await vi.waitFor(() => expect(tier.peek(key)).toBeUndefined(), { timeout: 5 * BOUND, interval: 20 });
      expect(await read(tier, key)).toBe(`${key} v0`);
      expect(state.loads).toBe(loads + 1);
    };

    // an eviction of something else while the reload is under way (a wallet changed by a trade)
    await read(tier, 'a');
    let open!: () => void;
    state.gate = new Promise<void>(resolve => (open = resolve));
    await untilReloading(['a']);
    tier.evict('wallet:0xsomeone-else');
    open();
    await vi.waitFor(() => expect(tier.peek('a')).toBe('a v1'), WAIT);

    // the source failing: the entries are left to their bound
    state.gate = Promise.resolve();
    state.fail = true;
    await read(tier, 'b');
    await untilReloading(['b']);
    await expiresUnreloaded('b');

    // the source no longer has one of them: that one expires, the other is replaced
    state.fail = false;
    state.drop.add('c');
    await read(tier, 'c');
    await read(tier, 'd');
    await untilReloading(['c', 'd']);
    await expiresUnreloaded('c');
    expect(tier.peek('d')).toBe('d v1');
  });
});
