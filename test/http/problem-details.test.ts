import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, signUp, startApi, type Api } from '../api.ts';

describe('problem details', () => {
  let api: Api;

  beforeAll(async () => {
    api = await startApi('problems');
  });
  afterAll(async () => {
    await api.close();
  });

  it('answers a server failure with a generic 500 problem, never its cause', async () => {
    const account = await signUp(api.app, 'Unlucky');
    await api.db.query('drop table market_trade');
    // One query, not findAndCount: MikroORM 7.2.1's orm.close() can hang after a failed findAndCount.
    const reply = await api.app.inject({ url: '/trades/1', headers: account.headers });
    expectProblem(reply, 500, 'INTERNAL_SERVER_ERROR');
    expect(reply.json().detail).toBe('The server failed to answer this request; it has been logged.');
    expect(reply.body).not.toMatch(/market_trade/);
  });

  it('answers an unsupported media type with its own 4xx problem', async () => {
    const reply = await api.app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
    expectProblem(reply, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});
