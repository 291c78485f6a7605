import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { InvalidCredentialsError } from '../errors.ts';
import { User } from '../users/user.entity.ts';
import { normalizeEmail } from '../users/user.service.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { TokenBlacklist } from './token-blacklist.entity.ts';

/**
 * A hash to compare against when the email is unknown, at the cost new accounts get
 * (BCRYPT_ROUNDS), so an unknown email takes as long as a wrong password.
 */
export function unknownUserHash(rounds: number): Promise<string> {
  return hashPassword('no such user', rounds);
}

/** The userId whose email and password these are, or `InvalidCredentialsError`; `unknownHash` from `unknownUserHash`. */
export async function verifyCredentials(em: EntityManager, email: string, password: string, unknownHash: string): Promise<string> {
  // Accounts made before emails were normalised may hold capitals: the exact text still matches.
  const candidates = [...new Set([normalizeEmail(email), email.trim()])];
  const user = await em.findOne(User, { email: { $in: candidates } }, { fields: ['userId', 'passwordHash'] });
  const matches = await verifyPassword(password, user?.passwordHash ?? unknownHash);
  if (!user || !matches) throw new InvalidCredentialsError();
  return user.userId;
}

/**
 * Revokes a token until it expires: its revocation key (the sha256 of its `jti`, shared by every
 * text of the token) goes to `token_blacklist.token_hash` (again is a no-op).
 */
export async function revokeToken(em: EntityManager, revocation: { userId: string; revocationKey: string; expiresAt: Date }): Promise<void> {
  em.create(TokenBlacklist, {
    tokenHash: revocation.revocationKey,
    user: em.getReference(User, revocation.userId),
    reason: 'LOGOUT',
    expiresAt: revocation.expiresAt,
  });
  try {
    await em.flush();
  } catch (error) {
    if (!(error instanceof UniqueConstraintViolationException)) throw error;
  }
}
