import type { TestDatabase } from './helper.ts';

/**
 * Fills a legacy (prosumer-era) database with `users` prosumers, each with a wallet, a meter,
 * `logsPerUser` transaction log rows, and some trades, conversions, blacklisted tokens and
 * settlements. Set-based SQL, so a million users take seconds, not minutes.
 */
export async function fillLegacyData(db: Pick<TestDatabase, 'query'>, users: number, logsPerUser = 2): Promise<void> {
  const n = Math.max(1, Math.floor(users));
  await db.query(`insert into prosumer (prosumer_id, name, email, password_hash)
    select 'prosumer_' || g, 'Prosumer ' || g, 'prosumer' || g || '@example.test', '$2b$04$' || md5(g::text)
    from generate_series(1, ${n}) g`);
  await db.query(`insert into wallet (wallet_address, prosumer_id, wallet_name, energy_balance, idrs_balance, is_active)
    select '0x' || lpad(to_hex(g), 40, '0'), 'prosumer_' || g, 'Main wallet', (g % 997) + 0.123456, (g % 5003) + 0.25, g % 7 <> 0
    from generate_series(1, ${n}) g`);
  await db.query(`insert into smart_meter (meter_id, prosumer_id, location, status, capacity_kw)
    select 'MTR-' || lpad(g::text, 10, '0'), 'prosumer_' || g, 'Jakarta ' || (g % 50),
           (array['ACTIVE', 'INACTIVE', 'MAINTENANCE'])[g % 3 + 1], 3.5 + (g % 10)
    from generate_series(1, ${n}) g`);
  await db.query(`insert into transaction_log (prosumer_id, transaction_type, description, amount, currency, tx_hash)
    select 'prosumer_' || (g % ${n} + 1), 'SETTLEMENT', 'meter settlement ' || g, (g % 100) + 0.00000001, 'KWH', '0x' || md5(g::text)
    from generate_series(1, ${n * logsPerUser}) g`);
  const trades = Math.max(1, Math.floor(n / 10));
  await db.query(`insert into market_trade (buyer_prosumer_id, seller_prosumer_id, traded_energy_kwh, price_idrs_per_kwh, total_idrs)
    select 'prosumer_' || (g % ${n} + 1), 'prosumer_' || ((g + 1) % ${n} + 1), 1.5, 1500, 2250
    from generate_series(1, ${trades}) g`);
  await db.query(`insert into idrs_conversion (prosumer_id, wallet_address, conversion_type, idr_amount, idrs_amount, status)
    select 'prosumer_' || g, '0x' || lpad(to_hex(g), 40, '0'), 'ON_RAMP', 100000, 100000, 'COMPLETED'
    from generate_series(1, ${trades}) g`);
  await db.query(`insert into token_blacklist (token_hash, prosumer_id, expires_at)
    select md5('token' || g), 'prosumer_' || g, now() + interval '1 day'
    from generate_series(1, ${trades}) g`);
  await db.query(`insert into energy_settlement (meter_id, period_start, period_end, net_kwh, status)
    select 'MTR-' || lpad(g::text, 10, '0'), now() - interval '1 hour', now(), 2.5, 'SETTLED'
    from generate_series(1, ${trades}) g`);
}

/** Primary key of each table, for stable ordering. */
export const PRIMARY_KEYS: Record<string, string> = {
  prosumer: 'prosumer_id',
  user: 'user_id',
  wallet: 'wallet_address',
  smart_meter: 'meter_id',
  transaction_log: 'log_id',
  market_trade: 'trade_id',
  idrs_conversion: 'conversion_id',
  token_blacklist: 'id',
  energy_settlement: 'settlement_id',
  market_offer: 'offer_id',
};

/** Every row of every table, as JSON text per table, ordered by primary key. */
export async function dumpTables(db: Pick<TestDatabase, 'query'>, tables: string[]): Promise<Record<string, string>> {
  const dump: Record<string, string> = {};
  for (const table of tables) {
    const [row] = await db.query(`select coalesce(json_agg(t order by ${PRIMARY_KEYS[table]})::text, '[]') as rows from "${table}" t`);
    dump[table] = row.rows;
  }
  return dump;
}
