import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adminCall, expectProblem, fund, signUp, startApi, tableCounts, type Account, type Api } from '../api.ts';

const inHours = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();

describe('offers and trades', () => {
  let api: Api;
  let buyer: Account;
  let seller: Account;
  let stranger: Account;

  const post = (account: Account, url: string, payload?: object | string) =>
    api.app.inject({
      method: 'POST',
      url,
      headers: payload === undefined ? account.headers : { ...account.headers, 'content-type': 'application/json' },
      payload: payload === undefined ? undefined : typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
  const offer = async (account: Account, energyKwh: string, priceIdrsPerKwh: string | number, expiresAt = inHours(24)) => {
    const reply = await post(account, '/offers', { energyKwh, priceIdrsPerKwh, expiresAt });
    expect(reply.statusCode, reply.body).toBe(201);
    return reply.json();
  };
  const take = (account: Account, offerId: string, energyKwh: string | number) => post(account, '/trades', { offerId, energyKwh });
  const balances = async (account: Account) =>
    (await api.db.query('select energy_balance, idrs_balance from wallet where wallet_address = ?', [account.walletAddress]))[0];

  beforeAll(async () => {
    api = await startApi('trades');
    buyer = await signUp(api.app, 'Buyer');
    seller = await signUp(api.app, 'Seller');
    stranger = await signUp(api.app, 'Stranger');
  });
  beforeEach(async () => {
    await api.db.query('truncate market_trade, market_offer, transaction_log, user_limit');
    await fund(api.db, buyer.walletAddress, '1.000000', '10000.00');
    await fund(api.db, seller.walletAddress, '50.000000', '0.00');
    await fund(api.db, stranger.walletAddress, '0', '0');
  });
  afterAll(async () => {
    await api.close();
  });

  it("refuses issue 14's trade: the buyer chooses neither the seller, nor the amount beyond an offer, nor the price", async () => {
    const before = await tableCounts(api.db);
    const reply = await post(buyer, '/trades', { sellerUserId: seller.userId, energyKwh: '30.655835', priceIdrsPerKwh: '0.01' });
    expectProblem(reply, 400, 'VALIDATION_FAILED');
    expect(reply.json().detail).toBe('body must have property "offerId"');
    // with an offer: its price, never the buyer's, and never more than it holds
    const published = await offer(seller, '2', '1444.44');
    expectProblem(await post(buyer, '/trades', { offerId: published.offerId, energyKwh: '1', priceIdrsPerKwh: '0.01' }), 400, 'VALIDATION_FAILED');
    expectProblem(await take(buyer, published.offerId, '30.655835'), 409, 'OFFER_UNAVAILABLE');
    expect(await balances(seller)).toEqual({ energy_balance: '50.000000', idrs_balance: '0.00' });
    expect(await tableCounts(api.db)).toMatchObject({ trades: before.trades, logs: before.logs });
  });

  it('publishes an offer, takes part of it at its price: energy and IDRS move exactly, one log row per side', async () => {
    const published = await offer(seller, '5', 1444.44);
    expect(published).toMatchObject({ sellerUserId: seller.userId, energyKwh: '5.000000', remainingKwh: '5.000000', priceIdrsPerKwh: '1444.44', status: 'OPEN' });
    const reply = await take(buyer, published.offerId, '2.5');
    expect(reply.statusCode, reply.body).toBe(201);
    const trade = reply.json();
    expect(trade).toEqual({
      tradeId: expect.stringMatching(/^\d+$/),
      role: 'BUYER',
      buyerUserId: buyer.userId,
      sellerUserId: seller.userId,
      energyKwh: '2.500000',
      priceIdrsPerKwh: '1444.44',
      totalIdrs: '3611.10',
      tradeTimestamp: expect.any(String),
      offerId: published.offerId,
    });
    expect(await balances(buyer)).toEqual({ energy_balance: '3.500000', idrs_balance: '6388.90' });
    expect(await balances(seller)).toEqual({ energy_balance: '47.500000', idrs_balance: '3611.10' });
    const logs = await api.db.query('select user_id, transaction_type, amount, currency, description from transaction_log order by amount');
    expect(logs).toEqual([
      { user_id: buyer.userId, transaction_type: 'TRADE_BUY', amount: '-3611.10000000', currency: 'IDRS', description: `trade ${trade.tradeId}: bought 2.500000 kWh at 1444.44 IDRS/kWh from ${seller.userId} (offer ${published.offerId})` },
      { user_id: seller.userId, transaction_type: 'TRADE_SELL', amount: '3611.10000000', currency: 'IDRS', description: `trade ${trade.tradeId}: sold 2.500000 kWh at 1444.44 IDRS/kWh to ${buyer.userId} (offer ${published.offerId})` },
    ]);
    const after = (await api.app.inject({ url: `/offers/${published.offerId}`, headers: buyer.headers })).json();
    expect(after).toMatchObject({ remainingKwh: '2.500000', status: 'OPEN' });
    // the rest fills it
    expect((await take(buyer, published.offerId, '2.5')).statusCode).toBe(201);
    expect((await api.app.inject({ url: `/offers/${published.offerId}`, headers: seller.headers })).json()).toMatchObject({ remainingKwh: '0.000000', status: 'FILLED' });
    expectProblem(await take(buyer, published.offerId, '0.1'), 409, 'OFFER_UNAVAILABLE');
  });

  it('reserves what an offer holds: the seller cannot offer the same kWh twice, cancelling releases them', async () => {
    const first = await offer(seller, '30', '100');
    const twice = await post(seller, '/offers', { energyKwh: '30', priceIdrsPerKwh: '90', expiresAt: inHours(1) });
    expectProblem(twice, 409, 'INSUFFICIENT_BALANCE');
    expect(twice.json().detail).toBe('You have 20.000000 kWh not already offered (balance 50.000000, reserved by open offers 30.000000), less than 30.000000');
    const cancelled = await post(seller, `/offers/${first.offerId}/cancel`);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json().status).toBe('CANCELLED');
    expectProblem(await take(buyer, first.offerId, '1'), 409, 'OFFER_UNAVAILABLE');
    expectProblem(await post(seller, `/offers/${first.offerId}/cancel`), 409, 'OFFER_UNAVAILABLE');
    // another user cannot cancel an offer: it is not theirs to find
    const second = await offer(seller, '30', '90');
    expectProblem(await post(buyer, `/offers/${second.offerId}/cancel`), 404, 'OFFER_NOT_FOUND');
  });

  it('an expired offer reserves nothing and cannot be taken', async () => {
    const published = await offer(seller, '50', '100');
    await api.db.query(`update market_offer set expires_at = now() - interval '1 second' where offer_id = ?`, [published.offerId]);
    expectProblem(await take(buyer, published.offerId, '1'), 409, 'OFFER_UNAVAILABLE');
    expect((await api.app.inject({ url: '/offers/mine', headers: seller.headers })).json().items[0].status).toBe('EXPIRED');
    expectProblem(await api.app.inject({ url: `/offers/${published.offerId}`, headers: buyer.headers }), 404, 'OFFER_NOT_FOUND');
    expect((await post(seller, '/offers', { energyKwh: '50', priceIdrsPerKwh: '100', expiresAt: inHours(1) })).statusCode).toBe(201);
  });

  it('lists open offers cheapest first, paginated, and one\'s own in any state', async () => {
    const prices = ['300', '100', '200'];
    const ids = [];
    for (const price of prices) ids.push((await offer(seller, '1', price)).offerId);
    await fund(api.db, stranger.walletAddress, '5', '0');
    const strangers = (await offer(stranger, '1', '150')).offerId;
    await post(seller, `/offers/${ids[0]}/cancel`);
    const page = await api.app.inject({ url: '/offers?limit=2&offset=0', headers: buyer.headers });
    expect(page.json()).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(page.json().items.map((o: { priceIdrsPerKwh: string }) => o.priceIdrsPerKwh)).toEqual(['100.00', '150.00']);
    const next = await api.app.inject({ url: '/offers?limit=2&offset=2', headers: buyer.headers });
    expect(next.json().items.map((o: { offerId: string }) => o.offerId)).toEqual([ids[2]]);
    const mine = await api.app.inject({ url: '/offers/mine', headers: seller.headers });
    expect(mine.json().items.map((o: { offerId: string; status: string }) => [o.offerId, o.status])).toEqual([
      [ids[2], 'OPEN'],
      [ids[1], 'OPEN'],
      [ids[0], 'CANCELLED'],
    ]);
    expect((await api.app.inject({ url: '/offers/mine', headers: stranger.headers })).json().items.map((o: { offerId: string }) => o.offerId)).toEqual([strangers]);
    // a cancelled offer is the seller's business only
    expectProblem(await api.app.inject({ url: `/offers/${ids[0]}`, headers: buyer.headers }), 404, 'OFFER_NOT_FOUND');
    expectProblem(await api.app.inject({ url: '/offers?limit=1000', headers: buyer.headers }), 400, 'VALIDATION_FAILED');
  });

  it.each([
    ['0.333333', '1500.55', '500.18'], // 500.1828316... rounds down
    ['0.001', '5.00', '0.01'], // 0.005 exactly: half-up
    ['0.007', '1.50', '0.01'], // 0.0105 rounds down
    ['3', '0.01', '0.03'],
  ])('charges %s kWh at %s IDRS/kWh as %s IDRS (half-up to the cent)', async (energyKwh, priceIdrsPerKwh, totalIdrs) => {
    const published = await offer(seller, '10', priceIdrsPerKwh);
    const reply = await take(buyer, published.offerId, energyKwh);
    expect(reply.json().totalIdrs).toBe(totalIdrs);
    const [sums] = await api.db.query('select sum(amount)::text as net from transaction_log');
    expect(sums.net).toBe('0.00000000');
  });

  it.each([
    ['zero energy', { energyKwh: '0', priceIdrsPerKwh: '1000' }, 'INVALID_AMOUNT'],
    ['zero price', { energyKwh: '1', priceIdrsPerKwh: 0 }, 'INVALID_AMOUNT'],
    ['negative energy', { energyKwh: '-1', priceIdrsPerKwh: '1000' }, 'VALIDATION_FAILED'],
    ['3 decimals of price', { energyKwh: '1', priceIdrsPerKwh: '1000.001' }, 'VALIDATION_FAILED'],
    ['an expiry in the past', { energyKwh: '1', priceIdrsPerKwh: '1000', expiresAt: inHours(-1) }, 'INVALID_PERIOD'],
    ['an expiry 31 days away', { energyKwh: '1', priceIdrsPerKwh: '1000', expiresAt: inHours(31 * 24) }, 'INVALID_PERIOD'],
    ['no expiry', { energyKwh: '1', priceIdrsPerKwh: '1000', expiresAt: undefined }, 'VALIDATION_FAILED'],
  ])('refuses an offer with %s: 400 problem+json, nothing written', async (_case, input, code) => {
    const before = await tableCounts(api.db);
    expectProblem(await post(seller, '/offers', { expiresAt: inHours(1), ...input }), 400, code);
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it.each([
    ['zero energy', '0', 400, 'INVALID_AMOUNT'],
    ['7 decimals', '1.0000001', 400, 'VALIDATION_FAILED'],
    ['energy as a boolean', true, 400, 'VALIDATION_FAILED'],
    ['a total that rounds to zero', '0.000001', 400, 'INVALID_AMOUNT'],
  ])('refuses taking %s, nothing written', async (_case, energyKwh, status, code) => {
    const published = await offer(seller, '10', '0.01');
    const before = await tableCounts(api.db);
    expectProblem(await post(buyer, '/trades', { offerId: published.offerId, energyKwh }), status, code);
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it('refuses an unknown offer, a malformed id, one\'s own offer, and a buyer short of IDRS', async () => {
    const published = await offer(seller, '20', '1000.01');
    expectProblem(await take(buyer, '999999', '1'), 404, 'OFFER_NOT_FOUND');
    expectProblem(await take(buyer, "1' or 1=1", '1'), 400, 'VALIDATION_FAILED');
    expectProblem(await take(seller, published.offerId, '1'), 400, 'SELF_TRADE');
    const short = await take(buyer, published.offerId, '10');
    expectProblem(short, 409, 'INSUFFICIENT_BALANCE');
    expect(short.json().detail).toBe('Your IDRS balance 10000.00 does not cover the total 10000.10 IDRS');
    expect((await api.app.inject({ url: `/offers/${published.offerId}`, headers: buyer.headers })).json().remainingKwh).toBe('20.000000');
  });

  it('holds users to the open-offer and trade-size limits an operator set, with 409s that name them', async () => {
    await adminCall(api, 'POST', `/admin/users/${seller.userId}/limits`, { maxOpenOffers: 2, maxTradeKwh: '10' });
    await offer(seller, '1', '100');
    const big = await post(seller, '/offers', { energyKwh: '10.000001', priceIdrsPerKwh: '100', expiresAt: inHours(1) });
    expectProblem(big, 409, 'LIMIT_EXCEEDED');
    expect(big.json()).toMatchObject({ limit: 'maxTradeKwh', max: '10.000000' });
    const published = await offer(seller, '10', '100');
    const third = await post(seller, '/offers', { energyKwh: '1', priceIdrsPerKwh: '100', expiresAt: inHours(1) });
    expectProblem(third, 409, 'LIMIT_EXCEEDED');
    expect(third.json()).toMatchObject({ limit: 'maxOpenOffers', max: '2' });
    expect(third.json().detail).toBe('You already have 2 open offers (limit maxOpenOffers: 2; an operator can change it)');

    await adminCall(api, 'POST', `/admin/users/${buyer.userId}/limits`, { maxTradeKwh: '0.5' });
    const large = await take(buyer, published.offerId, '0.6');
    expectProblem(large, 409, 'LIMIT_EXCEEDED');
    expect(large.json()).toMatchObject({ limit: 'maxTradeKwh', max: '0.500000' });
    expect((await take(buyer, published.offerId, '0.5')).statusCode).toBe(201);
    expect((await adminCall(api, 'GET', `/admin/users/${buyer.userId}/limits`)).json()).toMatchObject({ maxTradeKwh: '0.500000', maxMeters: 5, custom: ['maxTradeKwh'] });
    expectProblem(await adminCall(api, 'GET', '/admin/users/user_nobody/limits'), 404, 'USER_NOT_FOUND');
  });

  it('refuses a seller without an active wallet with 409', async () => {
    const published = await offer(seller, '1', '1');
    await api.db.query('update wallet set is_active = false where wallet_address = ?', [seller.walletAddress]);
    try {
      expectProblem(await take(buyer, published.offerId, '1'), 409, 'NO_ACTIVE_WALLET');
    } finally {
      await api.db.query('update wallet set is_active = true where wallet_address = ?', [seller.walletAddress]);
    }
  });

  it("lists the caller's trades newest first, paginated, and hides other users' trades (404)", async () => {
    const published = await offer(seller, '10', '10');
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) ids.push((await take(buyer, published.offerId, `${i}`)).json().tradeId);
    await fund(api.db, stranger.walletAddress, '0', '100');
    const strangers = (await take(stranger, published.offerId, '1')).json().tradeId;

    const page = await api.app.inject({ url: '/trades?limit=2&offset=0', headers: buyer.headers });
    expect(page.json()).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(page.json().items.map((trade: { tradeId: string }) => trade.tradeId)).toEqual([ids[2], ids[1]]);
    const sellerView = await api.app.inject({ url: '/trades?limit=100', headers: seller.headers });
    expect(sellerView.json().total).toBe(4);
    expect(sellerView.json().items.every((trade: { role: string }) => trade.role === 'SELLER')).toBe(true);
    expect((await api.app.inject({ url: `/trades/${ids[0]}`, headers: buyer.headers })).json()).toMatchObject({ tradeId: ids[0], energyKwh: '1.000000', offerId: published.offerId });
    expectProblem(await api.app.inject({ url: `/trades/${strangers}`, headers: buyer.headers }), 404, 'TRADE_NOT_FOUND');
    expectProblem(await api.app.inject({ url: '/trades/abc', headers: buyer.headers }), 400, 'VALIDATION_FAILED');
  });
});
