import { createHash, randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import fastifyJwt from '@fastify/jwt';
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import { entityDependency } from '../cache/cache.ts';
import type { EntryKind } from '../cache/local-tier.ts';
import type { AppConfig } from '../config.ts';
import { TokenRevokedError, UnauthorizedError } from '../errors.ts';
import type { TokenOwner, TokenStanding } from '../plugins/reads.ts';

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
    authenticate: onRequestHookHandler;
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

/** `Bearer <token>` with no other space: what @fastify/jwt's lookupToken takes `<token>` from. */
const BEARER = /^Bearer [^ ]+$/i;

/** What `authenticate` learns of a bearer token's text; kept in the in-process tier within its bound. */
interface BearerCheck {
  claims: AccessTokenClaims;
  revocationKey: string;
  /** What its standing is read by: its user, its revocation key and the legacy one. */
  owner: TokenOwner;
  standing: TokenStanding;
}

/**
 * Access tokens: signing (HS256, `JWT_SECRET`) and the `authenticate` hook. Whether the token is
 * revoked or its user gone is asked of PostgreSQL, in one indexed query (`app.reads.tokenStandings`),
 * never of Redis: no Redis outage, snapshot or restart can bring a revoked token or a deleted
 * user back. The answer, with the verified claims, is kept in the in-process tier keyed by the
 * token's exact text, for at most CACHE_LOCAL_TTL_MS from the moment PostgreSQL gave it; a
 * logout or a user change through the ORM anywhere in the fleet drops it at once (see
 * LocalTier and ENTITY_CHANGE_CHANNEL). The expiry is checked on every request, hit or not.
 */
export default fp<{ config: AppConfig }>(
  async (app, { config }) => {
    if (config.jwtSecretGenerated) {
      app.log.warn('JWT_SECRET is not set: using a random secret, so tokens stop working when the process restarts');
    }
    await app.register(fastifyJwt, {
      secret: config.jwtSecret,
      sign: { algorithm: 'HS256', expiresIn: config.jwtTtlSeconds },
      // fast-jwt's verifier cache (keyed by a hash of the token's text) keeps a result no longer
      // than the token's `exp`, and never caches a failure: sound, and it spares the HMAC and
      // JSON parse of a token seen again after its standing left the in-process tier
      verify: { algorithms: ['HS256'], cache: true },
    });
    app.decorateRequest('userId', '');
    app.decorateRequest('revocationKey', '');

    app.decorate('issueAccessToken', (userId: string): IssuedToken => {
      const token = app.jwt.sign({ sub: userId, userId, jti: randomUUID() });
      const { exp } = app.jwt.decode<AccessTokenClaims>(token)!;
      return { token, expiresAt: new Date(exp! * 1000) };
    });

    // the whole check of a token text: signature and expiry, canonical form, claims, then PostgreSQL
    const checkBearer = async (request: FastifyRequest, token: string): Promise<BearerCheck> => {
      let claims: AccessTokenClaims;
      try {
        claims = await request.jwtVerify<AccessTokenClaims>();
      } catch (error) {
        throw new UnauthorizedError((error as Error).message);
      }
      // the signature verified, but only the one text enerlink issued is accepted
      if (!isCanonicalJwt(token)) throw new UnauthorizedError('The token is not in canonical base64url form');
      if (typeof claims.sub !== 'string' || claims.sub === '') throw new UnauthorizedError('The token names no user');
      if (typeof claims.jti !== 'string' || claims.jti === '') throw new UnauthorizedError('The token has no id (jti)');
      const key = revocationKey(claims.jti);
      const owner = { userId: claims.sub, revocationKeys: [key, legacyTokenHash(token)] };
      const [standing] = await app.reads.tokenStandings([owner]);
      return { claims, revocationKey: key, owner, standing };
    };

    // the caller is `bearer`'s, unless its standing says otherwise
    const admit = (request: FastifyRequest, bearer: BearerCheck) => {
      if (bearer.standing === 'revoked') throw new TokenRevokedError();
      if (bearer.standing === 'no-user') throw new UnauthorizedError('The user of this token no longer exists');
      request.user = bearer.claims;
      request.userId = bearer.claims.sub;
      request.revocationKey = bearer.revocationKey;
    };
    // a kept check is only as good as the token's lifetime: once expired, the full check says why
    const expired = (bearer: BearerCheck) => bearer.claims.exp !== undefined && bearer.claims.exp * 1000 <= Date.now();
    // kept checks: dropped when their user or revocation changes; those in use read again from
    // PostgreSQL before their bound, all in one query (claims need no second look: the key is
    // the token's text, and its expiry is checked on every request)
    const bearers: EntryKind<BearerCheck> = {
      dependsOn: ({ claims, revocationKey }) => [entityDependency('user', claims.sub), entityDependency('revocation', revocationKey)],
      async reload(held) {
        const live = held.map(({ value }) => (expired(value) ? undefined : value));
        const standings = await app.reads.tokenStandings(live.filter(bearer => bearer !== undefined).map(bearer => bearer.owner));
        let next = 0;
        return live.map(bearer => bearer && { ...bearer, standing: standings[next++] });
      },
    };
    const authenticateFully = async (request: FastifyRequest, token: string) => {
      let bearer = await app.cache.remember(`bearer:${token}`, () => checkBearer(request, token), bearers);
      if (expired(bearer)) bearer = await checkBearer(request, token);
      admit(request, bearer);
    };

    // A callback hook, not an async one: a token whose check the in-process tier holds (most
    // requests) is admitted synchronously, without a promise or a turn of the microtask queue.
    app.decorate('authenticate', (request: FastifyRequest, _reply, done) => {
      // the common form read directly; anything else through @fastify/jwt, for its errors
      const header = request.headers.authorization;
      let token: string;
      if (header !== undefined && BEARER.test(header)) token = header.slice(7);
      else {
        try {
          token = app.jwt.lookupToken(request);
        } catch (error) {
          return done(new UnauthorizedError((error as Error).message));
        }
      }
      // the prefix keeps a token's text from ever naming another kind of entry
      const held = app.cache.recall<BearerCheck>(`bearer:${token}`);
      if (held !== undefined && !expired(held)) {
        try {
          admit(request, held);
        } catch (error) {
          return done(error as Error);
        }
        return done();
      }
      authenticateFully(request, token).then(() => done(), done);
    });
  },
  { name: 'auth', dependencies: ['reads'] },
);
