import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { User } from '../users/user.entity.ts';
import { Wallet } from '../wallets/wallet.entity.ts';

/** A conversion between rupiah (IDR) and the IDRS stablecoin on a wallet. */
export const IdrsConversion = defineEntity({
  name: 'IdrsConversion',
  tableName: 'idrs_conversion',
  indexes: [{ name: 'idx_idrsconversion_user_id', properties: ['user'] }],
  uniques: [{ name: 'idrs_conversion_payment_id_unique', properties: ['paymentId'] }],
  properties: {
    conversionId: p.bigint('string').primary().autoincrement(),
    user: () =>
      p
        .manyToOne(User)
        .fieldName('user_id')
        .foreignKeyName('idrs_conversion_user_id_fkey')
        .deleteRule('cascade')
        .comment('Reference to user who performed this conversion'),
    wallet: () =>
      p
        .manyToOne(Wallet)
        .fieldName('wallet_address')
        .foreignKeyName('idrs_conversion_wallet_address_fkey')
        .deleteRule('cascade'),
    conversionType: p.string().length(10),
    idrAmount: p.decimal().precision(20).scale(2),
    idrsAmount: p.decimal().precision(20).scale(2),
    exchangeRate: p.decimal().precision(20).scale(8).defaultRaw('1'),
    status: p.string().length(20).default('PENDING'),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
    paymentId: p.string().length(100).nullable().comment("The payment gateway's id of the payment or payout that settled the conversion"),
    /** Who settled it: `gateway` (signed webhook) or `operator` (admin API). */
    settledBy: p.string().length(20).nullable(),
    settledAt: p.datetime().nullable(),
  },
});

export type IIdrsConversion = InferEntity<typeof IdrsConversion>;
