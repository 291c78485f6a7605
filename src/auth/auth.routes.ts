import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '../config.ts';
import { problemResponses } from '../http/problem-details.ts';
import { timestampSchema } from '../http/schemas.ts';
import { registerUser, type Registration } from '../users/user.service.ts';
import { revokeToken, unknownUserHash, verifyCredentials } from './auth.service.ts';
import { loginLimits } from './login-limits.ts';

const credentials = {
  email: { type: 'string', format: 'email', maxLength: 255 },
  password: { type: 'string', minLength: 8, maxLength: 72 },
} as const;

const registerSchema = {
  body: {
    type: 'object',
    properties: { name: { type: 'string', minLength: 1, maxLength: 255, pattern: '\\S' }, ...credentials },
    required: ['name', 'email', 'password'],
    additionalProperties: false,
  },
  response: {
    201: {
      type: 'object',
      properties: {
        userId: { type: 'string' },
        name: { type: 'string' },
        email: { type: 'string' },
        walletAddress: { type: 'string' },
        createdAt: timestampSchema,
      },
      required: ['userId', 'name', 'email', 'walletAddress', 'createdAt'],
    },
    ...problemResponses,
  },
} as const;

const loginSchema = {
  body: { type: 'object', properties: credentials, required: ['email', 'password'], additionalProperties: false },
  response: {
    200: {
      type: 'object',
      properties: {
        userId: { type: 'string' },
        token: { type: 'string' },
        tokenType: { type: 'string', enum: ['Bearer'] },
        expiresAt: timestampSchema,
      },
      required: ['userId', 'token', 'tokenType', 'expiresAt'],
    },
    ...problemResponses,
  },
} as const;

const logoutSchema = {
  response: { 204: { type: 'null', description: 'The token is revoked' }, ...problemResponses },
} as const;

/** Registration, login (a JWT whose subject is the userId) and logout (the token's id is blacklisted). */
export default async function authRoutes(app: FastifyInstance, { config }: { config: AppConfig }): Promise<void> {
  const unknownHash = await unknownUserHash(config.bcryptRounds);
  const checkLoginLimits = await loginLimits(app, {
    redis: app.redis,
    prefix: config.cachePrefix,
    perAddress: config.loginRateLimitPerAddress,
    perAccount: config.loginRateLimitPerAccount,
  });

  app.post<{ Body: Registration }>('/auth/register', { schema: registerSchema }, async (request, reply) => {
    const user = await registerUser(request.em, request.body, config.bcryptRounds);
    return reply.code(201).send(user);
  });

  app.post<{ Body: { email: string; password: string } }>('/auth/login', { schema: loginSchema }, async (request, reply) => {
    // before any database read or bcrypt: a refused attempt costs next to nothing
    await checkLoginLimits(request, reply);
    const userId = await verifyCredentials(request.em, request.body.email, request.body.password, unknownHash);
    const { token, expiresAt } = app.issueAccessToken(userId);
    return { userId, token, tokenType: 'Bearer', expiresAt: expiresAt.toISOString() };
  });

  app.post('/auth/logout', { schema: logoutSchema, onRequest: app.authenticate }, async (request, reply) => {
    await revokeToken(request.em, { userId: request.userId, revocationKey: request.revocationKey, expiresAt: new Date(request.user.exp! * 1000) });
    return reply.code(204).send();
  });
}
