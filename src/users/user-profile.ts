import { registerCachedEntity } from '../cache/cached-entities.ts';
import { User } from './user.entity.ts';

declare module '../cache/cached-entities.ts' {
  interface CachedEntities {
    /** Public profiles (`GET /users/:userId`), by user id. */
    user: true;
  }
}

// profiles are read through the cache: a user's changes flushed through MikroORM invalidate them
registerCachedEntity('user', User, 'userId');

/** A user as the API shows it; plain JSON so that a cache can store it as it is. */
export interface UserProfile {
  userId: string;
  name: string;
  email: string;
  createdAt: string;
  updatedAt: string;
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
