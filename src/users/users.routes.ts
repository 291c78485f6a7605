import { Type } from '../http/schema-builder.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { UserNotFoundError } from '../errors.ts';
import type { UserProfile } from './user-profile.ts';
import { problemResponses } from '../http/problem-details.ts';
import { idSchema, strictObject, timestampSchema } from '../http/schemas.ts';

const publicProfile = {
  userId: Type.String(),
  name: Type.String(),
  createdAt: timestampSchema,
};

const meSchema = {
  response: {
    200: Type.Object({ ...publicProfile, email: Type.String(), updatedAt: timestampSchema }),
    ...problemResponses,
  },
};

const userSchema = {
  params: strictObject({ userId: idSchema }),
  response: {
    200: Type.Object(publicProfile, { description: 'Public profile: no email' }),
    ...problemResponses,
  },
};

/** The profile of `userId`, or 404. */
function profileOf(userId: string, user: UserProfile | null): UserProfile {
  if (!user) throw new UserNotFoundError(userId);
  return user;
}

/**
 * The caller's own profile and other users' public profiles, read through `app.reads`. A profile
 * the in-process tier holds is answered synchronously (`heldUser`): no promise, no turn of the
 * microtask queue, on the hottest read.
 */
const userRoutes: FastifyPluginAsyncTypebox = async app => {
  app.addHook('onRequest', app.authenticate);

  const readProfile = (userId: string) => {
    const held = app.reads.heldUser(userId);
    return held !== undefined ? profileOf(userId, held) : app.reads.findUser(userId).then(user => profileOf(userId, user));
  };

  app.get('/users/me', { schema: meSchema }, request => readProfile(request.userId));

  // The response schema keeps only the public fields.
  app.get('/users/:userId', { schema: userSchema }, request => readProfile(request.params.userId));
};

export default userRoutes;
