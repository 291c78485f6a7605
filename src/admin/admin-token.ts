import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/**
 * Whether `presented` is the admin token, in time that depends on neither: both are hashed
 * first, so even a token of another length costs the same comparison of two 32-byte digests.
 */
export function isAdminToken(expected: string, presented: string): boolean {
  return timingSafeEqual(digest(expected), digest(presented));
}

/**
 * What the audit log records instead of a token: the first 16 hex digits of its SHA-256. It
 * tells tokens (and repeated guesses) apart without revealing them.
 */
export function tokenFingerprint(token: string): string {
  return digest(token).toString('hex').slice(0, 16);
}

/** The token of an `Authorization: Bearer <token>` header; undefined for any other header or none. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return match?.[1];
}
