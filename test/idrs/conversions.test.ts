import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../src/http/signed-request.ts';
import { adminCall, auditEntries, expectProblem, fund, nextTimestamp, signedPost, signUp, startApi, tableCounts, type Account, type Api } from '../api.ts';

describe('IDRS conversions against payment', () => {
  let api: Api;
  let alice: Account;
  let bob: Account;
  let secret: string;
  let payments = 0;

  const convert = (account: Account, payload: object) => api.app.inject({ method: 'POST', url: '/idrs/conversions', headers: account.headers, payload });
  const onRamp = async (account: Account, idrAmount: string) => {
    const reply = await convert(account, { walletAddress: account.walletAddress, type: 'ON_RAMP', idrAmount });
    expect(reply.statusCode, reply.body).toBe(201);
    return reply.json();
  };
  const webhook = (payload: object | string, key = secret, timestamp = nextTimestamp()) => signedPost(api, '/idrs/payments', key, payload, timestamp);
  const paymentId = () => `pay_${Date.now()}_${++payments}`;
  const idrsOf = async (account: Account) => (await api.db.query('select idrs_balance from wallet where wallet_address = ?', [account.walletAddress]))[0].idrs_balance;
  const logsOf = async (conversionId: string) =>
    api.db.query(`select transaction_type, amount from transaction_log where description like ? order by log_id`, [`conversion ${conversionId}:%`]);

  beforeAll(async () => {
    api = await startApi('idrs');
    secret = api.db.config.paymentWebhookSecret;
    alice = await signUp(api.app, 'Alice');
    bob = await signUp(api.app, 'Bob');
  });
  afterAll(async () => {
    await api.close();
  });

  it("issue 14's mint: an ON_RAMP credits nothing until the payment is confirmed", async () => {
    const reply = await convert(alice, { walletAddress: alice.walletAddress, type: 'ON_RAMP', idrAmount: 150000.75 });
    expect(reply.statusCode, reply.body).toBe(201);
    expect(reply.json()).toMatchObject({ type: 'ON_RAMP', idrAmount: '150000.75', idrsAmount: '150000.75', status: 'PENDING', paymentId: null, idrsBalance: '0.00' });
    expect(await idrsOf(alice)).toBe('0.00');
    expect(await logsOf(reply.json().conversionId)).toEqual([{ transaction_type: 'IDRS_ON_RAMP_REQUESTED', amount: '0.00000000' }]);
  });

  it('the signed webhook credits a PENDING ON_RAMP once: a redelivery is a duplicate, nothing more', async () => {
    const conversion = await onRamp(alice, '1000.50');
    const start = await idrsOf(alice);
    const payment = { paymentId: paymentId(), conversionId: conversion.conversionId, status: 'PAID', idrAmount: '1000.50' };
    const first = await webhook(payment);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ duplicate: false, conversion: { status: 'COMPLETED', paymentId: payment.paymentId, settledBy: 'gateway', settledAt: expect.any(String) } });
    expect(await idrsOf(alice)).toBe((Number(start) + 1000.5).toFixed(2));
    const replies = await Promise.all(Array.from({ length: 5 }, () => webhook(payment)));
    for (const reply of replies) expect(reply.json(), reply.body).toMatchObject({ duplicate: true, conversion: { status: 'COMPLETED' } });
    expect(await idrsOf(alice)).toBe((Number(start) + 1000.5).toFixed(2));
    expect(await logsOf(conversion.conversionId)).toEqual([
      { transaction_type: 'IDRS_ON_RAMP_REQUESTED', amount: '0.00000000' },
      { transaction_type: 'IDRS_ON_RAMP', amount: '1000.50000000' },
    ]);
    const shown = await api.app.inject({ url: `/idrs/conversions/${conversion.conversionId}`, headers: alice.headers });
    expect(shown.json()).toMatchObject({ status: 'COMPLETED', paymentId: payment.paymentId });
    expectProblem(await api.app.inject({ url: `/idrs/conversions/${conversion.conversionId}`, headers: bob.headers }), 404, 'CONVERSION_NOT_FOUND');
  });

  it('refuses a webhook not signed with the secret, a changed body, a stale one, and a payment that does not match, writing nothing', async () => {
    const conversion = await onRamp(alice, '500');
    const before = await tableCounts(api.db);
    const payment = { paymentId: paymentId(), conversionId: conversion.conversionId, status: 'PAID', idrAmount: '500' };
    expectProblem(await webhook(payment, 'a-guessed-secret-of-enough-length-0000'), 401, 'SIGNATURE_INVALID');
    const unsigned = await api.app.inject({ method: 'POST', url: '/idrs/payments', payload: payment });
    expectProblem(unsigned, 401, 'SIGNATURE_INVALID');
    const timestamp = nextTimestamp();
    const body = JSON.stringify(payment);
    const changed = await api.app.inject({
      method: 'POST',
      url: '/idrs/payments',
      headers: { 'content-type': 'application/json', 'x-enerlink-timestamp': String(timestamp), 'x-enerlink-signature': signBody(secret, timestamp, body) },
      payload: body.replace('"500"', '"5000000"'),
    });
    expectProblem(changed, 401, 'SIGNATURE_INVALID');
    expectProblem(await webhook(payment, secret, Date.now() - 6 * 60_000), 401, 'SIGNATURE_INVALID');
    const mismatch = await webhook({ ...payment, idrAmount: '5000000' });
    expectProblem(mismatch, 409, 'PAYMENT_MISMATCH');
    expectProblem(await webhook({ ...payment, conversionId: '999999' }), 404, 'CONVERSION_NOT_FOUND');
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it('one payment settles one conversion: its id on another is a 409, and a settled conversion takes no other payment', async () => {
    const first = await onRamp(alice, '10');
    const second = await onRamp(alice, '10');
    const id = paymentId();
    expect((await webhook({ paymentId: id, conversionId: first.conversionId, status: 'PAID', idrAmount: '10' })).statusCode).toBe(200);
    const reused = await webhook({ paymentId: id, conversionId: second.conversionId, status: 'PAID', idrAmount: '10' });
    expectProblem(reused, 409, 'PAYMENT_MISMATCH');
    const again = await webhook({ paymentId: paymentId(), conversionId: first.conversionId, status: 'PAID', idrAmount: '10' });
    expectProblem(again, 409, 'CONVERSION_SETTLED');
    expectProblem(await webhook({ paymentId: id, conversionId: first.conversionId, status: 'FAILED', idrAmount: '10' }), 409, 'CONVERSION_SETTLED');
    expect((await api.app.inject({ url: `/idrs/conversions/${second.conversionId}`, headers: alice.headers })).json().status).toBe('PENDING');
  });

  it('a FAILED payment closes the ON_RAMP with nothing credited', async () => {
    const conversion = await onRamp(bob, '77');
    const reply = await webhook({ paymentId: paymentId(), conversionId: conversion.conversionId, status: 'FAILED', idrAmount: '77' });
    expect(reply.json().conversion).toMatchObject({ status: 'FAILED', idrsBalance: '0.00' });
    expect(await logsOf(conversion.conversionId)).toEqual([
      { transaction_type: 'IDRS_ON_RAMP_REQUESTED', amount: '0.00000000' },
      { transaction_type: 'IDRS_ON_RAMP_FAILED', amount: '0.00000000' },
    ]);
  });

  it('an operator confirms a payment through the admin API, audited, under the same once-only rule', async () => {
    const conversion = await onRamp(bob, '250');
    const id = paymentId();
    const settleUrl = `/admin/idrs/conversions/${conversion.conversionId}/settle`;
    expectProblem(await adminCall(api, 'POST', settleUrl, { paymentId: id, outcome: 'PAID', idrAmount: '250.001' }), 400, 'VALIDATION_FAILED');
    expectProblem(await adminCall(api, 'POST', settleUrl, { paymentId: id, outcome: 'PAID', idrAmount: '2500' }), 409, 'PAYMENT_MISMATCH');
    expectProblem(await adminCall(api, 'POST', settleUrl, { paymentId: id, outcome: 'REFUNDED' }), 400, 'VALIDATION_FAILED');
    expect(await idrsOf(bob)).toBe('0.00');
    const reply = await adminCall(api, 'POST', `/admin/idrs/conversions/${conversion.conversionId}/settle`, { paymentId: id, outcome: 'PAID' });
    expect(reply.statusCode, reply.body).toBe(200);
    expect(reply.json()).toMatchObject({ duplicate: false, conversion: { status: 'COMPLETED', settledBy: 'operator', idrsBalance: '250.00' } });
    // the gateway's webhook for the same payment arriving later changes nothing
    expect((await webhook({ paymentId: id, conversionId: conversion.conversionId, status: 'PAID', idrAmount: '250' })).json().duplicate).toBe(true);
    expect(await idrsOf(bob)).toBe('250.00');
    const [entry] = await auditEntries(api, 'idrs.settle');
    expect(entry).toMatchObject({ outcome: 'succeeded', result: { conversionId: conversion.conversionId, status: 'COMPLETED', paymentId: id, duplicate: false } });
    expectProblem(await api.app.inject({ method: 'POST', url: `/admin/idrs/conversions/${conversion.conversionId}/settle`, payload: { paymentId: id, outcome: 'PAID' } }), 401, 'UNAUTHORIZED');
  });

  it('OFF_RAMP debits at once and records the payout owed; a sent payout completes it, a failed one refunds it', async () => {
    await fund(api.db, alice.walletAddress, '0', '1000.00');
    const sent = await convert(alice, { walletAddress: alice.walletAddress, type: 'OFF_RAMP', idrAmount: '300.25' });
    expect(sent.json()).toMatchObject({ status: 'PENDING', idrsBalance: '699.75' });
    const failed = await convert(alice, { walletAddress: alice.walletAddress, type: 'OFF_RAMP', idrAmount: '600' });
    expect(failed.json()).toMatchObject({ status: 'PENDING', idrsBalance: '99.75' });
    // the payout owed cannot be spent again
    expectProblem(await convert(alice, { walletAddress: alice.walletAddress, type: 'OFF_RAMP', idrAmount: '100' }), 409, 'INSUFFICIENT_BALANCE');
    expect((await webhook({ paymentId: paymentId(), conversionId: sent.json().conversionId, status: 'PAID', idrAmount: '300.25' })).json().conversion.status).toBe('COMPLETED');
    const refunded = await webhook({ paymentId: paymentId(), conversionId: failed.json().conversionId, status: 'FAILED', idrAmount: '600' });
    expect(refunded.json().conversion).toMatchObject({ status: 'FAILED', idrsBalance: '699.75' });
    expect(await logsOf(sent.json().conversionId)).toEqual([
      { transaction_type: 'IDRS_OFF_RAMP', amount: '-300.25000000' },
      { transaction_type: 'IDRS_PAYOUT_SENT', amount: '0.00000000' },
    ]);
    expect(await logsOf(failed.json().conversionId)).toEqual([
      { transaction_type: 'IDRS_OFF_RAMP', amount: '-600.00000000' },
      { transaction_type: 'IDRS_OFF_RAMP_REFUND', amount: '600.00000000' },
    ]);
    const list = await api.app.inject({ url: '/idrs/conversions?limit=2', headers: alice.headers });
    expect(list.json().items.map((c: { conversionId: string }) => c.conversionId)).toEqual([failed.json().conversionId, sent.json().conversionId]);
  });

  it('never overdraws under concurrent OFF_RAMPs', async () => {
    await fund(api.db, bob.walletAddress, '0', '100000.25');
    const replies = await Promise.all(Array.from({ length: 12 }, () => convert(bob, { walletAddress: bob.walletAddress, type: 'OFF_RAMP', idrAmount: '10000.00' })));
    expect(replies.filter(reply => reply.statusCode === 201)).toHaveLength(10);
    expect(await idrsOf(bob)).toBe('0.25');
  });

  it('credits a concurrently redelivered webhook exactly once', async () => {
    const conversion = await onRamp(bob, '1234.56');
    const payment = { paymentId: paymentId(), conversionId: conversion.conversionId, status: 'PAID', idrAmount: '1234.56' };
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => webhook(payment, secret, Date.now() + i)));
    expect(replies.map(reply => reply.json().duplicate).filter(duplicate => !duplicate)).toHaveLength(1);
    expect(await idrsOf(bob)).toBe('1234.81');
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
