import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { registerCachedEntity } from '../cache/cached-entities.ts';
import { User } from '../users/user.entity.ts';

declare module '../cache/cached-entities.ts' {
  interface CachedEntities {
    /** Revocations, by `token_hash`: what the in-process tier's token standings depend on. */
    revocation: true;
  }
}

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

// a logout flushed through MikroORM is announced to every instance in its own transaction, and
// drops the token's standing from the in-process tiers (see authenticate); registered here, with
// the entity, so that it is known before the ORM's subscriber is
registerCachedEntity('revocation', TokenBlacklist, 'tokenHash');

export type ITokenBlacklist = InferEntity<typeof TokenBlacklist>;
