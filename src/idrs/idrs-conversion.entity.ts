import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { User } from '../users/user.entity.ts';
import { Wallet } from '../wallets/wallet.entity.ts';

/** A conversion between rupiah (IDR) and the IDRS stablecoin on a wallet. */
export const IdrsConversion = defineEntity({
  name: 'IdrsConversion',
  tableName: 'idrs_conversion',
  indexes: [{ name: 'idx_idrsconversion_user_id', properties: ['user'] }],
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
  },
});

export type IIdrsConversion = InferEntity<typeof IdrsConversion>;
