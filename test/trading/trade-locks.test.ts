import { setTimeout as sleep } from 'node:timers/promises';
import { DefaultLogger, type LogContext } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createOrm } from '../../src/orm.ts';
import { takeOffer } from '../../src/trading/trade.service.ts';
import { expectProblem, fund, ownSessionPerTest, signUp, startApi, tableCounts, type Account, type Api } from '../api.ts';

const inHours = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();

/** A logger that keeps every statement MikroORM sends (as sent: with its values), begin and commit included. */
class StatementLog extends DefaultLogger {
  static statements: string[] = [];
  override logQuery(context: { query: string; formatted?: string } & LogContext): void {
    StatementLog.statements.push((context.formatted ?? context.query).replace(/\s+/g, ' ').trim());
  }
}

describe('what a trade locks, and in how many statements', () => {
  let api: Api;
  let buyer: Account;
  let seller: Account;
  const own = ownSessionPerTest(() => api.db);

  const take = (account: Account, offerId: string, energyKwh: string) =>
    api.app.inject({ method: 'POST', url: '/trades', headers: account.headers, payload: { offerId, energyKwh } });
  const publish = async (account: Account, energyKwh: string) => {
    const reply = await api.app.inject({ method: 'POST', url: '/offers', headers: account.headers, payload: { energyKwh, priceIdrsPerKwh: '100', expiresAt: inHours(2) } });
    expect(reply.statusCode, reply.body).toBe(201);
    return reply.json().offerId as string;
  };
  /** Waits until a session of the test database waits on a row lock: the trade reached the lock it queues on. */
  const untilSomeoneWaitsOnALock = async () => {
    for (;;) {
      const [row] = await api.db.query(`select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
      if (row.waiting > 0) return;
      await sleep(10);
    }
  };
  /** Whether another session can lock this row right now (`FOR UPDATE NOWAIT`, rolled back at once). */
  const lockable = async (sql: string, params: unknown[]) => {
    const probe = await api.db.connect();
    try {
      await probe.query('begin');
      await probe.query(`${sql} for update nowait`, params);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === '55P03') return false; // lock_not_available
      throw error;
    } finally {
      await probe.query('rollback');
      probe.release();
    }
  };
  const walletLockable = (account: Account) => lockable('select 1 from wallet where wallet_address = $1', [account.walletAddress]);
  const offerLockable = (offerId: string) => lockable('select 1 from market_offer where offer_id = $1', [offerId]);

  beforeAll(async () => {
    api = await startApi('trade_locks');
    buyer = await signUp(api.app, 'Buyer');
    seller = await signUp(api.app, 'Seller');
  });
  beforeEach(async () => {
    await api.db.query('truncate market_trade, market_offer, transaction_log, user_limit');
    await api.db.query('update wallet set is_active = true');
    await fund(api.db, buyer.walletAddress, '0', '10000.00');
    await fund(api.db, seller.walletAddress, '50.000000', '0.00');
  });
  afterAll(async () => {
    await api.close();
  });

  it('reads the limits and locks both wallets and the offer in one statement, and writes everything in one flush', async () => {
    const offerId = await publish(seller, '10');
    let orm: MikroORM | undefined;
    try {
      orm = await createOrm(api.db.config, { loggerFactory: options => new StatementLog(options) });
      await orm.connect();
      StatementLog.statements = [];
      const sent = vi.spyOn(pg.Client.prototype, 'query'); // what the pool's client sends: one call a round trip
      try {
        await takeOffer(orm.em.fork(), buyer.userId, { offerId, energyKwh: '1' });
        // begin with the locking statement; the inserts and updates with commit (the wallets'
        // update returns only their keys, which nobody needs: it is held too)
        const roundTrips = sent.mock.calls.map(call => String((call[0] as { text?: string }).text ?? call[0]));
        expect(roundTrips).toHaveLength(2);
        expect(roundTrips[0]).toMatch(/^begin;\s*with buyer_limits/);
        expect(roundTrips[1]).toMatch(/^insert into "transaction_log".*;\s*insert into "market_trade".*;\s*update "wallet" .* returning "wallet_address";\s*update "market_offer" .*;\s*commit$/s);
      } finally {
        sent.mockRestore();
      }
    } finally {
      await orm?.close();
    }
    const statements = StatementLog.statements;
    const locking = statements.filter(statement => / for update/.test(statement));
    expect(locking).toHaveLength(1);
    expect(locking[0]).toMatch(/from "wallet".* for update.*from "market_offer".* for update/);
    // after the lock: the one flush (the trade, both ledger rows, both wallets in one update, the offer), then commit
    const afterLock = statements.slice(statements.indexOf(locking[0]) + 1).map(statement => /^(insert into "\w+"|update "\w+"|\w+)/.exec(statement)![1]);
    expect(afterLock.sort()).toEqual(['commit', 'insert into "market_trade"', 'insert into "transaction_log"', 'update "market_offer"', 'update "wallet"'].sort());
    expect(locking[0]).toMatch(/join user_limit /);
    // before it: begin alone
    expect(statements.slice(0, statements.indexOf(locking[0]))).toEqual(['begin']);
    const [logs] = await api.db.query(`select count(*)::int as rows, count(*) filter (where description like 'trade ' || (select trade_id from market_trade) || ':%')::int as naming from transaction_log`);
    expect(logs).toEqual({ rows: 2, naming: 2 });
  });

  it('takes the wallets first: a trade waiting for the last of its wallets holds no lock on the offer', async () => {
    const offerId = await publish(seller, '10');
    // the wallet the trade locks last (hex addresses sort alike in JavaScript and PostgreSQL)
    const [first, last] = [buyer, seller].sort((a, b) => (a.walletAddress < b.walletAddress ? -1 : 1));
    await own.query('begin');
    await own.query('select 1 from wallet where wallet_address = $1 for update', [last.walletAddress]);
    const trade = take(buyer, offerId, '1');
    await untilSomeoneWaitsOnALock();
    // the trade holds the first wallet and waits for the last, before the offer: anyone may still lock the offer
    expect(await walletLockable(first)).toBe(false);
    expect(await offerLockable(offerId)).toBe(true);
    await own.query('commit');
    expect((await trade).statusCode).toBe(201);
  });

  it('takes the offer last: a trade waiting for the offer already holds both wallets', async () => {
    const offerId = await publish(seller, '10');
    await own.query('begin');
    await own.query('select 1 from market_offer where offer_id = $1 for update', [offerId]);
    const trade = take(buyer, offerId, '1');
    await untilSomeoneWaitsOnALock();
    expect(await walletLockable(buyer)).toBe(false);
    expect(await walletLockable(seller)).toBe(false);
    await own.query('commit');
    expect((await trade).statusCode).toBe(201);
  });

  it('sees what the writer it waited for committed: a seller wallet deactivated meanwhile is refused (409), nothing written', async () => {
    const offerId = await publish(seller, '10');
    const before = await tableCounts(api.db);
    await own.query('begin');
    await own.query('update wallet set is_active = false where wallet_address = $1', [seller.walletAddress]);
    const trade = take(buyer, offerId, '1');
    await untilSomeoneWaitsOnALock();
    await own.query('commit');
    expectProblem(await trade, 409, 'NO_ACTIVE_WALLET');
    expect(await tableCounts(api.db)).toEqual(before);
  });

  it.each([
    ['buyer', 'idrs_balance = idrs_balance + 1'],
    ['seller', 'energy_balance = energy_balance + 1'],
  ])("finds the %s's wallet that changed while it waited (the holder committed an update): the trade goes through", async (side, change) => {
    const offerId = await publish(seller, '10');
    const changed = side === 'buyer' ? buyer : seller;
    await own.query('begin');
    // as another batch would: the wallet and the offer
    await own.query(`update wallet set ${change} where wallet_address = $1`, [changed.walletAddress]);
    await own.query('update market_offer set remaining_kwh = remaining_kwh - 1 where offer_id = $1', [offerId]);
    const trade = take(buyer, offerId, '1');
    await untilSomeoneWaitsOnALock();
    await own.query('commit');
    const reply = await trade;
    expect(reply.statusCode, reply.body).toBe(201);
    const [wallet] = await api.db.query('select energy_balance, idrs_balance from wallet where wallet_address = $1', [changed.walletAddress]);
    // the holder's change and the trade's, neither lost
    expect(wallet).toEqual(side === 'buyer' ? { energy_balance: '1.000000', idrs_balance: '9901.00' } : { energy_balance: '50.000000', idrs_balance: '100.00' });
  });

  it('sees a balance changed while it waited: no lost update, the buyer short of IDRS is refused (409)', async () => {
    const offerId = await publish(seller, '10');
    await own.query('begin');
    await own.query(`update wallet set idrs_balance = 50 where wallet_address = $1`, [buyer.walletAddress]);
    const trade = take(buyer, offerId, '1');
    await untilSomeoneWaitsOnALock();
    await own.query('commit');
    const reply = await trade;
    expectProblem(reply, 409, 'INSUFFICIENT_BALANCE');
    expect(reply.json().detail).toBe('Your IDRS balance 50.00 does not cover the total 100.00 IDRS');
    const [offer] = await api.db.query('select remaining_kwh from market_offer where offer_id = $1', [offerId]);
    expect(offer.remaining_kwh).toBe('10.000000');
  });

  it.each([
    ['their own offer', 'seller', 400, 'SELF_TRADE'],
    ['with no active wallet', 'buyer-inactive', 409, 'NO_ACTIVE_WALLET'],
    ['for more IDRS than they hold', 'poor', 409, 'INSUFFICIENT_BALANCE'],
    ['more than the offer holds', 'greedy', 409, 'OFFER_UNAVAILABLE'],
    ['an offer that does not exist', 'missing', 404, 'OFFER_NOT_FOUND'],
  ])('refuses a buyer taking %s: nothing written, no lock left behind', async (_case, kind, status, code) => {
    const offerId = await publish(seller, '10');
    if (kind === 'buyer-inactive') await api.db.query('update wallet set is_active = false where wallet_address = $1', [buyer.walletAddress]);
    if (kind === 'poor') await fund(api.db, buyer.walletAddress, '0', '99.99');
    const before = await tableCounts(api.db);
    const taker = kind === 'seller' ? seller : buyer;
    const target = kind === 'missing' ? String(Number(offerId) + 1000) : offerId;
    expectProblem(await take(taker, target, kind === 'greedy' ? '10.000001' : '1'), status, code);
    expect(await tableCounts(api.db)).toEqual(before);
    expect(await walletLockable(buyer)).toBe(true);
    expect(await walletLockable(seller)).toBe(true);
    expect(await offerLockable(offerId)).toBe(true);
  });
});
