import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../src/http/signed-request.ts';
import { adminCall, auditEntries, expectProblem, nextTimestamp, ownMeter, provisionMeter, settle, signedPost, signUp, startApi, tableCounts, type Account, type Api, type ProvisionedMeter } from '../api.ts';

const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
const balance = async (api: Api, account: Account) =>
  (await api.db.query('select energy_balance from wallet where wallet_address = ?', [account.walletAddress]))[0].energy_balance;

describe('meters and settlements', () => {
  let api: Api;
  let alice: Account;
  let bob: Account;
  let aliceMeter: ProvisionedMeter;

  beforeAll(async () => {
    api = await startApi('meters');
    alice = await signUp(api.app, 'Alice');
    bob = await signUp(api.app, 'Bob');
    aliceMeter = await ownMeter(api, alice, 'MTR-ALICE-1', '4.5');
  });
  afterAll(async () => {
    await api.close();
  });

  describe('the abuses of issue 14', () => {
    it('POST /meters {"meterId":"X"} registers nothing: a meter is claimed only with the pairing code the operator issued', async () => {
      const before = await tableCounts(api.db);
      const reply = await api.app.inject({ method: 'POST', url: '/meters', headers: alice.headers, payload: { meterId: 'X' } });
      expectProblem(reply, 400, 'VALIDATION_FAILED');
      expect(reply.json().detail).toMatch(/pairingCode/);
      const guessed = await api.app.inject({ method: 'POST', url: '/meters', headers: alice.headers, payload: { meterId: 'X', pairingCode: 'AAAA-BBBB-CCCC' } });
      expectProblem(guessed, 403, 'PAIRING_REFUSED');
      expect(await tableCounts(api.db)).toEqual(before);
    });

    it("a user's bearer token settles nothing: only the meter's signature does", async () => {
      const before = await tableCounts(api.db);
      const reply = await api.app.inject({
        method: 'POST',
        url: '/meters/MTR-ALICE-1/settlements',
        headers: alice.headers,
        payload: { periodStart: hoursAgo(2), periodEnd: hoursAgo(1), netKwh: '1' },
      });
      expectProblem(reply, 401, 'SIGNATURE_INVALID');
      expect(await tableCounts(api.db)).toEqual(before);
    });

    it('999999999999.999999 kWh for a 1 ms period, 99 times, credits nothing: too short a period, and beyond capacity x time', async () => {
      const before = await tableCounts(api.db);
      const start = Date.now() - 3_600_000;
      for (let i = 0; i < 99; i++) {
        const period = { periodStart: new Date(start + i).toISOString(), periodEnd: new Date(start + i + 1).toISOString(), netKwh: '999999999999.999999' };
        expectProblem(await settle(api, aliceMeter, period), 400, 'INVALID_PERIOD');
      }
      const hour = await settle(api, aliceMeter, { periodStart: hoursAgo(2), periodEnd: hoursAgo(1), netKwh: '999999999999.999999' });
      expectProblem(hour, 409, 'CAPACITY_EXCEEDED');
      expect(hour.json().detail).toBe('Meter MTR-ALICE-1 (4.500 kW) can export at most 4.500000 kWh in 3600 s, not 999999999999.999999');
      expect(await tableCounts(api.db)).toEqual(before);
    });

    it('a replayed settlement, a changed body, a wrong key and a stale timestamp are refused, nothing written', async () => {
      const payload = JSON.stringify({ periodStart: hoursAgo(100), periodEnd: hoursAgo(99), netKwh: '1' });
      const timestamp = nextTimestamp();
      expect((await settle(api, aliceMeter, payload, timestamp)).statusCode).toBe(201);
      const before = await tableCounts(api.db);
      expectProblem(await settle(api, aliceMeter, payload, timestamp), 409, 'SIGNATURE_REPLAYED');
      // the signature of one body on another: the body changed on the way
      const tampered = await api.app.inject({
        method: 'POST',
        url: '/meters/MTR-ALICE-1/settlements',
        headers: { 'content-type': 'application/json', 'x-enerlink-timestamp': String(timestamp + 1), 'x-enerlink-signature': signBody(aliceMeter.deviceKey, timestamp + 1, payload) },
        payload: JSON.stringify({ periodStart: hoursAgo(98), periodEnd: hoursAgo(97), netKwh: '1' }),
      });
      expectProblem(tampered, 401, 'SIGNATURE_INVALID');
      expectProblem(await settle(api, { ...aliceMeter, deviceKey: 'not-the-key' }, { periodStart: hoursAgo(98), periodEnd: hoursAgo(97), netKwh: '1' }), 401, 'SIGNATURE_INVALID');
      const stale = await settle(api, aliceMeter, { periodStart: hoursAgo(98), periodEnd: hoursAgo(97), netKwh: '1' }, Date.now() - 10 * 60_000);
      expectProblem(stale, 401, 'SIGNATURE_INVALID');
      expect(stale.json().detail).toMatch(/more than 300 s from the server's time/);
      expectProblem(await settle(api, { ...aliceMeter, meterId: 'MTR-NOBODY' }, { periodStart: hoursAgo(98), periodEnd: hoursAgo(97), netKwh: '1' }), 401, 'SIGNATURE_INVALID');
      expect(await tableCounts(api.db)).toEqual(before);
    });
  });

  it('the operator provisions, the household claims once with the code, and sees only its own meters', async () => {
    const meter = await provisionMeter(api, 'MTR-BOB-1', '3.3', 'Bandung');
    expect(meter.deviceKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(meter.pairingCode).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    // an unclaimed meter's energy credits no one
    expectProblem(await settle(api, meter, { periodStart: hoursAgo(2), periodEnd: hoursAgo(1), netKwh: '1' }), 409, 'METER_UNCLAIMED');
    const claimed = await api.app.inject({ method: 'POST', url: '/meters', headers: bob.headers, payload: { meterId: 'MTR-BOB-1', pairingCode: meter.pairingCode.toLowerCase() } });
    expect(claimed.statusCode, claimed.body).toBe(201);
    expect(claimed.json()).toMatchObject({ meterId: 'MTR-BOB-1', location: 'Bandung', status: 'ACTIVE', capacityKw: '3.300', claimedAt: expect.any(String) });
    // the code is used up: nobody claims it again, not even its owner
    expectProblem(await api.app.inject({ method: 'POST', url: '/meters', headers: alice.headers, payload: { meterId: 'MTR-BOB-1', pairingCode: meter.pairingCode } }), 403, 'PAIRING_REFUSED');
    expect((await api.app.inject({ url: '/meters', headers: bob.headers })).json().map((m: { meterId: string }) => m.meterId)).toEqual(['MTR-BOB-1']);
    expectProblem(await api.app.inject({ url: '/meters/MTR-BOB-1', headers: alice.headers }), 404, 'METER_NOT_FOUND');
    // the operator's view: owner, credential, no pairing pending; never the key itself
    const shown = await adminCall(api, 'GET', '/admin/meters/MTR-BOB-1');
    expect(shown.json()).toMatchObject({ userId: bob.userId, hasDeviceKey: true, pairingExpiresAt: null });
    expect(shown.body).not.toContain(meter.deviceKey);
    expectProblem(await adminCall(api, 'POST', '/admin/meters/MTR-BOB-1/pairing-code'), 409, 'METER_TAKEN');
    // the audit log records the provisioning, never the secrets its reply showed
    const [entry] = await auditEntries(api, 'meters.provision');
    expect(entry).toMatchObject({ outcome: 'succeeded', result: { meterId: expect.any(String) } });
    const audited = JSON.stringify(await api.db.query('select * from enerlink_admin_audit'));
    expect(audited).not.toContain(meter.deviceKey);
    expect(audited).not.toContain(meter.pairingCode);
  });

  it('refuses an expired pairing code, and a new one from the operator works', async () => {
    const meter = await provisionMeter(api, 'MTR-EXPIRED', '2');
    await api.db.query(`update smart_meter set pairing_expires_at = now() - interval '1 second' where meter_id = 'MTR-EXPIRED'`);
    expectProblem(await api.app.inject({ method: 'POST', url: '/meters', headers: bob.headers, payload: { meterId: 'MTR-EXPIRED', pairingCode: meter.pairingCode } }), 403, 'PAIRING_REFUSED');
    const issued = await adminCall(api, 'POST', '/admin/meters/MTR-EXPIRED/pairing-code');
    expect(issued.statusCode, issued.body).toBe(200);
    const claimed = await api.app.inject({ method: 'POST', url: '/meters', headers: bob.headers, payload: { meterId: 'MTR-EXPIRED', pairingCode: issued.json().pairingCode } });
    expect(claimed.statusCode, claimed.body).toBe(201);
  });

  it('lets one of many users racing with the same code claim the meter', async () => {
    const meter = await provisionMeter(api, 'MTR-RACE', '2');
    const racers = [alice, bob, await signUp(api.app, 'Carol'), await signUp(api.app, 'Dave')];
    const replies = await Promise.all(racers.map(account => api.app.inject({ method: 'POST', url: '/meters', headers: account.headers, payload: { meterId: 'MTR-RACE', pairingCode: meter.pairingCode } })));
    expect(replies.map(reply => reply.statusCode).sort()).toEqual([201, 403, 403, 403]);
    expect(await api.db.query(`select count(*)::int as n from smart_meter where meter_id = 'MTR-RACE' and user_id is not null`)).toEqual([{ n: 1 }]);
  });

  it('settles a signed period: credits the owner exactly and writes the settlement and one log row', async () => {
    const start = await balance(api, alice);
    const reply = await settle(api, aliceMeter, { periodStart: hoursAgo(5), periodEnd: hoursAgo(4), netKwh: 0.1 });
    expect(reply.statusCode, reply.body).toBe(201);
    const body = reply.json();
    expect(body).toMatchObject({ meterId: 'MTR-ALICE-1', netKwh: '0.100000', status: 'SETTLED', walletAddress: alice.walletAddress });
    // capacity x time exactly: 4.5 kW for an hour
    const full = await settle(api, aliceMeter, { periodStart: hoursAgo(4), periodEnd: hoursAgo(3), netKwh: '4.5' });
    expect(full.statusCode, full.body).toBe(201);
    expect(await balance(api, alice)).toBe((Number(start) + 4.6).toFixed(6));
    const logs = await api.db.query(`select transaction_type, amount, currency, description from transaction_log where description like ?`, [`settlement ${body.settlementId}:%`]);
    expect(logs).toEqual([{ transaction_type: 'ENERGY_SETTLEMENT', amount: '0.10000000', currency: 'KWH', description: expect.stringMatching(`^settlement ${body.settlementId}: meter MTR-ALICE-1`) }]);
    expect(await adminCall(api, 'GET', '/admin/meters/MTR-ALICE-1').then(r => r.json().lastSignedAt)).toEqual(expect.any(String));
  });

  it('refuses a period overlapping a settled one, and accepts the adjacent one', async () => {
    const before = await tableCounts(api.db);
    expectProblem(await settle(api, aliceMeter, { periodStart: hoursAgo(4.5), periodEnd: hoursAgo(3.5), netKwh: '1' }), 409, 'SETTLEMENT_OVERLAP');
    expectProblem(await settle(api, aliceMeter, { periodStart: hoursAgo(6), periodEnd: hoursAgo(2), netKwh: '1' }), 409, 'SETTLEMENT_OVERLAP');
    expect(await tableCounts(api.db)).toEqual(before);
    expect((await settle(api, aliceMeter, { periodStart: hoursAgo(3), periodEnd: hoursAgo(2), netKwh: '1' })).statusCode).toBe(201);
  });

  it('settles concurrent overlapping requests for one meter exactly once', async () => {
    const start = await balance(api, alice);
    const period = { periodStart: hoursAgo(30), periodEnd: hoursAgo(29), netKwh: '1.5' };
    const replies = await Promise.all(Array.from({ length: 10 }, () => settle(api, aliceMeter, period)));
    expect(replies.map(reply => reply.statusCode).sort()).toEqual([201, ...Array(9).fill(409)]);
    expect(await balance(api, alice)).toBe((Number(start) + 1.5).toFixed(6));
  });

  it('refuses a period from before the claim: that energy was not the owner\'s', async () => {
    const reply = await settle(api, aliceMeter, { periodStart: hoursAgo(24 * 11), periodEnd: hoursAgo(24 * 11 - 1), netKwh: '1' });
    expectProblem(reply, 400, 'INVALID_PERIOD');
    expect(reply.json().detail).toMatch(/before the meter was claimed/);
  });

  it('adopts a meter registered before provisioning: it settles once the operator issues its key and capacity', async () => {
    await api.db.query(`insert into smart_meter (meter_id, user_id, location, created_at, updated_at) values ('MTR-LEGACY', ?, 'Depok', now() - interval '30 days', now() - interval '30 days')`, [bob.userId]);
    const keyless = { meterId: 'MTR-LEGACY', deviceKey: 'none', pairingCode: '' };
    expectProblem(await settle(api, keyless, { periodStart: hoursAgo(2), periodEnd: hoursAgo(1), netKwh: '1' }), 401, 'SIGNATURE_INVALID');
    const issued = await adminCall(api, 'POST', '/admin/meters/MTR-LEGACY/device-key');
    expect(issued.statusCode, issued.body).toBe(200);
    const meter = { ...keyless, deviceKey: issued.json().deviceKey };
    // its legacy capacity is 0 kW: nothing to export until the operator records the real one
    expectProblem(await settle(api, meter, { periodStart: hoursAgo(2), periodEnd: hoursAgo(1), netKwh: '1' }), 409, 'CAPACITY_EXCEEDED');
    expect((await adminCall(api, 'POST', '/admin/meters/MTR-LEGACY/capacity', { capacityKw: '2.5' })).json().capacityKw).toBe('2.500');
    expect((await settle(api, meter, { periodStart: hoursAgo(2), periodEnd: hoursAgo(1), netKwh: '2.5' })).statusCode).toBe(201);
    // a rotated key replaces the old one at once
    const rotated = (await adminCall(api, 'POST', '/admin/meters/MTR-LEGACY/device-key')).json().deviceKey;
    expectProblem(await settle(api, meter, { periodStart: hoursAgo(1), periodEnd: hoursAgo(0.5), netKwh: '1' }), 401, 'SIGNATURE_INVALID');
    expect((await settle(api, { ...meter, deviceKey: rotated }, { periodStart: hoursAgo(1), periodEnd: hoursAgo(0.5), netKwh: '1' })).statusCode).toBe(201);
  });

  it('keeps the exact digits of a JSON number that a float could not hold', async () => {
    const big = await ownMeter(api, bob, 'MTR-BIG', '9999999.999');
    const reply = await settle(api, big, `{"periodStart":"${hoursAgo(20)}","periodEnd":"${hoursAgo(4)}","netKwh":123456789.123457}`);
    expect(reply.statusCode, reply.body).toBe(201);
    expect(reply.json()).toMatchObject({ netKwh: '123456789.123457' });
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
    ['a period of 30 seconds', { periodStart: hoursAgo(49), periodEnd: new Date(Date.parse(hoursAgo(49)) + 30_000).toISOString(), netKwh: '0.01' }, 'INVALID_PERIOD'],
    ['a period of 25 hours', { periodStart: hoursAgo(60), periodEnd: hoursAgo(35), netKwh: '1' }, 'INVALID_PERIOD'],
    ['future period', { periodStart: hoursAgo(1), periodEnd: hoursAgo(-1), netKwh: '1' }, 'INVALID_PERIOD'],
    ['not a timestamp', { periodStart: 'yesterday', periodEnd: hoursAgo(49), netKwh: '1' }, 'VALIDATION_FAILED'],
  ])('refuses a settlement with %s: 400, nothing written', async (_case, payload, code) => {
    const before = await tableCounts(api.db);
    expectProblem(await settle(api, aliceMeter, payload), 400, code);
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it.each([
    ['the year 0000', '0000-01-01T00:00:00Z', 'is before 1970-01-01T00:00:00.000Z'],
    ['before the epoch', '1969-12-31T23:59:59Z', 'is before 1970-01-01T00:00:00.000Z'],
    ['a leap second', '2016-12-31T23:59:60Z', 'is a leap second'],
    ['a leap second written with a space and lower case', '2016-12-31 23:59:60z', 'is a leap second'],
  ])('refuses a periodStart of %s with 400 INVALID_PERIOD saying why, nothing written', async (_case, periodStart, reason) => {
    const before = await tableCounts(api.db);
    const reply = await settle(api, aliceMeter, { periodStart, periodEnd: '2017-01-01T00:00:00Z', netKwh: '1' });
    expectProblem(reply, 400, 'INVALID_PERIOD');
    expect(reply.json().detail).toContain(`periodStart ${periodStart} ${reason}`);
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it('refuses a leap second as periodEnd too', async () => {
    const leap = await settle(api, aliceMeter, { periodStart: '2016-12-31T23:00:00Z', periodEnd: '2016-12-31T23:59:60Z', netKwh: '1' });
    expectProblem(leap, 400, 'INVALID_PERIOD');
    expect(leap.json().detail).toContain('periodEnd 2016-12-31T23:59:60Z is a leap second');
  });

  it('refuses the operator a meter id already provisioned, and a malformed one', async () => {
    expectProblem(await adminCall(api, 'POST', '/admin/meters', { meterId: 'MTR-ALICE-1', capacityKw: '1' }), 409, 'METER_TAKEN');
    expectProblem(await adminCall(api, 'POST', '/admin/meters', { meterId: 'x'.repeat(65), capacityKw: '1' }), 400, 'VALIDATION_FAILED');
    expectProblem(await api.app.inject({ url: `/meters/${'x'.repeat(65)}`, headers: alice.headers }), 400, 'VALIDATION_FAILED');
    expectProblem(await signedPost(api, '/meters/MTR-ALICE-1/settlements', aliceMeter.deviceKey, '{"periodStart":'), 400, 'INVALID_JSON');
  });

  it('holds a user to the meter limit the operator set, with a 409 that names it', async () => {
    const carol = await signUp(api.app, 'Carol Limit');
    expect((await adminCall(api, 'POST', `/admin/users/${carol.userId}/limits`, { maxMeters: 1 })).json()).toMatchObject({ maxMeters: 1, custom: ['maxMeters'] });
    await ownMeter(api, carol, 'MTR-CAROL-1', '1');
    const second = await provisionMeter(api, 'MTR-CAROL-2', '1');
    const reply = await api.app.inject({ method: 'POST', url: '/meters', headers: carol.headers, payload: { meterId: 'MTR-CAROL-2', pairingCode: second.pairingCode } });
    expectProblem(reply, 409, 'LIMIT_EXCEEDED');
    expect(reply.json()).toMatchObject({ limit: 'maxMeters', max: '1' });
    expect(reply.json().detail).toMatch(/limit maxMeters: 1/);
    // the code is not used up by a refused claim
    await adminCall(api, 'POST', `/admin/users/${carol.userId}/limits`, { maxMeters: null });
    expect((await api.app.inject({ method: 'POST', url: '/meters', headers: carol.headers, payload: { meterId: 'MTR-CAROL-2', pairingCode: second.pairingCode } })).statusCode).toBe(201);
  });
});
