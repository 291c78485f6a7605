import { Migration } from '@mikro-orm/migrations';

// lint-ignore missing-lock-timeout: applied only through enerlink's runner, which sets lock_timeout for the batch and retries it (MIGRATION_DDL_LOCK_TIMEOUT_MS); a lock_timeout of its own would override that setting
// lint-ignore constraint-not-valid: offer_id is created by the same statement, so every existing trade holds NULL and none can fail the key; validating it is one sequential read of market_trade, accepted at deployed sizes (on a very large market_trade, split it into NOT VALID and a later VALIDATE)
// lint-ignore index-not-concurrent: the index is on that new, all-NULL column and arrives in the same batch as the column and its key; its build is one sequential read of market_trade while writes to it wait (a CONCURRENTLY build would need a non-transactional migration of its own)
// lint-ignore unique-constraint-without-index: payment_id is created by the same statement and is NULL on every existing conversion; the unique index is built from one sequential read of idrs_conversion while writes to it wait, accepted for the same reason

/**
 * Market integrity (issue 14): meters the operator provisions and their device credentials,
 * offers that trades take, payments behind conversions, and per-user limits. Everything is
 * added beside the contract; the one change to a contract column is a widening:
 * smart_meter.user_id takes NULL, the state of a provisioned meter nobody has claimed yet.
 * Existing meters (owned, without a credential until the operator issues one), settlements,
 * trades and conversions are adopted as they are: every new column is nullable.
 */
export class Migration20261201000001_MarketIntegrity extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table smart_meter alter column user_id drop not null');
    this.addSql(`alter table smart_meter
      add column device_key varchar(64) null,
      add column device_signed_at timestamptz null,
      add column pairing_code_hash varchar(64) null,
      add column pairing_expires_at timestamptz null,
      add column provisioned_at timestamptz null,
      add column claimed_at timestamptz null`);
    this.addSql(`comment on column smart_meter.device_key is 'HMAC-SHA256 key the meter signs its settlements with; shown to the operator once'`);
    this.addSql(`comment on column smart_meter.device_signed_at is 'Timestamp of the newest accepted signed request: older or equal ones are replays'`);
    this.addSql(`comment on column smart_meter.pairing_code_hash is 'SHA-256 of the pairing code a user claims the meter with; cleared by the claim'`);

    this.addSql(`create table market_offer (
      offer_id bigserial primary key,
      seller_user_id varchar(64) not null,
      energy_kwh numeric(20,6) not null,
      remaining_kwh numeric(20,6) not null,
      price_idrs_per_kwh numeric(20,2) not null,
      status varchar(20) not null default 'OPEN',
      expires_at timestamptz not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint market_offer_seller_user_id_fkey foreign key (seller_user_id) references "user" (user_id) on delete cascade
    )`);
    this.addSql(`comment on column market_offer.remaining_kwh is 'Energy still offered, reserved from the seller''s balance while the offer is open and unexpired'`);
    this.addSql(`create index idx_marketoffer_open_price on market_offer (price_idrs_per_kwh, offer_id) where status = 'OPEN'`);
    this.addSql('create index idx_marketoffer_seller on market_offer (seller_user_id, status)');
    this.addSql(`alter table market_trade add column offer_id bigint null,
      add constraint market_trade_offer_id_fkey foreign key (offer_id) references market_offer (offer_id) on delete set null`);
    this.addSql('create index idx_markettrade_offer_id on market_trade (offer_id)');

    this.addSql(`alter table idrs_conversion
      add column payment_id varchar(100) null,
      add column settled_by varchar(20) null,
      add column settled_at timestamptz null,
      add constraint idrs_conversion_payment_id_unique unique (payment_id)`);
    this.addSql(`comment on column idrs_conversion.payment_id is 'The payment gateway''s id of the payment or payout that settled the conversion'`);

    this.addSql(`create table user_limit (
      user_id varchar(64) primary key,
      max_meters integer null,
      max_open_offers integer null,
      max_trade_kwh numeric(20,6) null,
      updated_at timestamptz not null default now(),
      constraint user_limit_user_id_fkey foreign key (user_id) references "user" (user_id) on delete cascade
    )`);
    this.addSql(`comment on table user_limit is 'Limits an operator set for a user; a NULL limit is the default'`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists user_limit');
    this.addSql(`alter table idrs_conversion drop constraint if exists idrs_conversion_payment_id_unique,
      drop column if exists payment_id, drop column if exists settled_by, drop column if exists settled_at`);
    this.addSql('alter table market_trade drop column if exists offer_id');
    this.addSql('drop table if exists market_offer');
    // the contract has no unclaimed meter: a meter nobody claimed goes with the columns that provisioned it
    this.addSql('delete from smart_meter where user_id is null');
    this.addSql(`alter table smart_meter drop column if exists device_key, drop column if exists device_signed_at,
      drop column if exists pairing_code_hash, drop column if exists pairing_expires_at,
      drop column if exists provisioned_at, drop column if exists claimed_at`);
    this.addSql('alter table smart_meter alter column user_id set not null');
  }
}
