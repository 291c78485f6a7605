import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { User } from '../users/user.entity.ts';

/** One movement of energy or money on a user's account (a trade side, a conversion, a settlement). */
export const TransactionLog = defineEntity({
  name: 'TransactionLog',
  tableName: 'transaction_log',
  indexes: [{ name: 'idx_transactionlog_user_id', properties: ['user'] }],
  properties: {
    logId: p.bigint('string').primary().autoincrement(),
    user: () =>
      p
        .manyToOne(User)
        .fieldName('user_id')
        .foreignKeyName('transaction_log_user_id_fkey')
        .deleteRule('cascade')
        .comment('Reference to user associated with this transaction'),
    transactionType: p.string().length(40),
    description: p.text().nullable(),
    amount: p.decimal().precision(20).scale(8),
    currency: p.string().length(10),
    txHash: p.string().length(66).nullable(),
    transactionTimestamp: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
  },
});

export type ITransactionLog = InferEntity<typeof TransactionLog>;
