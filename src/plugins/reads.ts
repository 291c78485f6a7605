import fp from 'fastify-plugin';
import type { MikroORM } from '@mikro-orm/postgresql';
import { TokenBlacklist } from '../auth/token-blacklist.entity.ts';
import { User } from '../users/user.entity.ts';

/** A user as the API shows it; plain JSON so that a cache can store it as it is. */
export interface UserProfile {
  userId: string;
  name: string;
  email: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * The hot reads: one per authenticated request (the blacklist) and `GET /users/:userId`.
 * Today they go to PostgreSQL; the Redis cache wraps this interface, so nothing else changes
 * when it lands. A wrapper must forget a user's entry when the user changes and must never
 * answer "not blacklisted" from a cache after `POST /auth/logout` wrote the token.
 */
export interface Reads {
  findUser(userId: string): Promise<UserProfile | null>;
  isTokenBlacklisted(tokenHash: string): Promise<boolean>;
}

declare module 'fastify' {
  interface FastifyInstance {
    reads: Reads;
  }
}

/** Reads straight from PostgreSQL, each on its own fork of the ORM's EntityManager. */
export function databaseReads(orm: MikroORM): Reads {
  return {
    async findUser(userId) {
      const user = await orm.em.fork().findOne(User, { userId });
      return user && toUserProfile(user);
    },
    async isTokenBlacklisted(tokenHash) {
      return (await orm.em.fork().count(TokenBlacklist, { tokenHash })) > 0;
    },
  };
}

/** The API view of a user entity. */
export function toUserProfile(user: { userId: string; name: string; email: string; createdAt: Date; updatedAt: Date }): UserProfile {
  return {
    userId: user.userId,
    name: user.name,
    email: user.email,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
  };
}

/** Decorates the app with `reads` (see `Reads`). */
export default fp(
  async app => {
    app.decorate('reads', databaseReads(app.orm));
  },
  { name: 'reads', dependencies: ['orm'] },
);
