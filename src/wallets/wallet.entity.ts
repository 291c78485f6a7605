import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { User } from '../users/user.entity.ts';

/** An on-chain wallet holding a user's energy credits (kWh) and IDRS. */
export const Wallet = defineEntity({
  name: 'Wallet',
  tableName: 'wallet',
  indexes: [
    { name: 'idx_wallet_user_id', properties: ['user'] },
    { name: 'idx_wallet_user_active', properties: ['user', 'isActive'], where: 'is_active = true' },
  ],
  properties: {
    walletAddress: p.string().length(64).primary(),
    user: () =>
      p
        .manyToOne(User)
        .fieldName('user_id')
        .foreignKeyName('wallet_user_id_fkey')
        .deleteRule('cascade')
        .comment('Reference to user who owns this wallet'),
    walletName: p.string().length(100).nullable(),
    energyBalance: p.decimal().precision(20).scale(6).defaultRaw('0'),
    idrsBalance: p.decimal().precision(20).scale(2).defaultRaw('0'),
    isActive: p.boolean().default(true),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

export type IWallet = InferEntity<typeof Wallet>;
