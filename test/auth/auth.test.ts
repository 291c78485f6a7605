import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revocationKey } from '../../src/auth/auth.plugin.ts';
import { expectProblem, signUp, startApi, tableCounts, type Api } from '../api.ts';

describe('auth', () => {
  let api: Api;

  beforeAll(async () => {
    api = await startApi('auth');
  });
  afterAll(async () => {
    await api.close();
  });

  it('registers a user with a zero-balance active wallet and a bcrypt hash', async () => {
    const reply = await api.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { name: 'Siti Rahayu', email: 'Siti@Example.TEST', password: 'password' },
    });
    expect(reply.statusCode).toBe(201);
    const body = reply.json();
    expect(body).toEqual({
      userId: expect.stringMatching(/^user_[0-9a-f]{24}$/),
      name: 'Siti Rahayu',
      email: 'siti@example.test',
      walletAddress: expect.stringMatching(/^0x[0-9a-f]{40}$/),
      createdAt: expect.any(String),
    });
    expect(body).not.toHaveProperty('passwordHash');
    const [user] = await api.db.query('select password_hash from "user" where user_id = ?', [body.userId]);
    expect(user.password_hash).toMatch(/^\$2[aby]\$04\$/);
    const wallets = await api.db.query('select wallet_address, energy_balance, idrs_balance, is_active from wallet where user_id = ?', [body.userId]);
    expect(wallets).toEqual([{ wallet_address: body.walletAddress, energy_balance: '0.000000', idrs_balance: '0.00', is_active: true }]);
  });

  it('refuses a second account for the same email, whatever its case', async () => {
    const payload = { name: 'A', email: 'dup@example.test', password: 'password' };
    expect((await api.app.inject({ method: 'POST', url: '/auth/register', payload })).statusCode).toBe(201);
    const before = await tableCounts(api.db);
    const again = await api.app.inject({ method: 'POST', url: '/auth/register', payload: { ...payload, email: 'DUP@example.test' } });
    expectProblem(again, 409, 'EMAIL_TAKEN');
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it.each([
    [{ name: 'A', email: 'not-an-email', password: 'password' }],
    [{ name: 'A', email: 'short@example.test', password: 'short' }],
    [{ name: '   ', email: 'blank@example.test', password: 'password' }],
    [{ email: 'noname@example.test', password: 'password' }],
  ])('refuses registration %j with 400 and writes nothing', async payload => {
    const before = await tableCounts(api.db);
    const reply = await api.app.inject({ method: 'POST', url: '/auth/register', payload });
    expectProblem(reply, 400, 'VALIDATION_FAILED');
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it('refuses a NUL character in a name (PostgreSQL text cannot hold one) with a 400, not a 500, and creates no account', async () => {
    const before = await tableCounts(api.db);
    const reply = await api.app.inject({ method: 'POST', url: '/auth/register', payload: { name: 'Nul\u0000Name', email: 'nul@example.test', password: 'correct horse battery' } });
    expectProblem(reply, 400, 'VALIDATION_FAILED');
    expect(reply.json().detail).toBe('body.name must not contain the NUL character (\\u0000)');
    expect(await tableCounts(api.db)).toEqual(before);
    expect(await api.db.query(`select 1 from "user" where email = 'nul@example.test'`)).toEqual([]);
  });

  it('refuses a password bcrypt would truncate', async () => {
    const reply = await api.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { name: 'A', email: 'long@example.test', password: 'é'.repeat(40) },
    });
    expectProblem(reply, 400, 'INVALID_PASSWORD');
  });

  it('logs in with userId and a JWT whose subject and userId claim are the userId', async () => {
    await api.app.inject({ method: 'POST', url: '/auth/register', payload: { name: 'B', email: 'b@example.test', password: 'password' } });
    const reply = await api.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'B@example.test', password: 'password' } });
    expect(reply.statusCode).toBe(200);
    const { userId, token, tokenType, expiresAt } = reply.json();
    expect(tokenType).toBe('Bearer');
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({ sub: userId, userId });
    expect(new Date(expiresAt).getTime()).toBe(claims.exp * 1000);
    expect(claims.exp - claims.iat).toBe(3600);
  });

  it.each([
    ['wrong password', { email: 'b@example.test', password: 'wrong password' }],
    ['unknown email', { email: 'nobody@example.test', password: 'password' }],
  ])('answers a %s with the same 401', async (_case, payload) => {
    const reply = await api.app.inject({ method: 'POST', url: '/auth/login', payload });
    expectProblem(reply, 401, 'INVALID_CREDENTIALS');
    expect(reply.json().detail).toBe('Wrong email or password');
  });

  it('logs in a pre-rename account whose email has capitals', async () => {
    const { userId } = await signUp(api.app, 'Legacy');
    await api.db.query(`update "user" set email = 'Legacy.User@Example.test' where user_id = ?`, [userId]);
    const reply = await api.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'Legacy.User@Example.test', password: 'correct horse battery' } });
    expect(reply.json().userId).toBe(userId);
  });

  it('refuses protected routes without a valid token', async () => {
    expectProblem(await api.app.inject({ url: '/users/me' }), 401, 'UNAUTHORIZED');
    const forged = await api.app.inject({ url: '/users/me', headers: { authorization: 'Bearer abc.def.ghi' } });
    expectProblem(forged, 401, 'UNAUTHORIZED');
    expect(forged.headers['www-authenticate']).toBe('Bearer');
    const otherSecret = api.app.jwt.sign({ sub: 'user_x', userId: 'user_x', jti: 'x' }, { key: 'another-secret-that-is-long-enough-000' });
    expectProblem(await api.app.inject({ url: '/users/me', headers: { authorization: `Bearer ${otherSecret}` } }), 401, 'UNAUTHORIZED');
  });

  it('logout blacklists the token (sha256 of its jti, with its expiry): refused everywhere after, other tokens still work', async () => {
    const account = await signUp(api.app, 'Leaving');
    const second = await api.app.inject({ method: 'POST', url: '/auth/login', payload: { email: account.email, password: 'correct horse battery' } });
    const otherToken = second.json().token;
    expect(otherToken).not.toBe(account.token);

    const logout = await api.app.inject({ method: 'POST', url: '/auth/logout', headers: account.headers });
    expect(logout.statusCode).toBe(204);
    const { exp, jti } = JSON.parse(Buffer.from(account.token.split('.')[1], 'base64url').toString());
    const rows = await api.db.query('select user_id, reason, expires_at from token_blacklist where token_hash = ?', [revocationKey(jti)]);
    expect(rows).toEqual([{ user_id: account.userId, reason: 'LOGOUT', expires_at: new Date(exp * 1000) }]);

    for (const url of ['/users/me', `/users/${account.userId}`, '/wallets', `/wallets/${account.walletAddress}`, '/meters', '/trades']) {
      expectProblem(await api.app.inject({ url, headers: account.headers }), 401, 'TOKEN_REVOKED');
    }
    expectProblem(await api.app.inject({ method: 'POST', url: '/auth/logout', headers: account.headers }), 401, 'TOKEN_REVOKED');
    expect((await api.app.inject({ url: '/users/me', headers: { authorization: `Bearer ${otherToken}` } })).statusCode).toBe(200);
  });

  it('answers unknown routes and broken JSON as problem+json', async () => {
    expectProblem(await api.app.inject({ url: '/nope' }), 404, 'ROUTE_NOT_FOUND');
    const broken = await api.app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"email":' });
    expect(broken.statusCode).toBe(400);
    expect(broken.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
