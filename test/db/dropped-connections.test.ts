import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fund, signUp, startApi, type Account, type Api } from '../api.ts';
import { adminQuery } from '../helper.ts';

/** Terminates every session of the test's own database except the one asking. */
async function terminateServiceSessions(api: Api): Promise<number> {
  const rows = await api.db.query(
    `select pg_terminate_backend(pid) as terminated from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid()`,
  );
  return rows.filter(row => row.terminated).length;
}

/** `account` offers energy at 1500 IDRS/kWh for a day; returns the offer's id. */
async function publishOffer(api: Api, account: Account): Promise<string> {
  const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
  const reply = await api.app.inject({ method: 'POST', url: '/offers', headers: account.headers, payload: { energyKwh: '500', priceIdrsPerKwh: '1500.00', expiresAt } });
  expect(reply.statusCode, reply.body).toBe(201);
  return reply.json().offerId;
}

describe('PostgreSQL sessions terminated under traffic', () => {
  let api: Api;
  let users: Account[];
  const offers: string[] = [];

  beforeAll(async () => {
    api = await startApi('dropped_connections');
    users = [];
    for (let i = 0; i < 4; i++) users.push(await signUp(api.app, `Trader ${i}`));
    for (const user of users) await fund(api.db, user.walletAddress, '1000000.000000', '1000000000.00');
    for (const user of users) offers.push(await publishOffer(api, user));
  });
  afterAll(async () => {
    await api?.close();
  });

  it('never strands the pool: after ten rounds of terminated sessions during trades, every route answers again', async () => {
    const trade = (n: number) =>
      api.app.inject({
        method: 'POST',
        url: '/trades',
        headers: users[n % 4].headers,
        payload: { offerId: offers[(n + 1) % 4], energyKwh: '0.001' },
      });
    let terminated = 0;
    for (let round = 0; round < 10; round++) {
      const inFlight = Array.from({ length: 8 }, (_, n) => trade(n));
      // kill the sessions while the trades hold them, inside their transactions
      await vi.waitFor(async () => {
        const [{ busy }] = await api.db.query(
          `select count(*)::int as busy from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null`,
        );
        expect(busy).toBeGreaterThan(0);
      }, { timeout: 10_000, interval: 2 }).catch(() => {});
      terminated += await terminateServiceSessions(api);
      const replies = await Promise.all(inFlight);
      // a trade whose session died fails as a 5xx, never hangs; the others went through
      for (const reply of replies) expect([201, 500, 503]).toContain(reply.statusCode);
    }
    expect(terminated).toBeGreaterThan(0);

    // the pool recovered by itself: trades, reads and readiness answer
    await vi.waitFor(async () => expect((await api.app.inject('/health/ready')).statusCode).toBe(200), { timeout: 30_000, interval: 100 });
    const replies = await Promise.all(Array.from({ length: 8 }, (_, n) => trade(n)));
    expect(replies.map(reply => reply.statusCode)).toEqual(Array(8).fill(201));
    expect((await api.app.inject({ url: '/wallets', headers: users[0].headers })).statusCode).toBe(200);
  });

  it('answers 503 not ready while the database refuses connections, and turns ready again by itself', async () => {
    await adminQuery(`alter database ${api.db.name} allow_connections false`);
    try {
      await adminQuery(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${api.db.name}'`);
      await vi.waitFor(async () => {
        const reply = await api.app.inject('/health/ready');
        expect(reply.statusCode).toBe(503);
        expect(reply.json()).toMatchObject({ status: 'not_ready', database: 'down' });
      }, { timeout: 30_000, interval: 100 });
      expect((await api.app.inject({ url: '/wallets', headers: users[0].headers })).statusCode).toBeGreaterThanOrEqual(500);
    } finally {
      await adminQuery(`alter database ${api.db.name} allow_connections true`);
    }
    await vi.waitFor(async () => expect((await api.app.inject('/health/ready')).statusCode).toBe(200), { timeout: 30_000, interval: 100 });
    expect((await api.app.inject({ url: '/wallets', headers: users[0].headers })).statusCode).toBe(200);
  });
});

describe('every connection of the pool held', () => {
  let api: Api;
  let buyer: Account;
  let seller: Account;
  let sellersOffer: string;

  beforeAll(async () => {
    api = await startApi('pool_exhausted', { databaseAcquireTimeoutMs: 1000 });
    buyer = await signUp(api.app, 'Buyer');
    seller = await signUp(api.app, 'Seller');
    for (const user of [buyer, seller]) await fund(api.db, user.walletAddress, '1000.000000', '1000000.00');
    sellersOffer = await publishOffer(api, seller);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('makes a request wait for a connection at most DATABASE_ACQUIRE_TIMEOUT_MS: readiness says 503, then recovers', async () => {
    // a session of the test's own locks the seller's wallet: every offer the seller publishes
    // holds its pooled connection waiting for it (trades would not: they queue for one transaction
    // of the instance's trade desk), and a trade of the same wallet waits behind them
    const locker = await api.db.connect();
    let offers: Array<Promise<{ statusCode: number }>> = [];
    let trade: Promise<{ statusCode: number }> | undefined;
    try {
      await locker.query('begin');
      await locker.query('select 1 from wallet where wallet_address = $1 for update', [seller.walletAddress]);
      const pool = await api.app.orm.em.getConnection().getNativeClient();
      const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
      offers = Array.from({ length: 12 }, () =>
        api.app.inject({ method: 'POST', url: '/offers', headers: seller.headers, payload: { energyKwh: '0.001', priceIdrsPerKwh: '1500.00', expiresAt } }),
      );
      trade = api.app.inject({ method: 'POST', url: '/trades', headers: buyer.headers, payload: { offerId: sellersOffer, energyKwh: '0.001' } });
      // every pooled connection is an offer (or the trade) waiting for the lock
      await vi.waitFor(async () => {
        const [{ waiting }] = await api.db.query(
          `select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
        );
        expect(waiting).toBe(pool.options.max);
      }, { timeout: 30_000, interval: 20 });
      const ready = await api.app.inject('/health/ready');
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({ database: 'down' });
    } finally {
      await locker.query('rollback');
      locker.release();
    }
    const replies = await Promise.all([...offers, trade!]);
    // requests that got a connection went through once the lock was gone; the others failed fast
    expect(replies.filter(reply => reply.statusCode === 201).length).toBeGreaterThan(0);
    for (const reply of replies) expect([201, 500]).toContain(reply.statusCode);
    await vi.waitFor(async () => expect((await api.app.inject('/health/ready')).statusCode).toBe(200), { timeout: 30_000, interval: 100 });
  });
});
