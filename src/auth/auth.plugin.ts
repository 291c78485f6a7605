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
  /** Unique per token, so two logins in the same second get different tokens; what revocation is keyed on. */
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
    /** `onRequest` hook of the protected routes: a valid, unrevoked bearer token of an existing user, or 401. */
    authenticate(request: FastifyRequest): Promise<void>;
    issueAccessToken(userId: string): IssuedToken;
  }
  interface FastifyRequest {
    /** The authenticated caller (set by `authenticate`). */
    userId: string;
    /** The key `token_blacklist.token_hash` holds for the caller's token once revoked (see `revocationKey`). */
    revocationKey: string;
  }
}

/**
 * The blacklist key of a token: sha256 (hex) of its `jti`. Keyed on the claim, not on the token
 * text, because a JWT has many texts: base64url leaves unused low bits in the last character of
 * the signature, and the verifier accepts every variant, so a hash of the text would let a
 * revoked token back in with one character edited.
 */
export function revocationKey(jti: string): string {
  return createHash('sha256').update(`jti:${jti}`).digest('hex');
}

/** sha256 (hex) of a token's text: how revocations were keyed before `revocationKey`; still honoured. */
export function legacyTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Whether each segment of a compact JWT is canonical base64url (no padding, no stray low bits). */
export function isCanonicalJwt(token: string): boolean {
  const segments = token.split('.');
  return segments.length === 3 && segments.every(segment => Buffer.from(segment, 'base64url').toString('base64url') === segment);
}

/**
 * Access tokens: signing (HS256, `JWT_SECRET`) and the `authenticate` hook. Every request asks
 * PostgreSQL, in one indexed query, whether the token is revoked and its user still exists
 * (`app.reads.tokenStanding`): a cache never answers that question, so no Redis outage,
 * snapshot or restart can bring a revoked token or a deleted user back.
 */
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
    app.decorateRequest('revocationKey', '');

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
      const token = app.jwt.lookupToken(request);
      // the signature verified, but only the one text enerlink issued is accepted
      if (!isCanonicalJwt(token)) throw new UnauthorizedError('The token is not in canonical base64url form');
      if (typeof claims.sub !== 'string' || claims.sub === '') throw new UnauthorizedError('The token names no user');
      if (typeof claims.jti !== 'string' || claims.jti === '') throw new UnauthorizedError('The token has no id (jti)');
      const key = revocationKey(claims.jti);
      const standing = await app.reads.tokenStanding(claims.sub, [key, legacyTokenHash(token)]);
      if (standing === 'revoked') throw new TokenRevokedError();
      if (standing === 'no-user') throw new UnauthorizedError('The user of this token no longer exists');
      request.userId = claims.sub;
      request.revocationKey = key;
    });
  },
  { name: 'auth', dependencies: ['reads'] },
);
