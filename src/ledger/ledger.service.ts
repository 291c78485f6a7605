import type { EntityManager } from '@mikro-orm/postgresql';
import { User } from '../users/user.entity.ts';
import { Decimal, fixed, LOG_AMOUNT } from './amounts.ts';
import { TransactionLog, type ITransactionLog } from './transaction-log.entity.ts';

/**
 * Kinds of `transaction_log` rows written by enerlink. A conversion writes one per state change:
 * IDRS_ON_RAMP_REQUESTED (0), then IDRS_ON_RAMP (credit) or IDRS_ON_RAMP_FAILED (0); IDRS_OFF_RAMP
 * (debit), then IDRS_PAYOUT_SENT (0) or IDRS_OFF_RAMP_REFUND (credit).
 */
export type LogType =
  | 'TRADE_BUY'
  | 'TRADE_SELL'
  | 'ENERGY_SETTLEMENT'
  | 'IDRS_ON_RAMP_REQUESTED'
  | 'IDRS_ON_RAMP'
  | 'IDRS_ON_RAMP_FAILED'
  | 'IDRS_OFF_RAMP'
  | 'IDRS_PAYOUT_SENT'
  | 'IDRS_OFF_RAMP_REFUND';

/** One movement on a user's account: signed `amount` (credit > 0, debit < 0) in `currency`. */
export interface LogEntry {
  /**
   * The row's id, when the caller drew it from the log's sequence beforehand (a trade batch does,
   * in its locking statement): the insert then needs no answer and can go with the next statement.
   * Otherwise PostgreSQL assigns it and the insert returns it.
   */
  logId?: string;
  userId: string;
  type: LogType;
  amount: string;
  currency: 'IDRS' | 'KWH';
  description: string;
}

/** Adds a `transaction_log` row to `em`'s unit of work (written by its next flush). */
export function recordMovement(em: EntityManager, entry: LogEntry): ITransactionLog {
  return em.create(TransactionLog, {
    ...(entry.logId !== undefined && { logId: entry.logId }),
    user: em.getReference(User, entry.userId),
    transactionType: entry.type,
    amount: fixed(LOG_AMOUNT, new Decimal(entry.amount)),
    currency: entry.currency,
    description: entry.description,
  });
}
