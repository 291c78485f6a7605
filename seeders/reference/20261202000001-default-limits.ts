import type { ReferenceSeeder } from '../../src/seeding/reference-data.ts';

/**
 * The default per-user limits (limit_defaults, one row): what a user without an operator's
 * limits is held to, a household rather than a power plant. The only place these values are
 * written; to change them, add a reference seeder that updates the row (this one is applied
 * once and must never be edited).
 */
export const referenceSeeder: ReferenceSeeder = {
  async apply(execute) {
    await execute('insert into limit_defaults (id, max_meters, max_open_offers, max_trade_kwh) values (1, ?, ?, ?)', [5, 20, '1000.000000']);
  },
};
