import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../http/problem-details.ts';
import { strictObject, timestampSchema } from '../http/schemas.ts';
import { registerUser } from '../users/user.service.ts';
import { revokeToken, verifyCredentials } from './auth.service.ts';

const credentials = {
  email: Type.String({ format: 'email', maxLength: 255 }),
  password: Type.String({ minLength: 8, maxLength: 72 }),
};

const registerSchema = {
  body: strictObject({ name: Type.String({ minLength: 1, maxLength: 255, pattern: '\\S' }), ...credentials }),
  response: {
    201: Type.Object({
      userId: Type.String(),
      name: Type.String(),
      email: Type.String(),
      walletAddress: Type.String(),
      createdAt: timestampSchema,
    }),
    ...problemResponses,
  },
};

const loginSchema = {
  body: strictObject(credentials),
  response: {
    200: Type.Object({
      userId: Type.String(),
      token: Type.String(),
      tokenType: Type.Literal('Bearer'),
      expiresAt: timestampSchema,
    }),
    ...problemResponses,
  },
};

const logoutSchema = {
  response: { 204: Type.Null({ description: 'The token is revoked' }), ...problemResponses },
};

/** Registration, login (a JWT whose subject is the userId) and logout (the token is blacklisted). */
const authRoutes: FastifyPluginAsyncTypebox<{ bcryptRounds: number }> = async (app, { bcryptRounds }) => {
  app.post('/auth/register', { schema: registerSchema }, async (request, reply) => {
    const user = await registerUser(request.em, request.body, bcryptRounds);
    return reply.code(201).send(user);
  });

  app.post('/auth/login', { schema: loginSchema }, async request => {
    const userId = await verifyCredentials(request.em, request.body.email, request.body.password);
    const { token, expiresAt } = app.issueAccessToken(userId);
    return { userId, token, tokenType: 'Bearer' as const, expiresAt: expiresAt.toISOString() };
  });

  app.post('/auth/logout', { schema: logoutSchema, onRequest: app.authenticate }, async (request, reply) => {
    await revokeToken(request.em, { userId: request.userId, tokenHash: request.tokenHash, expiresAt: new Date(request.user.exp! * 1000) });
    return reply.code(204).send(null);
  });
};

export default authRoutes;
