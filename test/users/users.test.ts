import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { User } from '../../src/users/user.entity.ts';
import { expectProblem, signUp, startApi, type Account, type Api } from '../api.ts';

describe('users', () => {
  let api: Api;
  let alice: Account;
  let bob: Account;

  beforeAll(async () => {
    api = await startApi('users');
    alice = await signUp(api.app, 'Alice');
    bob = await signUp(api.app, 'Bob');
  });
  afterAll(async () => {
    await api.close();
  });

  it('GET /users/me is the caller, with email', async () => {
    const reply = await api.app.inject({ url: '/users/me', headers: alice.headers });
    expect(reply.statusCode).toBe(200);
    expect(reply.json()).toEqual({ userId: alice.userId, name: 'Alice', email: alice.email, createdAt: expect.any(String), updatedAt: expect.any(String) });
  });

  it("GET /users/:userId is another user's public profile, without email", async () => {
    const reply = await api.app.inject({ url: `/users/${bob.userId}`, headers: alice.headers });
    expect(reply.statusCode).toBe(200);
    expect(reply.json()).toEqual({ userId: bob.userId, name: 'Bob', createdAt: expect.any(String) });
  });

  it('GET /users/:userId answers 404 for an unknown user and 400 for a malformed id', async () => {
    expectProblem(await api.app.inject({ url: '/users/user_missing', headers: alice.headers }), 404, 'USER_NOT_FOUND');
    expectProblem(await api.app.inject({ url: `/users/${encodeURIComponent("x' or 1=1 --")}`, headers: alice.headers }), 400, 'VALIDATION_FAILED');
  });

  it('GET /users/:userId is served from the Redis cache, and a change of the user is seen at once', async () => {
    await api.app.inject({ url: `/users/${bob.userId}`, headers: alice.headers });
    const keys = await api.app.redis.keys(`*:user:${bob.userId}`);
    expect(keys).toHaveLength(1);
    // the entry is what the next read answers: change it under the cache's feet and look
    const cached = JSON.parse((await api.app.redis.get(keys[0]))!);
    await api.app.redis.set(keys[0], JSON.stringify({ ...cached, name: 'Bob (cached)' }), 'KEEPTTL');
    // Redis sits behind the in-process tier: with the tier's copy gone (as after its bound), Redis answers
    api.app.cache.local.clear();
    const fromCache = await api.app.inject({ url: `/users/${bob.userId}`, headers: alice.headers });
    expect(fromCache.json().name).toBe('Bob (cached)');
    // a write through the unit of work invalidates exactly that key after commit
    const em = api.app.orm.em.fork();
    const user = await em.findOneOrFail(User, { userId: bob.userId });
    user.name = 'Robert';
    await em.flush();
    const fresh = await api.app.inject({ url: `/users/${bob.userId}`, headers: alice.headers });
    expect(fresh.json().name).toBe('Robert');
  });

  it('a token used before logout is refused right after it, and no cache holds its standing', async () => {
    const carol = await signUp(api.app, 'Carol');
    expect((await api.app.inject({ url: '/users/me', headers: carol.headers })).statusCode).toBe(200);
    expect(await api.app.redis.keys(`${api.app.cache.prefix}:*:blacklist:*`)).toHaveLength(0);
    expect((await api.app.inject({ method: 'POST', url: '/auth/logout', headers: carol.headers })).statusCode).toBeLessThan(300);
    expectProblem(await api.app.inject({ url: '/users/me', headers: carol.headers }), 401, 'TOKEN_REVOKED');
  });
});
