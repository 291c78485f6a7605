import { availableParallelism } from 'node:os';
import bcrypt from 'bcrypt';
import pLimit from 'p-limit';

// Password hashing, in one place. The native `bcrypt` package hashes on libuv's thread pool, so a
// burst of logins never stalls the event loop (bcryptjs computed on it: 50 concurrent wrong
// logins held /health/live for 6 s). Its hashes are the same `$2a$`/`$2b$` bcrypt hashes as before.

/**
 * Hashes run at most one fewer at a time than there are cores (p-limit queues the others): off
 * the event loop is not enough when the thread pool's four threads take every core, so one
 * core is always left to the requests that do not hash.
 */
const hashing = pLimit(Math.max(1, availableParallelism() - 1));

/** bcrypt reads at most 72 bytes: a longer password would be cut silently. */
export const MAX_PASSWORD_BYTES = 72;

/** Whether bcrypt would ignore part of `password`. */
export function passwordTooLong(password: string): boolean {
  return Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES;
}

/** A new hash of `password` at cost `rounds`, with a random salt, off the event loop. */
export function hashPassword(password: string, rounds: number): Promise<string> {
  return hashing(() => bcrypt.hash(password, rounds));
}

/** Whether `password` matches `hash` (any bcrypt cost or `$2a$`/`$2b$` variant), off the event loop. */
export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return hashing(() => bcrypt.compare(password, hash));
}

const STANDARD_BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BCRYPT_BASE64 = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A `$2b$` hash of `password` with the salt made of `saltBytes` (16): deterministic, for
 * fixtures whose password is public anyway. bcrypt's base64 is standard base64 with its own
 * alphabet, so the salt text is the same as bcryptjs's `encodeBase64` gave.
 */
export function hashPasswordWithSalt(password: string, rounds: number, saltBytes: Uint8Array): string {
  const salt = Buffer.from(saltBytes)
    .toString('base64')
    .replace(/=+$/, '')
    .replace(/./g, char => BCRYPT_BASE64[STANDARD_BASE64.indexOf(char)]);
  return bcrypt.hashSync(password, `$2b$${String(rounds).padStart(2, '0')}$${salt}`);
}
