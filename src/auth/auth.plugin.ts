import { createHash, randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import fastifyJwt from '@fastify/jwt';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../config.ts';
import { TokenRevokedError, UnauthorizedError } from '../errors.ts';

/** The claims of an enerlink access token: the subject is the userId, also given as `userId`. */
export interface AccessTokenClaims {
  sub: string;
  userId: string;
  /** Unique per token, so two logins in the same second get different tokens. */
  jti: string;
  iat?: number;
  exp?: number;
}

/** A freshly signed access token. */
export interface IssuedToken {
  token: string;
  expiresAt: Date;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessTokenClaims;
    user: AccessTokenClaims;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** `onRequest` hook of the protected routes: a valid, unrevoked bearer token, or 401. */
    authenticate(request: FastifyRequest): Promise<void>;
    issueAccessToken(userId: string): IssuedToken;
  }
  interface FastifyRequest {
    /** The authenticated caller (set by `authenticate`). */
    userId: string;
    /** sha256 (hex) of the caller's token: what `token_blacklist` stores. */
    tokenHash: string;
  }
}

/** sha256 of a token, hex: the blacklist never holds usable tokens. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Access tokens: signing (HS256, `JWT_SECRET`) and the `authenticate` hook, which checks the blacklist through `app.reads`. */
export default fp<{ config: AppConfig }>(
  async (app, { config }) => {
    if (config.jwtSecretGenerated) {
      app.log.warn('JWT_SECRET is not set: using a random secret, so tokens stop working when the process restarts');
    }
    await app.register(fastifyJwt, {
      secret: config.jwtSecret,
      sign: { algorithm: 'HS256', expiresIn: config.jwtTtlSeconds },
      verify: { algorithms: ['HS256'] },
    });
    app.decorateRequest('userId', '');
    app.decorateRequest('tokenHash', '');

    app.decorate('issueAccessToken', (userId: string): IssuedToken => {
      const token = app.jwt.sign({ sub: userId, userId, jti: randomUUID() });
      const { exp } = app.jwt.decode<AccessTokenClaims>(token)!;
      return { token, expiresAt: new Date(exp! * 1000) };
    });

    app.decorate('authenticate', async (request: FastifyRequest) => {
      let claims: AccessTokenClaims;
      try {
        claims = await request.jwtVerify<AccessTokenClaims>();
      } catch (error) {
        throw new UnauthorizedError((error as Error).message);
      }
      if (typeof claims.sub !== 'string' || claims.sub === '') throw new UnauthorizedError('The token names no user');
      const tokenHash = hashToken(app.jwt.lookupToken(request));
      if (await app.reads.isTokenBlacklisted(tokenHash)) throw new TokenRevokedError();
      request.userId = claims.sub;
      request.tokenHash = tokenHash;
    });
  },
  { name: 'auth', dependencies: ['reads'] },
);
