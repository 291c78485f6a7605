import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { User } from '../users/user.entity.ts';

/** The limits an operator set for one user; a null limit (or no row) is the default. */
export const UserLimit = defineEntity({
  name: 'UserLimit',
  tableName: 'user_limit',
  comment: 'Limits an operator set for a user; a NULL limit is the default',
  properties: {
    user: () => p.manyToOne(User).primary().fieldName('user_id').foreignKeyName('user_limit_user_id_fkey').deleteRule('cascade').updateRule('no action'),
    maxMeters: p.integer().nullable(),
    maxOpenOffers: p.integer().nullable(),
    maxTradeKwh: p.decimal().precision(20).scale(6).nullable(),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

export type IUserLimit = InferEntity<typeof UserLimit>;
