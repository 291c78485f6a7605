import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { MikroORM } from '@mikro-orm/postgresql';
import { TokenBlacklist } from '../auth/token-blacklist.entity.ts';
import { User } from '../users/user.entity.ts';
import { toUserProfile, type UserProfile } from '../users/user-profile.ts';

/** What PostgreSQL says of a bearer token: usable, revoked, or naming a user that is gone. */
export type TokenStanding = 'valid' | 'revoked' | 'no-user';

/** What a token's standing is read by: its user, and the keys `token_blacklist` holds it by once revoked. */
export interface TokenOwner {
  userId: string;
  revocationKeys: readonly string[];
}

/**
 * The hot reads: one per authenticated request (`tokenStandings`) and `GET /users/:userId`.
 * Profiles are served through the cache (`app.cache`: the in-process tier, then Redis), which
 * forgets an entry when its entity changes and falls back to PostgreSQL when Redis is down.
 * `tokenStandings` is never stored in Redis: a revocation or a deletion that Redis missed (Redis
 * down, restored from a snapshot, the instance that saw it restarted) would otherwise let the
 * token back in. Only the in-process tier keeps its answer, within its bound (see authenticate).
 */
export interface Reads {
  findUser(userId: string): Promise<UserProfile | null>;
  /** What `findUser` would give at once, if the in-process tier holds it (see `Cache.peekLocal`); `undefined`: call `findUser`. */
  heldUser(userId: string): UserProfile | null | undefined;
  /**
   * Of each token, whether it is revoked (any of its `revocationKeys` in `token_blacklist`) or
   * its user gone, in the order given: one query for all of them.
   */
  tokenStandings(tokens: ReadonlyArray<TokenOwner>): Promise<TokenStanding[]>;
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
  // Runs for every token the in-process tier does not hold, and for those it reloads: a named
  // (prepared) statement on the ORM's own pg pool, planned once per connection, on the primary
  // key of "user" and the unique index of token_blacklist, whatever the number of tokens.
  const [userId, tokenHash] = [users.properties.userId.fieldNames[0], blacklist.properties.tokenHash.fieldNames[0]];
  const standingsSql = {
    name: 'enerlink-token-standings',
    text: `select array(select ${userId} from "${users.tableName}" where ${userId} = any($1::text[])) as users,
      array(select ${tokenHash} from "${blacklist.tableName}" where ${tokenHash} = any($2::text[])) as revoked`,
  };
  return {
    async findUser(userId) {
      const user = await orm.em.fork().findOne(User, { userId });
      return user && toUserProfile(user);
    },
    heldUser: () => undefined,
    async tokenStandings(tokens) {
      if (tokens.length === 0) return [];
      const pool = await connection.getNativeClient();
      const { rows } = await pool.query<{ users: string[]; revoked: string[] }>({
        ...standingsSql,
        values: [tokens.map(token => token.userId), tokens.flatMap(token => token.revocationKeys)],
      });
      const users = new Set(rows[0].users);
      const revoked = new Set(rows[0].revoked);
      return tokens.map(token => (token.revocationKeys.some(key => revoked.has(key)) ? 'revoked' : users.has(token.userId) ? 'valid' : 'no-user'));
    },
  };
}

/** `reads` through the cache: cache-aside for profiles; the token's standing always from PostgreSQL (authenticate keeps it in the in-process tier). */
export function cachedReads(database: Reads, cache: FastifyInstance['cache']): Reads {
  return {
    findUser: userId => cache.getOrLoad('user', userId, () => database.findUser(userId)),
    heldUser: userId => cache.peekLocal<UserProfile | null>('user', userId),
    tokenStandings: tokens => database.tokenStandings(tokens),
  };
}

/** Decorates the app with `reads` (see `Reads`). */
export default fp(
  async app => {
    app.decorate('reads', cachedReads(databaseReads(app.orm), app.cache));
  },
  { name: 'reads', dependencies: ['orm', 'lifecycle'] },
);
