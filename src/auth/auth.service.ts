import bcrypt from 'bcryptjs';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { InvalidCredentialsError } from '../errors.ts';
import { User } from '../users/user.entity.ts';
import { normalizeEmail } from '../users/user.service.ts';
import { TokenBlacklist } from './token-blacklist.entity.ts';

// Compared against when the email is unknown, so both failures take the time of one bcrypt.
const UNKNOWN_USER_HASH = bcrypt.hashSync('no such user', 10);

/** The userId whose email and password these are, or `InvalidCredentialsError`. */
export async function verifyCredentials(em: EntityManager, email: string, password: string): Promise<string> {
  // Accounts made before emails were normalised may hold capitals: the exact text still matches.
  const candidates = [...new Set([normalizeEmail(email), email.trim()])];
  const user = await em.findOne(User, { email: { $in: candidates } }, { fields: ['userId', 'passwordHash'] });
  const matches = await bcrypt.compare(password, user?.passwordHash ?? UNKNOWN_USER_HASH);
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
