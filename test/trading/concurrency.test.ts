import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fund, signUp, startApi, type Account, type Api } from '../api.ts';

const USERS = 10;
const TRADES = 200;

// A small deterministic generator, so a failure can be replayed.
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

describe('200 concurrent trades among 10 users', () => {
  let api: Api;
  let users: Account[];

  beforeAll(async () => {
    api = await startApi('trade_concurrency');
    users = [];
    for (let i = 0; i < USERS; i++) users.push(await signUp(api.app, `Trader ${i}`));
    // Tight balances, so that some trades are refused for lack of funds while others run.
    for (const user of users) await fund(api.db, user.walletAddress, '40.000000', '30000.00');
  });
  afterAll(async () => {
    await api.close();
  });

  it('conserves energy and IDRS, never goes negative, loses no update and logs each trade twice', async () => {
    const next = random(7);
    const requests = Array.from({ length: TRADES }, () => {
      const buyer = Math.floor(next() * USERS);
      const seller = (buyer + 1 + Math.floor(next() * (USERS - 1))) % USERS;
      const energyKwh = (0.5 + next() * 4.5).toFixed(6);
      const priceIdrsPerKwh = (900 + next() * 1200).toFixed(2);
      return { buyer: users[buyer], payload: { sellerUserId: users[seller].userId, energyKwh, priceIdrsPerKwh } };
    });

    const replies = await Promise.all(
      requests.map(({ buyer, payload }) => api.app.inject({ method: 'POST', url: '/trades', headers: buyer.headers, payload })),
    );
    const statuses = replies.map(reply => reply.statusCode);
    expect(new Set(statuses)).toEqual(new Set([201, 409]));
    for (const reply of replies.filter(reply => reply.statusCode === 409)) expect(reply.json().code).toBe('INSUFFICIENT_BALANCE');
    const accepted = replies.filter(reply => reply.statusCode === 201).map(reply => reply.json());
    expect(accepted.length).toBeGreaterThan(TRADES / 4);

    const [totals] = await api.db.query(`select sum(energy_balance)::text as energy, sum(idrs_balance)::text as idrs,
      count(*) filter (where energy_balance < 0 or idrs_balance < 0)::int as negative from wallet`);
    expect(totals).toEqual({ energy: (40 * USERS).toFixed(6), idrs: (30000 * USERS).toFixed(2), negative: 0 });

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
    const [orphans] = await api.db.query('select count(*)::int as count from transaction_log');
    expect(orphans.count).toBe(2 * accepted.length);

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
