import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adminCall, expectProblem, fund, ownMeter, settle, signUp, startApi, tableCounts, type Account, type Api, type ProvisionedMeter } from '../api.ts';

const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
const CODE = 'AAAA-BBBB-CCCC';

// One policy for every route (src/http/input-policy.ts): these go through each domain route
// that takes input, with the database checked after every refusal.
describe('the app-wide input policy', () => {
  let api: Api;
  let alice: Account;
  let bob: Account;
  let meter: ProvisionedMeter;

  // A string payload is sent as it is: JSON that JSON.stringify would not write (exact digits).
  const send = (method: 'GET' | 'POST', url: string, payload?: object | string, account: Account | null = alice) =>
    api.app.inject({
      method,
      url,
      headers: { ...(account?.headers ?? {}), ...(payload !== undefined && { 'content-type': 'application/json' }) },
      ...(payload !== undefined && { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) }),
    });

  beforeAll(async () => {
    api = await startApi('input_policy');
    alice = await signUp(api.app, 'Alice');
    bob = await signUp(api.app, 'Bob');
    meter = await ownMeter(api, alice, 'MTR-ALICE', '5');
  });
  beforeEach(async () => {
    await fund(api.db, alice.walletAddress, '100.000000', '100000.00');
    await fund(api.db, bob.walletAddress, '100.000000', '100000.00');
  });
  afterAll(async () => {
    await api.close();
  });

  // [route, body with one unknown property, the property, what the route takes]
  const unknownProperty = () =>
    [
      ['POST', '/auth/register', { name: 'Eve', email: 'eve@example.test', password: 'correct horse battery', isAdmin: true }, 'isAdmin', 'name, email, password', null],
      ['POST', '/auth/login', { email: alice.email, password: 'correct horse battery', remember: true }, 'remember', 'email, password', null],
      ['POST', '/auth/logout', { everywhere: true }, 'everywhere', 'none', alice],
      ['POST', '/meters', { meterId: 'MTR-1', pairingCode: CODE, capacityKw: '5' }, 'capacityKw', 'meterId, pairingCode', alice],
      ['POST', '/admin/meters', { meterId: 'MTR-1', capacityKw: '5', capacityKW: '5' }, 'capacityKW', 'meterId, capacityKw, location', null],
      ['POST', '/meters/MTR-ALICE/settlements', { periodStart: hoursAgo(3), periodEnd: hoursAgo(2), netKwh: '1', net_kwh: '1' }, 'net_kwh', 'periodStart, periodEnd, netKwh', alice],
      ['POST', '/trades', { offerId: '1', energyKwh: '1', priceIdrsPerKwh: '10' }, 'priceIdrsPerKwh', 'offerId, energyKwh', alice],
      ['POST', '/offers', { energyKwh: '1', priceIdrsPerKwh: '10', expiresAt: hoursAgo(-1), sellerUserId: bob.userId }, 'sellerUserId', 'energyKwh, priceIdrsPerKwh, expiresAt', alice],
      ['POST', '/idrs/payments', { paymentId: 'pay_1', conversionId: '1', status: 'PAID', idrAmount: '10', idrsAmount: '10' }, 'idrsAmount', 'paymentId, conversionId, status, idrAmount', null],
      ['POST', '/idrs/conversions', { walletAddress: alice.walletAddress, type: 'ON_RAMP', idrAmount: '10', idrsAmount: '1000000' }, 'idrsAmount', 'walletAddress, type, idrAmount', alice],
    ] as const;

  it('refuses an unknown body property on every domain route with a 400 naming it, and writes nothing', async () => {
    for (const [method, url, body, property, takes, account] of unknownProperty()) {
      const before = await tableCounts(api.db);
      const reply = url.startsWith('/admin') ? await adminCall(api, 'POST', url, body) : await send(method, url, body, account);
      expectProblem(reply, 400, 'VALIDATION_FAILED');
      expect(reply.json().detail, url).toBe(`body has no property "${property}" (it takes ${takes})`);
      expect(await tableCounts(api.db), url).toEqual(before);
    }
    // the meter of the issue was not registered with capacity 0, nor anything else
    expect(await api.db.query(`select meter_id from smart_meter where meter_id = 'MTR-1'`)).toEqual([]);
    // the refused logout did not revoke the token
    expect((await send('GET', '/users/me')).statusCode).toBe(200);
  });

  it('refuses an unknown property in a nested object and an unknown query parameter, on every kind of route', async () => {
    const reply = await send('POST', '/meters', { meterId: 'MTR-2', pairingCode: CODE, extra: { nested: 1 } });
    expect(reply.json().detail).toBe('body has no property "extra" (it takes meterId, pairingCode)');
    for (const url of ['/health/live', '/users/me', `/users/${bob.userId}`, '/wallets', `/wallets/${alice.walletAddress}`, '/meters', '/meters/MTR-ALICE', '/trades/1', '/offers/1', '/idrs/conversions/1']) {
      const refused = await send('GET', `${url}?debug=1`);
      expectProblem(refused, 400, 'VALIDATION_FAILED');
      expect(refused.json().detail, url).toBe('querystring has no property "debug" (it takes none)');
    }
    expect((await send('GET', '/trades?limit=5&sort=asc')).json().detail).toBe('querystring has no property "sort" (it takes limit, offset)');
  });

  it.each([
    ['/auth/register', { name: 42, email: 'num@example.test', password: 'correct horse battery' }, 'body.name must be string', null],
    ['/auth/register', { name: 'Num', email: ['num@example.test'], password: 'correct horse battery' }, 'body.email must be string', null],
    ['/auth/login', { email: 'alice@example.test', password: 12345678 }, 'body.password must be string', null],
    ['/meters', { meterId: 5, pairingCode: CODE }, 'body.meterId must be string', 'alice'],
    ['/meters', { meterId: 'MTR-3', pairingCode: 7 }, 'body.pairingCode must be string', 'alice'],
    ['/offers', { energyKwh: true, priceIdrsPerKwh: '1', expiresAt: hoursAgo(-1) }, 'body.energyKwh must be string or number', 'alice'],
    ['/meters/MTR-ALICE/settlements', { periodStart: 1_700_000_000, periodEnd: hoursAgo(2), netKwh: '1' }, 'body.periodStart must be string', 'alice'],
    ['/trades', { offerId: 7, energyKwh: '1' }, 'body.offerId must be string', 'alice'],
    ['/trades', { offerId: '1', energyKwh: ['1'] }, 'body.energyKwh must be string or number', 'alice'],
    ['/idrs/payments', { paymentId: 'pay_1', conversionId: 1, status: 'PAID', idrAmount: '10' }, 'body.conversionId must be string', null],
    ['/idrs/conversions', { walletAddress: 1, type: 'ON_RAMP', idrAmount: '10' }, 'body.walletAddress must be string', 'alice'],
    ['/idrs/conversions', { walletAddress: '0x' + '0'.repeat(40), type: 'ON_RAMP', idrAmount: { value: '10' } }, 'body.idrAmount must be string or number', 'alice'],
  ])('refuses a wrongly typed JSON value on POST %s (%j): 400, nothing written', async (url, body, detail, who) => {
    const before = await tableCounts(api.db);
    const reply = await send('POST', url, body, who ? alice : null);
    expectProblem(reply, 400, 'VALIDATION_FAILED');
    expect(reply.json().detail).toBe(detail);
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it('refuses a body that is not an object, and a query parameter that is not a number', async () => {
    expect((await send('POST', '/trades', '[1, 2]')).json().detail).toBe('body must be object');
    expect((await send('POST', '/auth/login', '"alice"', null)).json().detail).toBe('body must be object');
    expect((await send('GET', '/trades?limit=ten')).json().detail).toBe('querystring.limit must be integer');
  });

  describe('reads every amount exactly, as the digits sent', () => {
    // 1.0000000000000001 is 1 as a binary float: read through one, it would pass as "1".
    const FLOAT_ROUNDED = '1.0000000000000001';

    it('POST /admin/meters: capacityKw', async () => {
      const admin = { authorization: `Bearer ${api.db.config.adminToken}`, 'content-type': 'application/json' };
      const created = await api.app.inject({ method: 'POST', url: '/admin/meters', headers: admin, payload: '{"meterId":"MTR-EXACT","capacityKw":1234567.125}' });
      expect(created.statusCode, created.body).toBe(201);
      expect(created.json().meter.capacityKw).toBe('1234567.125');
      const before = await tableCounts(api.db);
      expectProblem(await api.app.inject({ method: 'POST', url: '/admin/meters', headers: admin, payload: `{"meterId":"MTR-FLOAT","capacityKw":${FLOAT_ROUNDED}}` }), 400, 'VALIDATION_FAILED');
      expect(await tableCounts(api.db)).toEqual(before);
    });

    it('POST /meters/:meterId/settlements: netKwh', async () => {
      const before = await tableCounts(api.db);
      const refused = await settle(api, meter, `{"periodStart":"${hoursAgo(9)}","periodEnd":"${hoursAgo(8)}","netKwh":${FLOAT_ROUNDED}}`);
      expectProblem(refused, 400, 'VALIDATION_FAILED');
      expect(refused.json().detail).toBe('body.netKwh must be kWh: a decimal below 10^12 with at most 6 digits after the point, as a JSON string or number');
      expect(await tableCounts(api.db)).toEqual(before);
      const settled = await settle(api, meter, `{"periodStart":"${hoursAgo(9)}","periodEnd":"${hoursAgo(8)}","netKwh":0.300001}`);
      expect(settled.statusCode, settled.body).toBe(201);
      expect(settled.json()).toMatchObject({ netKwh: '0.300001', energyBalance: '100.300001' });
    });

    it('POST /offers and POST /trades: energyKwh and priceIdrsPerKwh', async () => {
      const expiresAt = hoursAgo(-1);
      for (const body of [
        `{"energyKwh":${FLOAT_ROUNDED},"priceIdrsPerKwh":10,"expiresAt":"${expiresAt}"}`,
        `{"energyKwh":1,"priceIdrsPerKwh":${FLOAT_ROUNDED},"expiresAt":"${expiresAt}"}`,
      ]) {
        const before = await tableCounts(api.db);
        expectProblem(await send('POST', '/offers', body, bob), 400, 'VALIDATION_FAILED');
        expect(await tableCounts(api.db)).toEqual(before);
      }
      const offer = await send('POST', '/offers', `{"energyKwh":1,"priceIdrsPerKwh":0.30,"expiresAt":"${expiresAt}"}`, bob);
      expect(offer.statusCode, offer.body).toBe(201);
      const { offerId } = offer.json();
      const before = await tableCounts(api.db);
      expectProblem(await send('POST', '/trades', `{"offerId":"${offerId}","energyKwh":${FLOAT_ROUNDED}}`), 400, 'VALIDATION_FAILED');
      expect(await tableCounts(api.db)).toEqual(before);
      // 0.1 x 0.3 in binary floats is 0.030000000000000002
      const trade = await send('POST', '/trades', `{"offerId":"${offerId}","energyKwh":0.1}`);
      expect(trade.statusCode, trade.body).toBe(201);
      expect(trade.json()).toMatchObject({ energyKwh: '0.100000', priceIdrsPerKwh: '0.30', totalIdrs: '0.03' });
      const [row] = await api.db.query('select traded_energy_kwh::text as e, price_idrs_per_kwh::text as p from market_trade where trade_id = ?', [trade.json().tradeId]);
      expect(row).toEqual({ e: '0.100000', p: '0.30' });
    });

    it('POST /idrs/conversions: idrAmount', async () => {
      const before = await tableCounts(api.db);
      const body = (amount: string) => `{"walletAddress":"${alice.walletAddress}","type":"ON_RAMP","idrAmount":${amount}}`;
      expectProblem(await send('POST', '/idrs/conversions', body(FLOAT_ROUNDED)), 400, 'VALIDATION_FAILED');
      // 999999999999.99 is the largest request amount; as a float it is 999999999999.9899...
      expect(await tableCounts(api.db)).toEqual(before);
      const converted = await send('POST', '/idrs/conversions', body('999999999999.99'));
      expect(converted.statusCode, converted.body).toBe(201);
      expect(converted.json()).toMatchObject({ idrAmount: '999999999999.99', idrsAmount: '999999999999.99', status: 'PENDING', idrsBalance: '100000.00' });
    });
  });

  it('answers the same fault with the same code and title on every route, domain or admin', async () => {
    const admin = { authorization: `Bearer ${api.db.config.adminToken}` };
    const routes = [
      ['/auth/login', {}],
      ['/meters', alice.headers],
      ['/trades', alice.headers],
      ['/idrs/conversions', alice.headers],
      ['/offers', alice.headers],
      ['/idrs/payments', {}],
      ['/meters/MTR-ALICE/settlements', {}],
      ['/admin/meters', admin],
      ['/admin/migrations/up', admin],
    ] as const;
    for (const [url, headers] of routes) {
      const broken = await api.app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'application/json' }, payload: '{"a":' });
      expectProblem(broken, 400, 'INVALID_JSON');
      expect(broken.json(), url).toMatchObject({ title: 'Invalid JSON', type: 'urn:enerlink:problem:invalid-json' });
      const empty = await api.app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'application/json' }, payload: '' });
      expectProblem(empty, 400, 'INVALID_JSON');
      const proto = await api.app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'application/json' }, payload: '{"__proto__":{"x":1}}' });
      expectProblem(proto, 400, 'INVALID_JSON');
      const xml = await api.app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'application/xml' }, payload: '<a/>' });
      expectProblem(xml, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(xml.json().title).toBe('Unsupported media type');
    }
    const huge = await send('POST', '/meters', JSON.stringify({ meterId: 'MTR-HUGE', location: 'x'.repeat(1_100_000) }));
    expectProblem(huge, 413, 'BODY_TOO_LARGE');
    expect(huge.json().title).toBe('Body too large');
  });
});
