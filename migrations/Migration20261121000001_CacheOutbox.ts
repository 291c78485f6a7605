import { Migration } from '@mikro-orm/migrations';

/**
 * The cache purge outbox: one row per committed schema change, written in the migration's own
 * transaction, saying that Redis entries of older schema generations are to be deleted. A row
 * stays pending until a purge has run, so a purge owed while Redis was unreachable is carried
 * out once it is back. Only enerlink's machinery uses it; the legacy contract does not have it.
 */
export class Migration20261121000001_CacheOutbox extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table cache_outbox (
      id bigserial primary key,
      generation varchar(32) not null,
      migrations text not null,
      created_at timestamptz not null default now(),
      claimed_until timestamptz null,
      purged_at timestamptz null,
      purged_keys bigint null
    )`);
    this.addSql(`create index idx_cacheoutbox_pending on cache_outbox (id) where purged_at is null`);
    this.addSql(`comment on table cache_outbox is 'Cache purges owed after schema changes (transactional outbox)'`);
    this.addSql(`comment on column cache_outbox.generation is 'Schema generation the change produced: every other generation is to be purged'`);
    this.addSql(`comment on column cache_outbox.claimed_until is 'Lease of the instance carrying out the purge'`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists cache_outbox');
  }
}
