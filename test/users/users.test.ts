import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
