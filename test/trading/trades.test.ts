import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expectProblem, fund, signUp, startApi, tableCounts, type Account, type Api } from '../api.ts';

describe('trades', () => {
  let api: Api;
  let buyer: Account;
  let seller: Account;
  let stranger: Account;

  const buy = (account: Account, payload: object | string) =>
    api.app.inject({
      method: 'POST',
      url: '/trades',
      headers: { ...account.headers, 'content-type': 'application/json' },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
  const balances = async (account: Account) =>
    (await api.db.query('select energy_balance, idrs_balance from wallet where wallet_address = ?', [account.walletAddress]))[0];

  beforeAll(async () => {
    api = await startApi('trades');
    buyer = await signUp(api.app, 'Buyer');
    seller = await signUp(api.app, 'Seller');
    stranger = await signUp(api.app, 'Stranger');
  });
  beforeEach(async () => {
    await api.db.query('truncate market_trade, transaction_log');
    await fund(api.db, buyer.walletAddress, '1.000000', '10000.00');
    await fund(api.db, seller.walletAddress, '50.000000', '0.00');
  });
  afterAll(async () => {
    await api.close();
  });

  it('moves energy and IDRS exactly, inserts the trade and one log row per side', async () => {
    const reply = await buy(buyer, { sellerUserId: seller.userId, energyKwh: '2.5', priceIdrsPerKwh: 1444.44 });
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
    });
    expect(await balances(buyer)).toEqual({ energy_balance: '3.500000', idrs_balance: '6388.90' });
    expect(await balances(seller)).toEqual({ energy_balance: '47.500000', idrs_balance: '3611.10' });
    const [row] = await api.db.query('select buyer_user_id, seller_user_id, traded_energy_kwh, price_idrs_per_kwh, total_idrs from market_trade');
    expect(row).toEqual({ buyer_user_id: buyer.userId, seller_user_id: seller.userId, traded_energy_kwh: '2.500000', price_idrs_per_kwh: '1444.44', total_idrs: '3611.10' });
    const logs = await api.db.query('select user_id, transaction_type, amount, currency, description from transaction_log order by amount');
    expect(logs).toEqual([
      { user_id: buyer.userId, transaction_type: 'TRADE_BUY', amount: '-3611.10000000', currency: 'IDRS', description: `trade ${trade.tradeId}: bought 2.500000 kWh at 1444.44 IDRS/kWh from ${seller.userId}` },
      { user_id: seller.userId, transaction_type: 'TRADE_SELL', amount: '3611.10000000', currency: 'IDRS', description: `trade ${trade.tradeId}: sold 2.500000 kWh at 1444.44 IDRS/kWh to ${buyer.userId}` },
    ]);
  });

  it.each([
    ['0.333333', '1500.55', '500.18'], // 500.1828316... rounds down
    ['0.001', '5.00', '0.01'], // 0.005 exactly: half-up
    ['0.007', '1.50', '0.01'], // 0.0105 rounds down
    ['3', '0.01', '0.03'],
  ])('charges %s kWh at %s IDRS/kWh as %s IDRS (half-up to the cent)', async (energyKwh, priceIdrsPerKwh, totalIdrs) => {
    const reply = await buy(buyer, { sellerUserId: seller.userId, energyKwh, priceIdrsPerKwh });
    expect(reply.json().totalIdrs).toBe(totalIdrs);
    const [sums] = await api.db.query('select sum(amount)::text as net from transaction_log');
    expect(sums.net).toBe('0.00000000');
  });

  it.each([
    ['zero energy', { energyKwh: '0', priceIdrsPerKwh: '1000' }, 'INVALID_AMOUNT'],
    ['zero energy with decimals', { energyKwh: '0.000000', priceIdrsPerKwh: '1000' }, 'INVALID_AMOUNT'],
    ['zero price', { energyKwh: '1', priceIdrsPerKwh: 0 }, 'INVALID_AMOUNT'],
    ['negative energy', { energyKwh: '-1', priceIdrsPerKwh: '1000' }, 'VALIDATION_FAILED'],
    ['negative price (number)', { energyKwh: '1', priceIdrsPerKwh: -1000 }, 'VALIDATION_FAILED'],
    ['7 decimals of energy', { energyKwh: '1.0000001', priceIdrsPerKwh: '1000' }, 'VALIDATION_FAILED'],
    ['3 decimals of price', { energyKwh: '1', priceIdrsPerKwh: '1000.001' }, 'VALIDATION_FAILED'],
    ['3 decimals of price (number)', { energyKwh: '1', priceIdrsPerKwh: 1000.001 }, 'VALIDATION_FAILED'],
    ['energy as words', { energyKwh: 'one', priceIdrsPerKwh: '1000' }, 'VALIDATION_FAILED'],
    ['energy as a boolean', { energyKwh: true, priceIdrsPerKwh: '1000' }, 'VALIDATION_FAILED'],
    ['a total that rounds to zero', { energyKwh: '0.000001', priceIdrsPerKwh: '0.01' }, 'INVALID_AMOUNT'],
    ['missing price', { energyKwh: '1' }, 'VALIDATION_FAILED'],
    ['an unknown seller', { sellerUserId: 'user_000000000000000000000000', energyKwh: '1', priceIdrsPerKwh: '1000' }, 'UNKNOWN_SELLER'],
    ['a malformed seller id', { sellerUserId: "user' or 1=1", energyKwh: '1', priceIdrsPerKwh: '1000' }, 'VALIDATION_FAILED'],
    ['an empty seller id', { sellerUserId: '', energyKwh: '1', priceIdrsPerKwh: '1000' }, 'VALIDATION_FAILED'],
    ['the buyer as seller', { self: true, energyKwh: '1', priceIdrsPerKwh: '1000' }, 'SELF_TRADE'],
  ])('refuses %s: 400 problem+json, nothing written', async (_case, input, code) => {
    const { self, ...fields } = input as Record<string, unknown>;
    const before = await tableCounts(api.db);
    const reply = await buy(buyer, { sellerUserId: self ? buyer.userId : seller.userId, ...fields });
    expectProblem(reply, 400, code);
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it('refuses JSON it cannot read exactly: 400, nothing written', async () => {
    const before = await tableCounts(api.db);
    expectProblem(await buy(buyer, `{"sellerUserId":"${seller.userId}","energyKwh":1e0,"priceIdrsPerKwh":"1000"}`), 400, 'VALIDATION_FAILED');
    expectProblem(await buy(buyer, `{"sellerUserId":"${seller.userId}","energyKwh":0.10000000000000001,"priceIdrsPerKwh":"1000"}`), 400, 'VALIDATION_FAILED');
    expectProblem(await buy(buyer, '{"sellerUserId":'), 400, 'INVALID_JSON');
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it.each([
    ['the buyer lacks IDRS', { energyKwh: '10', priceIdrsPerKwh: '1000.01' }, /^Your IDRS balance 10000.00 does not cover the total 10000.10 IDRS$/],
    ['the seller lacks energy', { energyKwh: '50.000001', priceIdrsPerKwh: '0.01' }, /^The seller does not have 50.000001 kWh to sell$/],
  ])('refuses a trade when %s: 409, nothing written', async (_case, fields, detail) => {
    const before = await tableCounts(api.db);
    const reply = await buy(buyer, { sellerUserId: seller.userId, ...fields });
    expectProblem(reply, 409, 'INSUFFICIENT_BALANCE');
    expect(reply.json().detail).toMatch(detail);
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it('refuses a seller without an active wallet with 409', async () => {
    await api.db.query('update wallet set is_active = false where wallet_address = ?', [seller.walletAddress]);
    try {
      expectProblem(await buy(buyer, { sellerUserId: seller.userId, energyKwh: '1', priceIdrsPerKwh: '1' }), 409, 'NO_ACTIVE_WALLET');
    } finally {
      await api.db.query('update wallet set is_active = true where wallet_address = ?', [seller.walletAddress]);
    }
  });

  it("lists the caller's trades newest first, paginated, and hides other users' trades (404)", async () => {
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) ids.push((await buy(buyer, { sellerUserId: seller.userId, energyKwh: `${i}`, priceIdrsPerKwh: '10' })).json().tradeId);
    await fund(api.db, stranger.walletAddress, '0', '100');
    const strangers = (await buy(stranger, { sellerUserId: seller.userId, energyKwh: '1', priceIdrsPerKwh: '10' })).json().tradeId;

    const page = await api.app.inject({ url: '/trades?limit=2&offset=0', headers: buyer.headers });
    expect(page.statusCode).toBe(200);
    expect(page.json()).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(page.json().items.map((trade: { tradeId: string }) => trade.tradeId)).toEqual([ids[2], ids[1]]);
    const next = await api.app.inject({ url: '/trades?limit=2&offset=2', headers: buyer.headers });
    expect(next.json().items.map((trade: { tradeId: string }) => trade.tradeId)).toEqual([ids[0]]);

    const sellerView = await api.app.inject({ url: '/trades?limit=100', headers: seller.headers });
    expect(sellerView.json().total).toBe(4);
    expect(sellerView.json().items.every((trade: { role: string }) => trade.role === 'SELLER')).toBe(true);

    expect((await api.app.inject({ url: `/trades/${ids[0]}`, headers: buyer.headers })).json()).toMatchObject({ tradeId: ids[0], energyKwh: '1.000000' });
    expectProblem(await api.app.inject({ url: `/trades/${strangers}`, headers: buyer.headers }), 404, 'TRADE_NOT_FOUND');
    expectProblem(await api.app.inject({ url: '/trades/999999', headers: buyer.headers }), 404, 'TRADE_NOT_FOUND');
    expectProblem(await api.app.inject({ url: '/trades/abc', headers: buyer.headers }), 400, 'VALIDATION_FAILED');
    expectProblem(await api.app.inject({ url: '/trades?limit=1000', headers: buyer.headers }), 400, 'VALIDATION_FAILED');
  });
});
