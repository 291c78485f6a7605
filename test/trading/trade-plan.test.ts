import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settleTakes } from '../../src/trading/trade.service.ts';
import { createTestDatabase, createTestOrm, migrateTestDatabase, type TestDatabase } from '../helper.ts';

/** Every node of an EXPLAIN (FORMAT JSON) plan. */
function nodesOf(plan: Record<string, unknown>): Array<Record<string, unknown>> {
  return [plan, ...((plan.Plans as Array<Record<string, unknown>> | undefined) ?? []).flatMap(nodesOf)];
}

describe("a trade batch's locking statement on a large market", () => {
  const USERS = 20_000;
  let db: TestDatabase;
  let orm: MikroORM;
  const statements: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('trade_plan');
    const migrating = await createTestOrm(db);
    await migrateTestDatabase(migrating);
    await migrating.close();
    await db.query(`insert into "user" (user_id, name, email, password_hash)
      select 'user_plan_' || g, 'U' || g, 'plan' || g || '@example.test', 'x' from generate_series(1, ${USERS}) g`);
    await db.query(`insert into wallet (wallet_address, user_id, wallet_name, energy_balance, idrs_balance)
      select '0x' || lpad(to_hex(g), 40, '0'), 'user_plan_' || g, 'Main', 1000, 1000000 from generate_series(1, ${USERS}) g`);
    await db.query(`insert into market_offer (seller_user_id, energy_kwh, remaining_kwh, price_idrs_per_kwh, status, expires_at)
      select 'user_plan_' || g, 100, 100, 1500, 'OPEN', now() + interval '1 day' from generate_series(1, ${USERS}, 100) g`);
    await db.query('analyze');
    orm = await recordingOrm();
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  // the service's ORM, recording what it sends
  async function recordingOrm() {
    const recording = await createTestOrm(db);
    const onQuery = recording.config.get('onQuery');
    recording.config.set('onQuery', (sql: string, params: readonly unknown[]) => {
      statements.push(sql);
      return onQuery(sql, params);
    });
    return recording;
  }

  it('looks up the wallets and offers of its takes by index, not by reading every wallet', async () => {
    const offers = (await db.query('select offer_id::text as id, seller_user_id from market_offer order by offer_id limit 5')) as Array<{ id: string }>;
    const takes = offers.map((offer, n) => ({ buyerUserId: `user_plan_${USERS - n}`, request: { offerId: offer.id, energyKwh: '0.5' } }));
    statements.length = 0;
    const outcomes = await settleTakes(orm.em, takes, { skipLocked: true });
    expect(outcomes.filter(outcome => outcome instanceof Error)).toEqual([]);

    const locking = statements.find(sql => sql.trimStart().startsWith('with buyer_limits'));
    expect(locking).toBeDefined();
    const client = await db.connect();
    try {
      await client.query('begin');
      const [{ 'QUERY PLAN': [{ Plan: plan }] }] = (await client.query(`explain (format json, analyze) ${locking}`)).rows;
      const walletReads = nodesOf(plan).filter(node => node['Relation Name'] === 'wallet');
      expect(walletReads.length).toBeGreaterThanOrEqual(2); // the wallets locked, and the count of active ones
      for (const read of walletReads) {
        // by the user index, each read touches the few wallets of the batch's users
        expect(read['Node Type'], JSON.stringify(read)).toMatch(/Index/);
        expect(String(read['Index Cond']), JSON.stringify(read)).toMatch(/user_id/);
        expect(Number(read['Rows Removed by Filter'] ?? 0)).toBeLessThan(100);
      }
    } finally {
      await client.query('rollback');
      client.release();
    }
  });
});
