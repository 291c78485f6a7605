import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { applyReferenceData } from '../../src/lifecycle/schema-lifecycle.ts';
import { limitsOf } from '../../src/limits/limits.service.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { expectProblem, fund, provisionMeter, signUp, tableCounts, type Account, type Api } from '../api.ts';
import { createOrm } from '../../src/orm.ts';
import { buildTestApp, createTestDatabase } from '../helper.ts';

const inHours = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();

describe('limits: the defaults come from the reference data, never from code', () => {
  let api: Api;
  let app: FastifyInstance;
  let seller: Account;
  const admin = (method: 'GET' | 'POST', url: string, payload?: object) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${api.db.config.adminToken}` }, ...(payload && { payload }) });
  const offer = (account: Account, energyKwh: string) =>
    app.inject({ method: 'POST', url: '/offers', headers: account.headers, payload: { energyKwh, priceIdrsPerKwh: '90', expiresAt: inHours(1) } });

  beforeAll(async () => {
    // migrated, the reference seeders not applied: a database an operator has not finished setting up
    const db = await createTestDatabase('limits_reference');
    app = await buildTestApp(db);
    await migratorOf(app.orm).up();
    api = { db, app, close: async () => { await app.close(); await db.drop(); } };
    seller = await signUp(app, 'Limits Seller');
    await fund(db, seller.walletAddress, '5000', '0');
  });
  afterAll(async () => {
    await api?.close();
  });

  it('without the defaults, offers, claims and the admin limits API answer 503 naming npm run seed:reference, and write nothing', async () => {
    const meter = await provisionMeter(api, 'MTR-LIMITS-1');
    const before = await tableCounts(api.db);
    for (const reply of [
      await offer(seller, '10'),
      await app.inject({ method: 'POST', url: '/meters', headers: seller.headers, payload: { meterId: meter.meterId, pairingCode: meter.pairingCode } }),
      await admin('GET', `/admin/users/${seller.userId}/limits`),
      await admin('POST', `/admin/users/${seller.userId}/limits`, { maxMeters: 9 }),
    ]) {
      expectProblem(reply, 503, 'REFERENCE_DATA_MISSING');
      expect(reply.json().detail).toContain('npm run seed:reference');
    }
    expect(await tableCounts(api.db)).toEqual(before);
    expect(await api.db.query('select count(*)::int as n from user_limit')).toEqual([{ n: 0 }]);
    // an unknown user is still a 404, not a 503
    expectProblem(await admin('GET', '/admin/users/user_nobody/limits'), 404, 'USER_NOT_FOUND');
  });

  it('once the reference seeders ran, the same requests succeed with the seeded defaults', async () => {
    expect((await applyReferenceData(app.orm.em.fork())).applied).toEqual(['20261202000001-default-limits']);
    const view = await admin('GET', `/admin/users/${seller.userId}/limits`);
    expect(view.statusCode, view.body).toBe(200);
    expect(view.json()).toEqual({ userId: seller.userId, maxMeters: 5, maxOpenOffers: 20, maxTradeKwh: '1000.000000', custom: [] });
    expect((await offer(seller, '10')).statusCode).toBe(201);
    // above the seeded per-offer limit: the 409 names it
    const tooBig = await offer(seller, '1000.000001');
    expectProblem(tooBig, 409, 'LIMIT_EXCEEDED');
    expect(tooBig.json()).toMatchObject({ limit: 'maxTradeKwh', max: '1000.000000' });
  });

  it("limitsOf coalesces the user's own limits over the defaults, and follows a change of the defaults at once", async () => {
    const set = await admin('POST', `/admin/users/${seller.userId}/limits`, { maxOpenOffers: 2, maxTradeKwh: '2500.5' });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json()).toEqual({ userId: seller.userId, maxMeters: 5, maxOpenOffers: 2, maxTradeKwh: '2500.500000', custom: ['maxOpenOffers', 'maxTradeKwh'] });
    const em = app.orm.em.fork();
    expect(await limitsOf(em, seller.userId)).toEqual({ maxMeters: 5, maxOpenOffers: 2, maxTradeKwh: '2500.500000' });
    // what a later reference seeder would do: the defaults change, the user's own stay
    await api.db.query('update limit_defaults set max_meters = 7, max_open_offers = 30');
    expect(await limitsOf(em, seller.userId)).toEqual({ maxMeters: 7, maxOpenOffers: 2, maxTradeKwh: '2500.500000' });
    // null puts a limit back to the default
    const reset = await admin('POST', `/admin/users/${seller.userId}/limits`, { maxOpenOffers: null });
    expect(reset.json()).toMatchObject({ maxOpenOffers: 30, custom: ['maxTradeKwh'] });
    await expect(limitsOf(em, 'user_nobody')).rejects.toMatchObject({ statusCode: 404, code: 'USER_NOT_FOUND' });
    // one statement per call, whatever the user has: the hot path of POST /trades relies on it
    const statements: string[] = [];
    const counted = await createOrm(api.db.config, { debug: ['query'], logger: message => statements.push(message) });
    try {
      await counted.em.getConnection().execute('select 1');
      for (const userId of [seller.userId, 'user_nobody']) {
        statements.length = 0;
        await limitsOf(counted.em.fork(), userId).catch(() => {});
        expect(statements.filter(line => /select/i.test(line)), userId).toHaveLength(1);
      }
    } finally {
      await counted.close();
    }
    // the defaults deleted again: 503, even for a user with limits of their own
    await api.db.query('delete from limit_defaults');
    await expect(limitsOf(em, seller.userId)).rejects.toMatchObject({ statusCode: 503, code: 'REFERENCE_DATA_MISSING' });
  });
});
