import type { FastifyInstance } from 'fastify';
import { UserNotFoundError } from '../errors.ts';
import { problemResponses } from '../http/problem-details.ts';
import { idSchema, timestampSchema } from '../http/schemas.ts';

const publicProfile = {
  userId: { type: 'string' },
  name: { type: 'string' },
  createdAt: timestampSchema,
} as const;

const meSchema = {
  response: {
    200: {
      type: 'object',
      properties: { ...publicProfile, email: { type: 'string' }, updatedAt: timestampSchema },
      required: ['userId', 'name', 'email', 'createdAt', 'updatedAt'],
    },
    ...problemResponses,
  },
} as const;

const userSchema = {
  params: { type: 'object', properties: { userId: idSchema }, required: ['userId'], additionalProperties: false },
  response: {
    200: { type: 'object', properties: publicProfile, required: ['userId', 'name', 'createdAt'], description: 'Public profile: no email' },
    ...problemResponses,
  },
} as const;

/** The caller's own profile and other users' public profiles, read through `app.reads`. */
export default async function userRoutes(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', app.authenticate);

  app.get('/users/me', { schema: meSchema }, async request => {
    const user = await app.reads.findUser(request.userId);
    if (!user) throw new UserNotFoundError(request.userId);
    return user;
  });

  // The response schema keeps only the public fields.
  app.get<{ Params: { userId: string } }>('/users/:userId', { schema: userSchema }, async request => {
    const user = await app.reads.findUser(request.params.userId);
    if (!user) throw new UserNotFoundError(request.params.userId);
    return user;
  });
}
