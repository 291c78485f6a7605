import { Migration } from '@mikro-orm/migrations';

const INDEXES = [
  ['idx_wallet_user_active', 'wallet (user_id, is_active) WHERE is_active = true'],
  ['idx_smartmeter_user_status', 'smart_meter (user_id, status)'],
] as const;

/**
 * The composite indexes from the customer's guide, built CONCURRENTLY so meters and trades
 * keep writing while they build. CONCURRENTLY cannot run inside a transaction, hence
 * `isTransactional() === false`; the migrator runs this one on its own, outside any batch.
 */
export class Migration20241102000002_AddCompositeIndexes extends Migration {
  override isTransactional(): boolean {
    return false;
  }

  override async up(): Promise<void> {
    for (const [name, definition] of INDEXES) {
      // A build that was interrupted leaves an INVALID index behind; drop it and build anew.
      this.addSql(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
      this.addSql(`CREATE INDEX CONCURRENTLY ${name} ON ${definition}`);
    }
  }

  override async down(): Promise<void> {
    for (const [name] of INDEXES) {
      this.addSql(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
    }
  }
}
