import { Type } from '../http/schema-builder.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { UserNotFoundError } from '../errors.ts';
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

/** The caller's own profile and other users' public profiles, read through `app.reads`. */
const userRoutes: FastifyPluginAsyncTypebox = async app => {
  app.addHook('onRequest', app.authenticate);

  app.get('/users/me', { schema: meSchema }, async request => {
    const user = await app.reads.findUser(request.userId);
    if (!user) throw new UserNotFoundError(request.userId);
    return user;
  });

  // The response schema keeps only the public fields.
  app.get('/users/:userId', { schema: userSchema }, async request => {
    const user = await app.reads.findUser(request.params.userId);
    if (!user) throw new UserNotFoundError(request.params.userId);
    return user;
  });
};

export default userRoutes;
