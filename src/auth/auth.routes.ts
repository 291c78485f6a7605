import { Type } from '../http/schema-builder.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../http/problem-details.ts';
import { strictObject, timestampSchema } from '../http/schemas.ts';
import type { AppConfig } from '../config.ts';
import { registerUser } from '../users/user.service.ts';
import { revokeToken, unknownUserHash, verifyCredentials } from './auth.service.ts';
import { loginLimits } from './login-limits.ts';

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

/** Registration, login (a JWT whose subject is the userId) and logout (the token's id is blacklisted). */
const authRoutes: FastifyPluginAsyncTypebox<{ config: AppConfig }> = async (app, { config }) => {
  // hashed on the thread pool while startup goes on (80 ms at cost 10), awaited by the first login
  const unknownHash = unknownUserHash(config.bcryptRounds);
  unknownHash.catch(() => {}); // a failure surfaces in the login that awaits it
  const checkLoginLimits = await loginLimits(app, {
    redis: app.redis,
    prefix: config.cachePrefix,
    perAddress: config.loginRateLimitPerAddress,
    perAccount: config.loginRateLimitPerAccount,
  });

  app.post('/auth/register', { schema: registerSchema }, async (request, reply) => {
    const user = await registerUser(request.em, request.body, config.bcryptRounds);
    return reply.code(201).send(user);
  });

  app.post('/auth/login', { schema: loginSchema }, async (request, reply) => {
    // before any database read or bcrypt: a refused attempt costs next to nothing
    await checkLoginLimits(request, reply);
    const userId = await verifyCredentials(request.em, request.body.email, request.body.password, await unknownHash);
    const { token, expiresAt } = app.issueAccessToken(userId);
    return { userId, token, tokenType: 'Bearer' as const, expiresAt: expiresAt.toISOString() };
  });

  app.post('/auth/logout', { schema: logoutSchema, onRequest: app.authenticate }, async (request, reply) => {
    await revokeToken(request.em, { userId: request.userId, revocationKey: request.revocationKey, expiresAt: new Date(request.user.exp! * 1000) });
    return reply.code(204).send(null);
  });
};

export default authRoutes;
