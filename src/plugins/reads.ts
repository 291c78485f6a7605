import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
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
 * The hot reads: one per authenticated request (the blacklist) and `GET /users/:userId`,
 * served through the Redis cache (`app.cache`), which forgets an entry when its entity
 * changes (the logout's blacklist row, a user update) and falls back to PostgreSQL when
 * Redis is down.
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

/** `reads` through the cache: cache-aside over the PostgreSQL reads. */
export function cachedReads(database: Reads, cache: FastifyInstance['cache']): Reads {
  return {
    findUser: userId => cache.getOrLoad('user', userId, () => database.findUser(userId)),
    isTokenBlacklisted: tokenHash => cache.isBlacklisted(tokenHash, () => database.isTokenBlacklisted(tokenHash)),
  };
}

/** Decorates the app with `reads` (see `Reads`). */
export default fp(
  async app => {
    app.decorate('reads', cachedReads(databaseReads(app.orm), app.cache));
  },
  { name: 'reads', dependencies: ['orm', 'lifecycle'] },
);
