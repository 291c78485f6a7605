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

  it('finds a wallet whatever the case of its hex digits, and still not another user\'s', async () => {
    const upper = `0x${alice.walletAddress.slice(2).toUpperCase()}`;
    const own = await api.app.inject({ url: `/wallets/${upper}`, headers: alice.headers });
    expect(own.statusCode, own.body).toBe(200);
    // the reply names the wallet as it is stored
    expect(own.json().walletAddress).toBe(alice.walletAddress);
    expectProblem(await api.app.inject({ url: `/wallets/0x${bob.walletAddress.slice(2).toUpperCase()}`, headers: alice.headers }), 404, 'WALLET_NOT_FOUND');
    // a wallet the previous backend stored with capitals (an EIP-55 checksum) is found in lower case
    const checksummed = '0x52908400098527886E0F7030069857D2E4169EE7';
    await api.db.query(`insert into wallet (wallet_address, user_id, wallet_name, energy_balance, idrs_balance, is_active) values (?, ?, 'Old', 0, 0, false)`, [checksummed, alice.userId]);
    const old = await api.app.inject({ url: `/wallets/${checksummed.toLowerCase()}`, headers: alice.headers });
    expect(old.statusCode, old.body).toBe(200);
    expect(old.json().walletAddress).toBe(checksummed);
  });

  it('converts IDRS on a wallet named in capitals, recording the stored address', async () => {
    const upper = `0x${alice.walletAddress.slice(2).toUpperCase()}`;
    const reply = await api.app.inject({ method: 'POST', url: '/idrs/conversions', headers: alice.headers, payload: { walletAddress: upper, type: 'ON_RAMP', idrAmount: '5' } });
    expect(reply.statusCode, reply.body).toBe(201);
    expect(reply.json()).toMatchObject({ walletAddress: alice.walletAddress, status: 'PENDING', idrsBalance: '100000.25' });
    const rows = await api.db.query('select wallet_address from idrs_conversion where conversion_id = ?', [reply.json().conversionId]);
    expect(rows).toEqual([{ wallet_address: alice.walletAddress }]);
  });

  it('refuses an address that is a LIKE pattern rather than hex', async () => {
    expectProblem(await api.app.inject({ url: `/wallets/0x${'_'.repeat(40)}`, headers: alice.headers }), 400, 'VALIDATION_FAILED');
    expectProblem(await api.app.inject({ url: `/wallets/0x${'%25'.repeat(40)}`, headers: alice.headers }), 400, 'VALIDATION_FAILED');
  });

  it('answers 400 for a malformed address', async () => {
    expectProblem(await api.app.inject({ url: '/wallets/0x123', headers: alice.headers }), 400, 'VALIDATION_FAILED');
  });
});
