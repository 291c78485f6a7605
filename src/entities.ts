import { TokenBlacklist } from './auth/token-blacklist.entity.ts';
import { CacheOutbox } from './cache/cache-outbox.entity.ts';
import { IdrsConversion } from './idrs/idrs-conversion.entity.ts';
import { TransactionLog } from './ledger/transaction-log.entity.ts';
import { EnergySettlement } from './meters/energy-settlement.entity.ts';
import { SmartMeter } from './meters/smart-meter.entity.ts';
import { MarketTrade } from './trading/market-trade.entity.ts';
import { User } from './users/user.entity.ts';
import { Wallet } from './wallets/wallet.entity.ts';

/** Every entity mapped onto the post-rename schema, in the order MikroORM discovers them; then enerlink's own tables. */
export const entities = [User, Wallet, SmartMeter, EnergySettlement, TransactionLog, MarketTrade, IdrsConversion, TokenBlacklist, CacheOutbox];
