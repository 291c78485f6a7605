import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { MikroORM } from '@mikro-orm/postgresql';
import { TokenBlacklist } from '../auth/token-blacklist.entity.ts';
import { User } from '../users/user.entity.ts';
import { toUserProfile, type UserProfile } from '../users/user-profile.ts';

/** What PostgreSQL says of a bearer token: usable, revoked, or naming a user that is gone. */
export type TokenStanding = 'valid' | 'revoked' | 'no-user';

/**
 * The hot reads: one per authenticated request (`tokenStanding`) and `GET /users/:userId`.
 * Profiles are served through the cache (`app.cache`: the in-process tier, then Redis), which
 * forgets an entry when its entity changes and falls back to PostgreSQL when Redis is down.
 * `tokenStanding` is never stored in Redis: a revocation or a deletion that Redis missed (Redis
 * down, restored from a snapshot, the instance that saw it restarted) would otherwise let the
 * token back in. Only the in-process tier keeps its answer, within its bound (see authenticate).
 */
export interface Reads {
  findUser(userId: string): Promise<UserProfile | null>;
  /** What `findUser` would give at once, if the in-process tier holds it (see `Cache.peekLocal`); `undefined`: call `findUser`. */
  heldUser(userId: string): UserProfile | null | undefined;
  /** Whether a token of `userId` is revoked (any of `revocationKeys` in `token_blacklist`) or its user gone. */
  tokenStanding(userId: string, revocationKeys: string[]): Promise<TokenStanding>;
}

declare module 'fastify' {
  interface FastifyInstance {
    reads: Reads;
  }
}

/** Reads straight from PostgreSQL, each on its own fork of the ORM's EntityManager. */
export function databaseReads(orm: MikroORM): Reads {
  const users = orm.getMetadata(User);
  const blacklist = orm.getMetadata(TokenBlacklist);
  const connection = orm.em.getConnection();
  // Runs on every authenticated request: a named (prepared) statement on the ORM's own pg pool,
  // planned once per connection, on the primary key of "user" and the unique index of token_blacklist.
  const standingSql = (keys: number) => ({
    name: `enerlink-token-standing-${keys}`,
    text: `select exists(select 1 from "${users.tableName}" where ${users.properties.userId.fieldNames[0]} = $1) as user_exists,
      exists(select 1 from "${blacklist.tableName}" where ${blacklist.properties.tokenHash.fieldNames[0]} in (${Array.from({ length: keys }, (_, n) => `$${n + 2}`).join(', ')})) as revoked`,
  });
  return {
    async findUser(userId) {
      const user = await orm.em.fork().findOne(User, { userId });
      return user && toUserProfile(user);
    },
    heldUser: () => undefined,
    async tokenStanding(userId, revocationKeys) {
      const pool = await connection.getNativeClient();
      const { rows } = await pool.query<{ user_exists: boolean; revoked: boolean }>({ ...standingSql(revocationKeys.length), values: [userId, ...revocationKeys] });
      return rows[0].revoked ? 'revoked' : rows[0].user_exists ? 'valid' : 'no-user';
    },
  };
}

/** `reads` through the cache: cache-aside for profiles; the token's standing always from PostgreSQL (authenticate keeps it in the in-process tier). */
export function cachedReads(database: Reads, cache: FastifyInstance['cache']): Reads {
  return {
    findUser: userId => cache.getOrLoad('user', userId, () => database.findUser(userId)),
    heldUser: userId => cache.peekLocal<UserProfile | null>('user', userId),
    tokenStanding: (userId, revocationKeys) => database.tokenStanding(userId, revocationKeys),
  };
}

/** Decorates the app with `reads` (see `Reads`). */
export default fp(
  async app => {
    app.decorate('reads', cachedReads(databaseReads(app.orm), app.cache));
  },
  { name: 'reads', dependencies: ['orm', 'lifecycle'] },
);
