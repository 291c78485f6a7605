import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, signUp, startApi, tableCounts, type Account, type Api } from '../api.ts';

describe('IDRS conversions', () => {
  let api: Api;
  let alice: Account;
  let bob: Account;

  const convert = (account: Account, payload: object) =>
    api.app.inject({ method: 'POST', url: '/idrs/conversions', headers: account.headers, payload });

  beforeAll(async () => {
    api = await startApi('idrs');
    alice = await signUp(api.app, 'Alice');
    bob = await signUp(api.app, 'Bob');
  });
  afterAll(async () => {
    await api.close();
  });

  it('ON_RAMP credits IDRS one to one, OFF_RAMP debits it, each COMPLETED and logged in IDRS', async () => {
    const on = await convert(alice, { walletAddress: alice.walletAddress, type: 'ON_RAMP', idrAmount: 150000.75 });
    expect(on.statusCode, on.body).toBe(201);
    expect(on.json()).toMatchObject({
      walletAddress: alice.walletAddress,
      type: 'ON_RAMP',
      idrAmount: '150000.75',
      idrsAmount: '150000.75',
      exchangeRate: '1.00000000',
      status: 'COMPLETED',
      idrsBalance: '150000.75',
    });
    const off = await convert(alice, { walletAddress: alice.walletAddress, type: 'OFF_RAMP', idrAmount: '50000.5' });
    expect(off.json()).toMatchObject({ type: 'OFF_RAMP', idrsAmount: '50000.50', idrsBalance: '100000.25' });

    const [wallet] = await api.db.query('select idrs_balance from wallet where wallet_address = ?', [alice.walletAddress]);
    expect(wallet.idrs_balance).toBe('100000.25');
    const conversions = await api.db.query('select conversion_type, idr_amount, idrs_amount, status from idrs_conversion order by conversion_id');
    expect(conversions).toEqual([
      { conversion_type: 'ON_RAMP', idr_amount: '150000.75', idrs_amount: '150000.75', status: 'COMPLETED' },
      { conversion_type: 'OFF_RAMP', idr_amount: '50000.50', idrs_amount: '50000.50', status: 'COMPLETED' },
    ]);
    const logs = await api.db.query('select transaction_type, amount, currency from transaction_log where user_id = ? order by log_id', [alice.userId]);
    expect(logs).toEqual([
      { transaction_type: 'IDRS_ON_RAMP', amount: '150000.75000000', currency: 'IDRS' },
      { transaction_type: 'IDRS_OFF_RAMP', amount: '-50000.50000000', currency: 'IDRS' },
    ]);
  });

  it('refuses an OFF_RAMP beyond the balance: 409, nothing written', async () => {
    const before = await tableCounts(api.db);
    const reply = await convert(alice, { walletAddress: alice.walletAddress, type: 'OFF_RAMP', idrAmount: '100000.26' });
    expectProblem(reply, 409, 'INSUFFICIENT_BALANCE');
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it('never overdraws under concurrent OFF_RAMPs', async () => {
    const replies = await Promise.all(
      Array.from({ length: 12 }, () => convert(alice, { walletAddress: alice.walletAddress, type: 'OFF_RAMP', idrAmount: '10000.00' })),
    );
    expect(replies.filter(reply => reply.statusCode === 201)).toHaveLength(10);
    const [wallet] = await api.db.query('select idrs_balance from wallet where wallet_address = ?', [alice.walletAddress]);
    expect(wallet.idrs_balance).toBe('0.25');
  });

  it.each([
    ["another user's wallet", () => ({ walletAddress: bob.walletAddress, type: 'ON_RAMP', idrAmount: '1' }), 404, 'WALLET_NOT_FOUND'],
    ['an unknown wallet', () => ({ walletAddress: `0x${'a'.repeat(40)}`, type: 'ON_RAMP', idrAmount: '1' }), 404, 'WALLET_NOT_FOUND'],
    ['a malformed wallet address', () => ({ walletAddress: 'wallet-1', type: 'ON_RAMP', idrAmount: '1' }), 400, 'VALIDATION_FAILED'],
    ['an unknown type', () => ({ walletAddress: alice.walletAddress, type: 'SWAP', idrAmount: '1' }), 400, 'VALIDATION_FAILED'],
    ['a zero amount', () => ({ walletAddress: alice.walletAddress, type: 'ON_RAMP', idrAmount: '0.00' }), 400, 'INVALID_AMOUNT'],
    ['a negative amount', () => ({ walletAddress: alice.walletAddress, type: 'ON_RAMP', idrAmount: -5 }), 400, 'VALIDATION_FAILED'],
    ['three decimals', () => ({ walletAddress: alice.walletAddress, type: 'ON_RAMP', idrAmount: '1.001' }), 400, 'VALIDATION_FAILED'],
    ['10^12 rupiah', () => ({ walletAddress: alice.walletAddress, type: 'ON_RAMP', idrAmount: '1000000000000' }), 400, 'VALIDATION_FAILED'],
  ])('refuses %s, writing nothing', async (_case, payload, status, code) => {
    const before = await tableCounts(api.db);
    expectProblem(await convert(alice, payload()), status, code);
    expect(await tableCounts(api.db)).toEqual(before);
  });
});
