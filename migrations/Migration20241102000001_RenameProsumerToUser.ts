import { Migration } from '@mikro-orm/migrations';

// Every rename is in place (ALTER ... RENAME): catalog-only changes that keep the data, the
// foreign keys and the index contents, so the cost does not grow with the number of rows and
// the ACCESS EXCLUSIVE locks are held for milliseconds. Foreign keys that point at the table
// follow the rename by themselves.
//
// The known exception to the rename rules, reviewed (see README, Migration lint):
// lint-ignore rename-table: the prosumer -> user rename is the customer's contract change; no release that reads prosumer runs once it is applied (deployed databases are adopted and renamed before the new release serves)
// lint-ignore rename-column: the prosumer_id -> user_id columns are renamed with their table, in the same transaction, for the same reason
// lint-ignore missing-lock-timeout: applied only through enerlink's runner, which sets lock_timeout for the batch and retries it (MIGRATION_DDL_LOCK_TIMEOUT_MS); a lock_timeout of its own would override that setting

/** Columns renamed: [table after the rename, legacy column, new column]. */
const COLUMNS = [
  ['"user"', 'prosumer_id', 'user_id'],
  ['wallet', 'prosumer_id', 'user_id'],
  ['smart_meter', 'prosumer_id', 'user_id'],
  ['transaction_log', 'prosumer_id', 'user_id'],
  ['market_trade', 'buyer_prosumer_id', 'buyer_user_id'],
  ['market_trade', 'seller_prosumer_id', 'seller_user_id'],
  ['idrs_conversion', 'prosumer_id', 'user_id'],
  ['token_blacklist', 'prosumer_id', 'user_id'],
] as const;

/** Constraints renamed (a primary key or unique constraint renames its index with it). */
const CONSTRAINTS = [
  ['"user"', 'prosumer_pkey', 'user_pkey'],
  ['"user"', 'prosumer_email_unique', 'user_email_unique'],
  ['wallet', 'wallet_prosumer_id_fkey', 'wallet_user_id_fkey'],
  ['smart_meter', 'smart_meter_prosumer_id_fkey', 'smart_meter_user_id_fkey'],
  ['transaction_log', 'transaction_log_prosumer_id_fkey', 'transaction_log_user_id_fkey'],
  ['market_trade', 'market_trade_buyer_prosumer_id_fkey', 'market_trade_buyer_user_id_fkey'],
  ['market_trade', 'market_trade_seller_prosumer_id_fkey', 'market_trade_seller_user_id_fkey'],
  ['idrs_conversion', 'idrs_conversion_prosumer_id_fkey', 'idrs_conversion_user_id_fkey'],
  ['token_blacklist', 'token_blacklist_prosumer_id_fkey', 'token_blacklist_user_id_fkey'],
] as const;

const INDEXES = [
  ['idx_wallet_prosumer_id', 'idx_wallet_user_id'],
  ['idx_smartmeter_prosumer_id', 'idx_smartmeter_user_id'],
  ['idx_transactionlog_prosumer_id', 'idx_transactionlog_user_id'],
  ['idx_markettrade_buyer_prosumer', 'idx_markettrade_buyer_user'],
  ['idx_markettrade_seller_prosumer', 'idx_markettrade_seller_user'],
  ['idx_idrsconversion_prosumer_id', 'idx_idrsconversion_user_id'],
] as const;

/** The comments from the customer's migration guide. */
const COMMENTS = [
  ['TABLE "user"', 'User accounts table (formerly prosumer)'],
  ['COLUMN "user".user_id', 'Unique identifier for user'],
  ['COLUMN wallet.user_id', 'Reference to user who owns this wallet'],
  ['COLUMN smart_meter.user_id', 'Reference to user who owns this meter'],
  ['COLUMN transaction_log.user_id', 'Reference to user associated with this transaction'],
  ['COLUMN market_trade.buyer_user_id', 'User ID of the buyer'],
  ['COLUMN market_trade.seller_user_id', 'User ID of the seller'],
  ['COLUMN idrs_conversion.user_id', 'Reference to user who performed this conversion'],
] as const;

/** Renames prosumer to user everywhere: the table, its key columns, constraints and indexes. */
export class Migration20241102000001_RenameProsumerToUser extends Migration {
  override async up(): Promise<void> {
    this.addSql('ALTER TABLE prosumer RENAME TO "user"');
    for (const [table, legacy, current] of COLUMNS) {
      this.addSql(`ALTER TABLE ${table} RENAME COLUMN ${legacy} TO ${current}`);
    }
    for (const [table, legacy, current] of CONSTRAINTS) {
      this.addSql(`ALTER TABLE ${table} RENAME CONSTRAINT ${legacy} TO ${current}`);
    }
    for (const [legacy, current] of INDEXES) {
      this.addSql(`ALTER INDEX ${legacy} RENAME TO ${current}`);
    }
    for (const [target, text] of COMMENTS) {
      this.addSql(`COMMENT ON ${target} IS '${text}'`);
    }
  }

  override async down(): Promise<void> {
    for (const [target] of COMMENTS) {
      this.addSql(`COMMENT ON ${target} IS NULL`);
    }
    for (const [legacy, current] of INDEXES) {
      this.addSql(`ALTER INDEX ${current} RENAME TO ${legacy}`);
    }
    for (const [table, legacy, current] of CONSTRAINTS) {
      this.addSql(`ALTER TABLE ${table} RENAME CONSTRAINT ${current} TO ${legacy}`);
    }
    for (const [table, legacy, current] of COLUMNS) {
      this.addSql(`ALTER TABLE ${table} RENAME COLUMN ${current} TO ${legacy}`);
    }
    this.addSql('ALTER TABLE "user" RENAME TO prosumer');
  }
}
