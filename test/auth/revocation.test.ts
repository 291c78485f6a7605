import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { legacyTokenHash, revocationKey } from '../../src/auth/auth.plugin.ts';
import type { AppConfig } from '../../src/config.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { expectProblem, signUp } from '../api.ts';
import { buildTestApp, createTestDatabase, type TestDatabase } from '../helper.ts';
import { startOwnRedis, type OwnRedis } from '../own-redis.ts';

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The token with the lowest bit of its last character flipped: the same signature bytes, another text. */
function variant(token: string): string {
  const last = token.at(-1)!;
  return token.slice(0, -1) + BASE64URL[BASE64URL.indexOf(last) ^ 1];
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());

describe('revocation', () => {
  let db: TestDatabase;
  let redisServer: OwnRedis & { remove: () => Promise<void> };
  let config: AppConfig;
  let app: FastifyInstance;

  beforeAll(async () => {
    redisServer = await startOwnRedis();
    db = await createTestDatabase('revocation');
    // a fixed secret: tokens must survive the restart below, as they do in production
    config = { ...db.config, redisUrl: redisServer.url, jwtSecret: 'revocation-test-secret-revocation-test-secret' };
    app = await buildTestApp(db, config);
    await migratorOf(app.orm).up();
  });
  afterAll(async () => {
    await app?.close();
    await redisServer?.remove();
    await db?.drop();
  });

  it('refuses every text of a revoked token: the key is the jti, and non-canonical texts are refused outright', async () => {
    const account = await signUp(app, 'Editor');
    const edited = variant(account.token);
    // the verifier alone accepts the edited text (the flipped bit is padding): that was the hole
    expect(app.jwt.verify(edited)).toMatchObject({ jti: claimsOf(account.token).jti });
    expectProblem(await app.inject({ url: '/users/me', headers: bearer(edited) }), 401, 'UNAUTHORIZED');
    expect((await app.inject({ url: '/users/me', headers: account.headers })).statusCode).toBe(200);

    expect((await app.inject({ method: 'POST', url: '/auth/logout', headers: account.headers })).statusCode).toBe(204);
    const rows = await db.query('select token_hash from token_blacklist where user_id = ?', [account.userId]);
    expect(rows).toEqual([{ token_hash: revocationKey(claimsOf(account.token).jti) }]);
    for (const token of [account.token, edited]) {
      const reply = await app.inject({ url: '/users/me', headers: bearer(token) });
      expect(reply.statusCode).toBe(401);
    }
    expectProblem(await app.inject({ url: '/users/me', headers: account.headers }), 401, 'TOKEN_REVOKED');
  });

  it('honours revocations recorded before the jti key (the sha256 of the token text)', async () => {
    const account = await signUp(app, 'Old Logout');
    const { createHash } = await import('node:crypto');
    await db.query(`insert into token_blacklist (token_hash, user_id, reason, expires_at) values (?, ?, 'LOGOUT', now() + interval '1 hour')`, [
      createHash('sha256').update(account.token).digest('hex'),
      account.userId,
    ]);
    expectProblem(await app.inject({ url: '/users/me', headers: account.headers }), 401, 'TOKEN_REVOKED');
  });

  it('reads the standing of many tokens in one query, in the order asked: valid, revoked by either key, user gone', async () => {
    const [valid, revokedNew, revokedLegacy] = [await signUp(app, 'Standing A'), await signUp(app, 'Standing B'), await signUp(app, 'Standing C')];
    await db.query(`insert into token_blacklist (token_hash, user_id, reason, expires_at) values (?, ?, 'LOGOUT', now() + interval '1 hour'), (?, ?, 'LOGOUT', now() + interval '1 hour')`, [
      revocationKey(claimsOf(revokedNew.token).jti),
      revokedNew.userId,
      legacyTokenHash(revokedLegacy.token),
      revokedLegacy.userId,
    ]);
    const owner = (account: { token: string; userId: string }, userId = account.userId) => ({
      userId,
      revocationKeys: [revocationKey(claimsOf(account.token).jti), legacyTokenHash(account.token)],
    });
    const asked = [owner(revokedLegacy), owner(valid, 'user_that_never_was'), owner(valid), owner(revokedNew), owner(valid)];
    expect(await app.reads.tokenStandings(asked)).toEqual(['revoked', 'no-user', 'valid', 'revoked', 'valid']);
    expect(await app.reads.tokenStandings([])).toEqual([]);
  });

  it('a token used (and any answer cached), then Redis away with a snapshot, logout, restart, Redis back: still revoked', async () => {
    const account = await signUp(app, 'Snapshot');
    for (let n = 0; n < 3; n++) expect((await app.inject({ url: '/users/me', headers: account.headers })).statusCode).toBe(200);
    const keysBefore = await redisServer.client(client => client.keys('*'));
    expect(keysBefore.length).toBeGreaterThan(0); // the profile is cached: the snapshot holds entries

    await redisServer.stop(); // SHUTDOWN SAVE: the snapshot of every entry
    await vi.waitFor(() => expect(app.redisState()).not.toBe('ready'), { timeout: 15_000 });
    expect((await app.inject({ method: 'POST', url: '/auth/logout', headers: account.headers })).statusCode).toBe(204);
    expectProblem(await app.inject({ url: '/users/me', headers: account.headers }), 401, 'TOKEN_REVOKED');

    // the instance that saw the logout is gone; a new one starts, then Redis comes back from the snapshot
    await app.close();
    app = await buildTestApp(db, config);
    await redisServer.start();
    await vi.waitFor(() => expect(app.cache.active).toBe(true), { timeout: 20_000 });
    expect(await redisServer.client(client => client.keys('*'))).toEqual(expect.arrayContaining(keysBefore));

    for (let n = 0; n < 3; n++) expectProblem(await app.inject({ url: '/users/me', headers: account.headers }), 401, 'TOKEN_REVOKED');
    expectProblem(await app.inject({ url: `/users/${account.userId}`, headers: account.headers }), 401, 'TOKEN_REVOKED');
  });

  it('refuses the token of a user deleted in SQL everywhere with 401 once the in-process bound has passed, even with its profile cached', async () => {
    const gone = await signUp(app, 'Gone');
    const other = await signUp(app, 'Stays');
    expect((await app.inject({ url: '/users/me', headers: gone.headers })).statusCode).toBe(200);
    expect(await app.redis.exists(app.cache.key('user', gone.userId))).toBe(1);
    // an operator deletes the account in SQL (no entity event, no notification: the cached profile
    // stays, and the in-process tier may still hold the token's standing until its bound has passed)
    await db.query('delete from "user" where user_id = ?', [gone.userId]);
    await sleep(config.cacheLocalTtlMs);

    const requests = [
      { method: 'GET', url: '/users/me' },
      { method: 'GET', url: `/users/${other.userId}` },
      { method: 'GET', url: '/wallets' },
      { method: 'GET', url: '/meters' },
      { method: 'POST', url: '/meters', payload: { meterId: 'MTR-GONE-0001' } },
      { method: 'POST', url: '/auth/logout' },
      { method: 'GET', url: '/trades' },
      { method: 'POST', url: '/trades', payload: { sellerUserId: other.userId, energyKwh: '1', priceIdrsPerKwh: '1000' } },
    ] as const;
    for (const request of requests) {
      const reply = await app.inject({ ...request, headers: gone.headers });
      expectProblem(reply, 401, 'UNAUTHORIZED');
      expect(reply.json().detail).toBe('The user of this token no longer exists');
    }
    expect(await db.query('select count(*)::int as n from smart_meter where meter_id = ?', ['MTR-GONE-0001'])).toEqual([{ n: 0 }]);
    expect((await app.inject({ url: '/users/me', headers: other.headers })).statusCode).toBe(200);
  });
});
