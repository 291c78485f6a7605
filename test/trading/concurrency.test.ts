import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fund, signUp, startApi, type Account, type Api } from '../api.ts';

const USERS = 10;
const TAKES = 200;

// A small deterministic generator, so a failure can be replayed.
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

const inHours = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();

describe('concurrent buyers on offers', () => {
  let api: Api;
  let users: Account[];

  const publish = async (account: Account, energyKwh: string, priceIdrsPerKwh: string) => {
    const reply = await api.app.inject({ method: 'POST', url: '/offers', headers: account.headers, payload: { energyKwh, priceIdrsPerKwh, expiresAt: inHours(2) } });
    expect(reply.statusCode, reply.body).toBe(201);
    return reply.json().offerId as string;
  };
  const take = (account: Account, offerId: string, energyKwh: string) =>
    api.app.inject({ method: 'POST', url: '/trades', headers: account.headers, payload: { offerId, energyKwh } });

  /** Energy and IDRS in wallets, and whether any balance or offer went below zero or beyond what it reserved. */
  const invariants = async () => {
    const [totals] = await api.db.query(`select sum(energy_balance)::text as energy, sum(idrs_balance)::text as idrs,
      count(*) filter (where energy_balance < 0 or idrs_balance < 0)::int as negative from wallet`);
    // every offer: what remains plus what its trades took is what was offered
    const [offers] = await api.db.query(`select count(*)::int as broken from market_offer o
      where o.remaining_kwh < 0 or o.remaining_kwh + (select coalesce(sum(t.traded_energy_kwh), 0) from market_trade t where t.offer_id = o.offer_id) <> o.energy_kwh
         or (o.status = 'FILLED') <> (o.remaining_kwh = 0 and o.status <> 'CANCELLED')`);
    // no seller has open offers for more than their balance
    const [oversold] = await api.db.query(`select count(*)::int as sellers from wallet w
      where w.energy_balance < (select coalesce(sum(remaining_kwh), 0) from market_offer o where o.seller_user_id = w.user_id and o.status = 'OPEN' and o.expires_at > now())`);
    return { ...totals, brokenOffers: offers.broken, oversoldSellers: oversold.sellers };
  };

  beforeAll(async () => {
    api = await startApi('trade_concurrency');
    users = [];
    for (let i = 0; i < USERS; i++) users.push(await signUp(api.app, `Trader ${i}`));
  });
  afterAll(async () => {
    await api.close();
  });

  it('30 buyers racing for 1 kWh each of a 10 kWh offer: exactly 10 get it, the offer never oversells', async () => {
    for (const user of users) await fund(api.db, user.walletAddress, '10.000000', '100000.00');
    const [seller, ...buyers] = users;
    const offerId = await publish(seller, '10', '1500');
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => take(buyers[i % buyers.length], offerId, '1')));
    const statuses = replies.map(reply => reply.statusCode);
    expect(statuses.filter(status => status === 201)).toHaveLength(10);
    for (const reply of replies.filter(reply => reply.statusCode !== 201)) expect(reply.json().code, reply.body).toBe('OFFER_UNAVAILABLE');
    const [offer] = await api.db.query('select remaining_kwh, status from market_offer where offer_id = ?', [offerId]);
    expect(offer).toEqual({ remaining_kwh: '0.000000', status: 'FILLED' });
    const [sellerWallet] = await api.db.query('select energy_balance, idrs_balance from wallet where wallet_address = ?', [seller.walletAddress]);
    expect(sellerWallet).toEqual({ energy_balance: '0.000000', idrs_balance: '115000.00' });
    expect(await invariants()).toEqual({ energy: (10 * USERS).toFixed(6), idrs: (100000 * USERS).toFixed(2), negative: 0, brokenOffers: 0, oversoldSellers: 0 });
  });

  it('200 takes of 20 offers among 10 users, with cancels racing them: energy and IDRS conserved, nothing negative, each trade logged twice', async () => {
    await api.db.query('truncate market_trade, market_offer, transaction_log');
    // tight IDRS, so that some takes are refused for lack of funds while others run
    for (const user of users) await fund(api.db, user.walletAddress, '40.000000', '30000.00');
    const next = random(7);
    const offers: Array<{ seller: number; offerId: string }> = [];
    for (const [index, user] of users.entries()) {
      for (let i = 0; i < 2; i++) offers.push({ seller: index, offerId: await publish(user, '15', (900 + next() * 1200).toFixed(2)) });
    }
    const requests = Array.from({ length: TAKES }, () => {
      const offer = offers[Math.floor(next() * offers.length)];
      const buyer = (offer.seller + 1 + Math.floor(next() * (USERS - 1))) % USERS;
      return () => take(users[buyer], offer.offerId, (0.5 + next() * 4.5).toFixed(6));
    });
    const cancels = offers.filter((_, i) => i % 5 === 0).map(({ seller, offerId }) => () =>
      api.app.inject({ method: 'POST', url: `/offers/${offerId}/cancel`, headers: users[seller].headers }),
    );
    const replies = await Promise.all([...requests, ...cancels].map(send => send()));
    const takes = replies.slice(0, TAKES);
    expect(new Set(takes.map(reply => reply.statusCode))).toEqual(new Set([201, 409]));
    for (const reply of takes.filter(reply => reply.statusCode === 409)) expect(['INSUFFICIENT_BALANCE', 'OFFER_UNAVAILABLE']).toContain(reply.json().code);
    const accepted = takes.filter(reply => reply.statusCode === 201).map(reply => reply.json());
    expect(accepted.length).toBeGreaterThan(TAKES / 4);

    expect(await invariants()).toEqual({ energy: (40 * USERS).toFixed(6), idrs: (30000 * USERS).toFixed(2), negative: 0, brokenOffers: 0, oversoldSellers: 0 });
    const [trades] = await api.db.query('select count(*)::int as count from market_trade');
    expect(trades.count).toBe(accepted.length);

    // Exactly two log rows per trade: the buyer's debit and the seller's credit of its total.
    const logs = await api.db.query(`
      select t.trade_id, count(l.log_id)::int as rows,
             count(*) filter (where l.user_id = t.buyer_user_id and l.transaction_type = 'TRADE_BUY' and l.amount = -t.total_idrs)::int as buy,
             count(*) filter (where l.user_id = t.seller_user_id and l.transaction_type = 'TRADE_SELL' and l.amount = t.total_idrs)::int as sell
      from market_trade t
      left join transaction_log l on substring(l.description from '^trade ([0-9]+):')::bigint = t.trade_id
      group by t.trade_id`);
    expect(logs).toHaveLength(accepted.length);
    expect(logs.filter(row => row.rows !== 2 || row.buy !== 1 || row.sell !== 1)).toEqual([]);

    // No lost update: every wallet holds its starting balance plus exactly what its trades moved.
    const drift = await api.db.query(`
      select w.user_id from wallet w
      left join lateral (
        select coalesce(sum(case when t.buyer_user_id = w.user_id then t.traded_energy_kwh else -t.traded_energy_kwh end), 0) as energy,
               coalesce(sum(case when t.buyer_user_id = w.user_id then -t.total_idrs else t.total_idrs end), 0) as idrs
        from market_trade t where w.user_id in (t.buyer_user_id, t.seller_user_id)
      ) moved on true
      where w.energy_balance <> 40 + moved.energy or w.idrs_balance <> 30000 + moved.idrs`);
    expect(drift).toEqual([]);
  });
});
