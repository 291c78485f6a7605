import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TradeDesk } from '../../src/trading/trade-desk.ts';
import type { TradeView } from '../../src/trading/trade.service.ts';
import { expectProblem, fund, ownSessionPerTest, signUp, startApi, tableCounts, type Account, type Api } from '../api.ts';

const inHours = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();

/** What a take through the desk came to: its trade, or the status and code of its refusal. */
const outcome = (take: Promise<TradeView>) =>
  take.then(
    trade => ({ trade }),
    (error: { statusCode?: number; code?: string; message: string }) => ({ status: error.statusCode, code: error.code, message: error.message }),
  );

describe('the trade desk: takes settled together, each with its own outcome', () => {
  let api: Api;
  let seller: Account;
  let other: Account;
  let buyers: Account[];
  let desk: TradeDesk;
  const own = ownSessionPerTest(() => api.db);

  const publish = async (account: Account, energyKwh: string, priceIdrsPerKwh = '100') => {
    const reply = await api.app.inject({ method: 'POST', url: '/offers', headers: account.headers, payload: { energyKwh, priceIdrsPerKwh, expiresAt: inHours(2) } });
    expect(reply.statusCode, reply.body).toBe(201);
    return reply.json().offerId as string;
  };
  /** The transactions that wrote the trades: one xmin per transaction. */
  const transactions = async () => (await api.db.query('select count(distinct xmin::text)::int as n from market_trade'))[0].n as number;
  const totals = async () => (await api.db.query('select sum(energy_balance)::text as energy, sum(idrs_balance)::text as idrs from wallet'))[0];

  beforeAll(async () => {
    api = await startApi('trade_desk');
    seller = await signUp(api.app, 'Seller');
    other = await signUp(api.app, 'Other Seller');
    buyers = [];
    for (let i = 0; i < 4; i++) buyers.push(await signUp(api.app, `Buyer ${i}`));
    desk = new TradeDesk(api.app.orm.em, { batchMax: 64, batchesInFlight: 1, queueTimeoutMs: 5000 });
  });
  beforeEach(async () => {
    await api.db.query('truncate market_trade, market_offer, transaction_log, user_limit');
    for (const account of [seller, other]) await fund(api.db, account.walletAddress, '100.000000', '0.00');
    for (const buyer of buyers) await fund(api.db, buyer.walletAddress, '0', '1000.00');
  });
  afterAll(async () => {
    await api.close();
  });

  it('settles takes handed over together in one transaction; refused ones fail alone, with their own reasons, and change nothing', async () => {
    const offerId = await publish(seller, '10');
    const otherOffer = await publish(other, '10');
    const [rich, poor, greedy, selfish] = buyers;
    await fund(api.db, poor.walletAddress, '0', '50.00');
    const before = await totals();
    const outcomes = await Promise.all([
      outcome(desk.take(rich.userId, { offerId, energyKwh: '2' })),
      outcome(desk.take(poor.userId, { offerId, energyKwh: '1' })), // 100.00 IDRS against 50.00
      outcome(desk.take(greedy.userId, { offerId, energyKwh: '9' })), // 8 kWh are left after the first
      outcome(desk.take(seller.userId, { offerId, energyKwh: '1' })), // the seller's own offer
      outcome(desk.take(selfish.userId, { offerId: '999999', energyKwh: '1' })),
      outcome(desk.take(selfish.userId, { offerId: otherOffer, energyKwh: '3' })),
      outcome(desk.take(greedy.userId, { offerId, energyKwh: '8' })), // what is left: fills the offer
    ]);
    expect(outcomes.map(result => ('trade' in result ? 201 : result.code))).toEqual([201, 'INSUFFICIENT_BALANCE', 'OFFER_UNAVAILABLE', 'SELF_TRADE', 'OFFER_NOT_FOUND', 201, 201]);
    expect(outcomes[1]).toMatchObject({ status: 409, message: 'Your IDRS balance 50.00 does not cover the total 100.00 IDRS' });
    expect(outcomes[2]).toMatchObject({ status: 409, message: `Offer ${offerId} has 8.000000 kWh left, less than 9.000000` });
    expect(await transactions()).toBe(1);
    const trades = outcomes.flatMap(result => ('trade' in result ? [result.trade] : []));
    expect(new Set(trades.map(trade => trade.tradeId)).size).toBe(3);
    const [offer] = await api.db.query('select remaining_kwh, status from market_offer where offer_id = ?', [offerId]);
    expect(offer).toEqual({ remaining_kwh: '0.000000', status: 'FILLED' });
    // conserved, and each trade logged once per side, naming it
    expect(await totals()).toEqual(before);
    const [logs] = await api.db.query(`select count(*)::int as rows, count(distinct t.trade_id)::int as trades from transaction_log l
      join market_trade t on l.description like 'trade ' || t.trade_id || ':%'`);
    expect(logs).toEqual({ rows: 6, trades: 3 });
    const [poorWallet] = await api.db.query('select idrs_balance from wallet where wallet_address = ?', [poor.walletAddress]);
    expect(poorWallet.idrs_balance).toBe('50.00');
  });

  it('one buyer cannot spend the same IDRS twice in one batch', async () => {
    const offerId = await publish(seller, '10');
    const [buyer] = buyers;
    await fund(api.db, buyer.walletAddress, '0', '150.00');
    const outcomes = await Promise.all([outcome(desk.take(buyer.userId, { offerId, energyKwh: '1' })), outcome(desk.take(buyer.userId, { offerId, energyKwh: '1' }))]);
    expect(outcomes.map(result => ('trade' in result ? 201 : result.code))).toEqual([201, 'INSUFFICIENT_BALANCE']);
    const [wallet] = await api.db.query('select idrs_balance, energy_balance from wallet where wallet_address = ?', [buyer.walletAddress]);
    expect(wallet).toEqual({ idrs_balance: '50.00', energy_balance: '1.000000' });
  });

  it('refuses a malformed amount before it joins a batch (400), and the batch settles the rest', async () => {
    const offerId = await publish(seller, '10');
    const [buyer] = buyers;
    expect(() => desk.take(buyer.userId, { offerId, energyKwh: '0' })).toThrow(/energyKwh/);
    const reply = await api.app.inject({ method: 'POST', url: '/trades', headers: buyer.headers, payload: { offerId, energyKwh: '0.0000000001' } });
    expect(reply.statusCode, reply.body).toBe(400);
    expect(await outcome(desk.take(buyer.userId, { offerId, energyKwh: '1' }))).toHaveProperty('trade');
  });

  it('many buyers at once over HTTP: fewer transactions than trades, energy and IDRS conserved', async () => {
    const offers = [await publish(seller, '50'), await publish(other, '50')];
    const before = await totals();
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        api.app.inject({ method: 'POST', url: '/trades', headers: buyers[i % buyers.length].headers, payload: { offerId: offers[i % 2], energyKwh: '0.5' } }),
      ),
    );
    expect(replies.map(reply => reply.statusCode)).toEqual(Array(40).fill(201));
    expect(await transactions()).toBeLessThan(40);
    expect(await totals()).toEqual(before);
    const [offered] = await api.db.query('select sum(remaining_kwh)::text as remaining from market_offer');
    expect(offered.remaining).toBe('80.000000');
  });

  it('two batches in flight on the same wallets and offers: every take settles, none is refused for a wallet the other batch held', async () => {
    // a market of traders who sell and buy: each has an offer, and takes others' offers at random
    const traders: Array<{ userId: string; offerId: string }> = [];
    for (let i = 0; i < 16; i++) {
      const trader = await signUp(api.app, `Trader ${i}`);
      await fund(api.db, trader.walletAddress, '100.000000', '100000.00');
      traders.push({ userId: trader.userId, offerId: await publish(trader, '100') });
    }
    const twoAtOnce = new TradeDesk(api.app.orm.em, { batchMax: 8, batchesInFlight: 2, queueTimeoutMs: 10_000 });
    const before = await totals();
    const outcomes: Array<Awaited<ReturnType<typeof outcome>>> = [];
    for (let round = 0; round < 20; round++) {
      const takes = Array.from({ length: 16 }, (_, i) => {
        const seller = traders[(i + 1 + ((round * 7 + i * 3) % 15)) % 16];
        return outcome(twoAtOnce.take(traders[i].userId, { offerId: seller.offerId, energyKwh: '0.1' }));
      });
      outcomes.push(...(await Promise.all(takes)));
    }
    expect(outcomes.filter(taken => !('trade' in taken))).toEqual([]);
    expect(await totals()).toEqual(before);
    const [offered] = await api.db.query('select sum(energy_kwh - remaining_kwh)::text as taken from market_offer');
    expect(offered.taken).toBe('32.000000');
  });

  /** Ends the session of the batch that waits on a lock (the seller's wallet, held by `own`); resolves once one was ended. */
  const terminateWaitingBatch = async () => {
    for (;;) {
      const waiting = await api.db.query(`select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`);
      if (waiting.length > 0) {
        await api.db.query('select pg_terminate_backend(?)', [waiting[0].pid]);
        return;
      }
      await sleep(10);
    }
  };

  it.each([
    ['once: the batch is tried again on a new connection and every take settles, once', 1],
    ['twice: its take fails (500) and nothing of it is written; the next take settles', 2],
  ])('a transaction whose PostgreSQL session is terminated %s', async (_case, terminations) => {
    const offerId = await publish(seller, '10');
    const before = await tableCounts(api.db);
    // hold the seller's wallet: the batches skip the takes that need it, which are then settled
    // alone, waiting for the lock; then end the session of one that waits
    await own.query('begin');
    await own.query('select 1 from wallet where wallet_address = $1 for update', [seller.walletAddress]);
    const takers = terminations === 1 ? buyers : buyers.slice(0, 1);
    const takes = takers.map(buyer => api.app.inject({ method: 'POST', url: '/trades', headers: buyer.headers, payload: { offerId, energyKwh: '1' } }));
    for (let i = 0; i < terminations; i++) await terminateWaitingBatch();
    await own.query('rollback');
    const replies = await Promise.all(takes);
    const after = await tableCounts(api.db);
    if (terminations === 1) {
      expect(replies.map(reply => reply.statusCode)).toEqual(Array(buyers.length).fill(201));
      expect(new Set(replies.map(reply => reply.json().tradeId)).size).toBe(buyers.length);
    } else {
      expectProblem(replies[0], 500, 'INTERNAL_SERVER_ERROR');
    }
    const settled = replies.filter(reply => reply.statusCode === 201).length;
    expect(after.trades - before.trades).toBe(settled);
    expect(after.logs - before.logs).toBe(2 * settled);
    expect([after.energy, after.idrs]).toEqual([before.energy, before.idrs]);
    const retry = await api.app.inject({ method: 'POST', url: '/trades', headers: buyers[0].headers, payload: { offerId, energyKwh: '1' } });
    expect(retry.statusCode, retry.body).toBe(201);
  });

  it("a row another transaction holds delays only the takes that need it, not the others' (they settle meanwhile)", async () => {
    const offerId = await publish(seller, '10');
    const otherOffer = await publish(other, '10');
    const [held, free] = buyers;
    // an operator's session (or another instance's batch) holds one buyer's wallet
    await own.query('begin');
    await own.query('update wallet set wallet_name = $1 where wallet_address = $2', ['renamed', held.walletAddress]);
    const heldTake = outcome(desk.take(held.userId, { offerId, energyKwh: '1' }));
    const freeTakes = [outcome(desk.take(free.userId, { offerId, energyKwh: '1' })), outcome(desk.take(free.userId, { offerId: otherOffer, energyKwh: '1' }))];
    // the other takes were in the same batch: they settle while the held wallet is still held
    expect((await Promise.all(freeTakes)).every(result => 'trade' in result)).toBe(true);
    let settledMeanwhile = false;
    void heldTake.then(() => (settledMeanwhile = true));
    await sleep(200);
    expect(settledMeanwhile).toBe(false);
    await own.query('commit');
    expect(await heldTake).toHaveProperty('trade');
    const [offer] = await api.db.query('select remaining_kwh from market_offer where offer_id = ?', [offerId]);
    expect(offer.remaining_kwh).toBe('8.000000');
  });

  it('a take of an offer another transaction holds waits for it (a skipped offer is not a missing one)', async () => {
    const offerId = await publish(seller, '10');
    await own.query('begin');
    await own.query('select 1 from market_offer where offer_id = $1 for update', [offerId]);
    const take = outcome(desk.take(buyers[0].userId, { offerId, energyKwh: '1' }));
    const missing = await outcome(desk.take(buyers[1].userId, { offerId: '999998', energyKwh: '1' }));
    expect(missing).toMatchObject({ status: 404, code: 'OFFER_NOT_FOUND' });
    await own.query('commit');
    expect(await take).toHaveProperty('trade');
  });

  it('refuses a take that waited too long behind a stuck batch (503 TRADING_BUSY, nothing taken); the stuck batch still settles', async () => {
    const offerId = await publish(seller, '10');
    const impatient = new TradeDesk(api.app.orm.em, { batchMax: 64, batchesInFlight: 1, queueTimeoutMs: 300 });
    // the batch in flight waits for the trade table (an operator's lock), with the first take
    await own.query('begin');
    await own.query('lock table market_trade in access exclusive mode');
    const first = outcome(impatient.take(buyers[0].userId, { offerId, energyKwh: '1' }));
    await sleep(50);
    const queued = await outcome(impatient.take(buyers[1].userId, { offerId, energyKwh: '1' }));
    expect(queued).toMatchObject({ status: 503, code: 'TRADING_BUSY' });
    await own.query('commit');
    expect(await first).toHaveProperty('trade');
    const [trades] = await api.db.query('select count(*)::int as n from market_trade');
    expect(trades.n).toBe(1);
  });

  it('settles the takes it was handed before the app closes', async () => {
    const offerId = await publish(seller, '10');
    const closing = new TradeDesk(api.app.orm.em, { batchMax: 2, batchesInFlight: 1, queueTimeoutMs: 5000 });
    const takes = buyers.map(buyer => outcome(closing.take(buyer.userId, { offerId, energyKwh: '1' })));
    await closing.drained();
    const [trades] = await api.db.query('select count(*)::int as n from market_trade');
    expect(trades.n).toBe(4);
    expect((await Promise.all(takes)).every(result => 'trade' in result)).toBe(true);
  });
});
