import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, signUp, startApi, tableCounts, type Account, type Api } from '../api.ts';

const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();

describe('meters and settlements', () => {
  let api: Api;
  let alice: Account;
  let bob: Account;

  beforeAll(async () => {
    api = await startApi('meters');
    alice = await signUp(api.app, 'Alice');
    bob = await signUp(api.app, 'Bob');
    await api.db.query(`insert into smart_meter (meter_id, user_id, location, capacity_kw) values ('MTR-BOB', ?, 'Bandung', 5)`, [bob.userId]);
  });
  afterAll(async () => {
    await api.close();
  });

  // A string payload is sent as it is: JSON the test's own JSON.stringify would not write.
  const settle = (account: Account, meterId: string, payload: object | string) =>
    api.app.inject({
      method: 'POST',
      url: `/meters/${meterId}/settlements`,
      headers: { ...account.headers, 'content-type': 'application/json' },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  it('registers a meter and lists and shows only own meters', async () => {
    const created = await api.app.inject({
      method: 'POST',
      url: '/meters',
      headers: alice.headers,
      payload: { meterId: 'MTR-ALICE-1', location: 'Jakarta', capacityKw: 4.5 },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ meterId: 'MTR-ALICE-1', location: 'Jakarta', status: 'ACTIVE', capacityKw: '4.500' });
    const list = await api.app.inject({ url: '/meters', headers: alice.headers });
    expect(list.json().map((meter: { meterId: string }) => meter.meterId)).toEqual(['MTR-ALICE-1']);
    expect((await api.app.inject({ url: '/meters/MTR-ALICE-1', headers: alice.headers })).json().capacityKw).toBe('4.500');
  });

  it("answers 404 for another user's meter, to read it or to settle it, and writes nothing", async () => {
    expectProblem(await api.app.inject({ url: '/meters/MTR-BOB', headers: alice.headers }), 404, 'METER_NOT_FOUND');
    const before = await tableCounts(api.db);
    expectProblem(await settle(alice, 'MTR-BOB', { periodStart: hoursAgo(2), periodEnd: hoursAgo(1), netKwh: '1' }), 404, 'METER_NOT_FOUND');
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it('refuses a meter id that is already registered', async () => {
    const reply = await api.app.inject({ method: 'POST', url: '/meters', headers: alice.headers, payload: { meterId: 'MTR-BOB' } });
    expectProblem(reply, 409, 'METER_TAKEN');
  });

  it('settles a period: credits the wallet exactly and writes the settlement and one log row', async () => {
    const reply = await settle(alice, 'MTR-ALICE-1', { periodStart: hoursAgo(5), periodEnd: hoursAgo(4), netKwh: 0.1 });
    expect(reply.statusCode, reply.body).toBe(201);
    const body = reply.json();
    expect(body).toMatchObject({ meterId: 'MTR-ALICE-1', netKwh: '0.100000', status: 'SETTLED', walletAddress: alice.walletAddress, energyBalance: '0.100000' });
    const again = await settle(alice, 'MTR-ALICE-1', { periodStart: hoursAgo(4), periodEnd: hoursAgo(3), netKwh: '0.2' });
    expect(again.json().energyBalance).toBe('0.300000');

    const [wallet] = await api.db.query('select energy_balance from wallet where wallet_address = ?', [alice.walletAddress]);
    expect(wallet.energy_balance).toBe('0.300000');
    const settlements = await api.db.query(`select net_kwh, status from energy_settlement where meter_id = 'MTR-ALICE-1' order by period_start`);
    expect(settlements).toEqual([
      { net_kwh: '0.100000', status: 'SETTLED' },
      { net_kwh: '0.200000', status: 'SETTLED' },
    ]);
    const logs = await api.db.query(`select transaction_type, amount, currency, description from transaction_log where user_id = ? order by log_id`, [alice.userId]);
    expect(logs).toEqual([
      { transaction_type: 'ENERGY_SETTLEMENT', amount: '0.10000000', currency: 'KWH', description: expect.stringMatching(`^settlement ${body.settlementId}: meter MTR-ALICE-1`) },
      { transaction_type: 'ENERGY_SETTLEMENT', amount: '0.20000000', currency: 'KWH', description: expect.any(String) },
    ]);
  });

  it('refuses a period overlapping a settled one, and accepts the adjacent one', async () => {
    const before = await tableCounts(api.db);
    expectProblem(await settle(alice, 'MTR-ALICE-1', { periodStart: hoursAgo(4.5), periodEnd: hoursAgo(3.5), netKwh: '1' }), 409, 'SETTLEMENT_OVERLAP');
    expectProblem(await settle(alice, 'MTR-ALICE-1', { periodStart: hoursAgo(6), periodEnd: hoursAgo(2), netKwh: '1' }), 409, 'SETTLEMENT_OVERLAP');
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it('settles concurrent overlapping requests for one meter exactly once', async () => {
    const period = { periodStart: hoursAgo(30), periodEnd: hoursAgo(29), netKwh: '1.5' };
    const replies = await Promise.all(Array.from({ length: 10 }, () => settle(alice, 'MTR-ALICE-1', period)));
    expect(replies.map(reply => reply.statusCode).sort()).toEqual([201, ...Array(9).fill(409)]);
    const [wallet] = await api.db.query('select energy_balance from wallet where wallet_address = ?', [alice.walletAddress]);
    expect(wallet.energy_balance).toBe('1.800000');
  });

  it('keeps the exact digits of a JSON number that a float could not hold', async () => {
    const reply = await settle(bob, 'MTR-BOB', `{"periodStart":"${hoursAgo(80)}","periodEnd":"${hoursAgo(79)}","netKwh":123456789012.123457}`);
    expect(reply.statusCode, reply.body).toBe(201);
    expect(reply.json()).toMatchObject({ netKwh: '123456789012.123457', energyBalance: '123456789012.123457' });
  });

  it.each([
    ['zero', { periodStart: hoursAgo(50), periodEnd: hoursAgo(49), netKwh: '0' }, 'INVALID_AMOUNT'],
    ['negative', { periodStart: hoursAgo(50), periodEnd: hoursAgo(49), netKwh: '-1' }, 'VALIDATION_FAILED'],
    ['10^12 kWh, more than a log row holds', { periodStart: hoursAgo(50), periodEnd: hoursAgo(49), netKwh: '1000000000000' }, 'VALIDATION_FAILED'],
    ['seven decimals', { periodStart: hoursAgo(50), periodEnd: hoursAgo(49), netKwh: '0.0000001' }, 'VALIDATION_FAILED'],
    ['a number with seven decimals', { periodStart: hoursAgo(50), periodEnd: hoursAgo(49), netKwh: 0.1000001 }, 'VALIDATION_FAILED'],
    ['exponent notation', `{"periodStart":"${hoursAgo(50)}","periodEnd":"${hoursAgo(49)}","netKwh":1e3}`, 'VALIDATION_FAILED'],
    ['17 significant digits', `{"periodStart":"${hoursAgo(50)}","periodEnd":"${hoursAgo(49)}","netKwh":1.0000000000000001}`, 'VALIDATION_FAILED'],
    ['end before start', { periodStart: hoursAgo(49), periodEnd: hoursAgo(50), netKwh: '1' }, 'INVALID_PERIOD'],
    ['empty period', { periodStart: hoursAgo(49), periodEnd: hoursAgo(49), netKwh: '1' }, 'INVALID_PERIOD'],
    ['future period', { periodStart: hoursAgo(1), periodEnd: hoursAgo(-1), netKwh: '1' }, 'INVALID_PERIOD'],
    ['not a timestamp', { periodStart: 'yesterday', periodEnd: hoursAgo(49), netKwh: '1' }, 'VALIDATION_FAILED'],
  ])('refuses a settlement with %s: 400, nothing written', async (_case, payload, code) => {
    const before = await tableCounts(api.db);
    expectProblem(await settle(alice, 'MTR-ALICE-1', payload), 400, code);
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it('refuses a NUL character in a location (PostgreSQL text cannot hold one) with a 400, not a 500', async () => {
    const before = await tableCounts(api.db);
    const reply = await api.app.inject({ method: 'POST', url: '/meters', headers: alice.headers, payload: { meterId: 'MTR-NUL', location: 'Jakarta\u0000Selatan' } });
    expectProblem(reply, 400, 'VALIDATION_FAILED');
    expect(reply.json().detail).toBe('body.location must not contain the NUL character (\\u0000)');
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it.each([
    ['the year 0000', '0000-01-01T00:00:00Z', 'is before 1970-01-01T00:00:00.000Z'],
    ['before the epoch', '1969-12-31T23:59:59Z', 'is before 1970-01-01T00:00:00.000Z'],
    ['a leap second', '2016-12-31T23:59:60Z', 'is a leap second'],
    ['a leap second written with a space and lower case', '2016-12-31 23:59:60z', 'is a leap second'],
  ])('refuses a periodStart of %s with 400 INVALID_PERIOD saying why, nothing written', async (_case, periodStart, reason) => {
    const before = await tableCounts(api.db);
    const reply = await settle(alice, 'MTR-ALICE-1', { periodStart, periodEnd: '2017-01-01T00:00:00Z', netKwh: '1' });
    expectProblem(reply, 400, 'INVALID_PERIOD');
    expect(reply.json().detail).toContain(`periodStart ${periodStart} ${reason}`);
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it('refuses a leap second as periodEnd too, and accepts the same period ending a second later', async () => {
    const before = await tableCounts(api.db);
    const leap = await settle(alice, 'MTR-ALICE-1', { periodStart: '2016-12-31T23:00:00Z', periodEnd: '2016-12-31T23:59:60Z', netKwh: '1' });
    expectProblem(leap, 400, 'INVALID_PERIOD');
    expect(leap.json().detail).toContain('periodEnd 2016-12-31T23:59:60Z is a leap second');
    expect(await tableCounts(api.db)).toEqual(before);
    const next = await settle(alice, 'MTR-ALICE-1', { periodStart: '2016-12-31T23:00:00Z', periodEnd: '2017-01-01T00:00:00Z', netKwh: '1' });
    expect(next.statusCode, next.body).toBe(201);
  });

  it('answers 400 for a malformed meter id', async () => {
    expectProblem(await api.app.inject({ url: `/meters/${'x'.repeat(65)}`, headers: alice.headers }), 400, 'VALIDATION_FAILED');
  });
});
