import { ADMIN_AUDIT_TABLE } from './admin/audit-log.ts';
import { TokenBlacklist } from './auth/token-blacklist.entity.ts';
import { CACHE_OUTBOX_TABLE } from './cache/cache-outbox.ts';
import { CacheOutbox } from './cache/cache-outbox.entity.ts';
import { FIXTURE_RUNS_TABLE } from './seeding/fixture-runs.ts';
import { REFERENCE_SEEDS_TABLE } from './seeding/reference-data.ts';
import { PREVIOUS_BACKEND_MIGRATIONS_TABLE } from './schema/legacy-adoption.ts';
import { MIGRATION_CHECKSUMS_TABLE } from './schema/migration-checksums.ts';
import { MIGRATION_RUNS_TABLE } from './schema/migration-run-log.ts';
import { IdrsConversion } from './idrs/idrs-conversion.entity.ts';
import { TransactionLog } from './ledger/transaction-log.entity.ts';
import { EnergySettlement } from './meters/energy-settlement.entity.ts';
import { SmartMeter } from './meters/smart-meter.entity.ts';
import { LimitDefaults } from './limits/limit-defaults.entity.ts';
import { UserLimit } from './limits/user-limit.entity.ts';
import { MarketOffer } from './trading/market-offer.entity.ts';
import { MarketTrade } from './trading/market-trade.entity.ts';
import { User } from './users/user.entity.ts';
import { Wallet } from './wallets/wallet.entity.ts';

/** Every entity mapped onto the post-rename schema, in the order MikroORM discovers them; then enerlink's own tables. */
export const entities = [User, Wallet, SmartMeter, EnergySettlement, TransactionLog, MarketTrade, IdrsConversion, TokenBlacklist, MarketOffer, UserLimit, LimitDefaults, CacheOutbox];

/** Service tables created on first use by their owners (see src/db/service-tables.ts): no entity, no migration. */
export const firstUseTables = [MIGRATION_RUNS_TABLE.name, MIGRATION_CHECKSUMS_TABLE.name, ADMIN_AUDIT_TABLE.name, FIXTURE_RUNS_TABLE.name, REFERENCE_SEEDS_TABLE.name];

/**
 * Tables no migration builds, which `migration:check` must leave alone: the first-use service
 * tables, and the previous backend's record of its migrations, kept for audits on adoption.
 */
export const unmigratedTables = [...firstUseTables, PREVIOUS_BACKEND_MIGRATIONS_TABLE];

/** Every table outside the schema the migrations build: left out of schema comparisons, verification and adoption. */
export const serviceTables = [...unmigratedTables, CACHE_OUTBOX_TABLE];
