import { Migration } from '@mikro-orm/migrations';

/**
 * The default per-user limits move from a constant in the code to a table of one row, so an
 * operator can see them in the database and a release changes them with a reference seeder
 * (seeders/reference/), applied once and recorded. The migration creates the table only: the
 * values have one home, the reference seeder that fills it (npm run seed:reference, or startup
 * with REFERENCE_SEED_RUN). Until it ran, actions that need limits answer 503.
 */
export class Migration20261202000001_LimitDefaults extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table limit_defaults (
      id smallint not null default 1 primary key,
      max_meters integer not null,
      max_open_offers integer not null,
      max_trade_kwh numeric(20,6) not null,
      updated_at timestamptz not null default now(),
      constraint limit_defaults_one_row check (id = 1)
    )`);
    this.addSql(`comment on table limit_defaults is 'The per-user limits of a user without their own (one row, from the reference seeders)'`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists limit_defaults');
  }
}
