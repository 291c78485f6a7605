import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { User } from '../users/user.entity.ts';

/** A revoked JWT (by hash), refused until it would have expired anyway. */
export const TokenBlacklist = defineEntity({
  name: 'TokenBlacklist',
  tableName: 'token_blacklist',
  uniques: [{ name: 'token_blacklist_token_hash_unique', properties: ['tokenHash'] }],
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    tokenHash: p.string().length(128),
    user: () =>
      p.manyToOne(User).fieldName('user_id').foreignKeyName('token_blacklist_user_id_fkey').deleteRule('cascade'),
    reason: p.string().length(50).default('LOGOUT'),
    expiresAt: p.datetime(),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
  },
});

export type ITokenBlacklist = InferEntity<typeof TokenBlacklist>;
