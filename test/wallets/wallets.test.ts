import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, fund, signUp, startApi, type Account, type Api } from '../api.ts';

describe('wallets', () => {
  let api: Api;
  let alice: Account;
  let bob: Account;

  beforeAll(async () => {
    api = await startApi('wallets');
    alice = await signUp(api.app, 'Alice');
    bob = await signUp(api.app, 'Bob');
    await fund(api.db, alice.walletAddress, '12.5', '100000.25');
  });
  afterAll(async () => {
    await api.close();
  });

  it("lists only the caller's wallets, balances as exact decimal strings", async () => {
    const reply = await api.app.inject({ url: '/wallets', headers: alice.headers });
    expect(reply.statusCode).toBe(200);
    expect(reply.json()).toEqual([
      {
        walletAddress: alice.walletAddress,
        walletName: 'Main wallet',
        energyBalance: '12.500000',
        idrsBalance: '100000.25',
        isActive: true,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      },
    ]);
  });

  it('shows an own wallet by address', async () => {
    const reply = await api.app.inject({ url: `/wallets/${alice.walletAddress}`, headers: alice.headers });
    expect(reply.json()).toMatchObject({ walletAddress: alice.walletAddress, idrsBalance: '100000.25' });
  });

  it("answers 404 for another user's wallet, exactly as for one that does not exist", async () => {
    const other = await api.app.inject({ url: `/wallets/${bob.walletAddress}`, headers: alice.headers });
    const missing = await api.app.inject({ url: `/wallets/0x${'0'.repeat(40)}`, headers: alice.headers });
    expectProblem(other, 404, 'WALLET_NOT_FOUND');
    expectProblem(missing, 404, 'WALLET_NOT_FOUND');
    expect(Object.keys(other.json())).toEqual(Object.keys(missing.json()));
  });

  it('answers 400 for a malformed address', async () => {
    expectProblem(await api.app.inject({ url: '/wallets/0x123', headers: alice.headers }), 400, 'VALIDATION_FAILED');
  });
});
