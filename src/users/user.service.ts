import { randomBytes } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { hashPassword, passwordTooLong } from '../auth/passwords.ts';
import { EmailTakenError, InvalidPasswordError } from '../errors.ts';
import { toUserProfile, type UserProfile } from './user-profile.ts';
import { Wallet } from '../wallets/wallet.entity.ts';
import { User } from './user.entity.ts';

/** What a new account is made of. */
export interface Registration {
  name: string;
  email: string;
  password: string;
}

/** A registered user and the wallet made for them. */
export interface RegisteredUser extends UserProfile {
  walletAddress: string;
}

/** Emails are kept lowercase, so one address is one account whatever its capitalisation. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * Creates a user (`user_` + 24 random hex digits) with a bcrypt password hash and one active
 * wallet (`0x` + 40 random hex digits) with zero balances, in one transaction.
 */
export async function registerUser(em: EntityManager, registration: Registration, bcryptRounds: number): Promise<RegisteredUser> {
  if (passwordTooLong(registration.password)) throw new InvalidPasswordError('The password must be at most 72 bytes long');
  const email = normalizeEmail(registration.email);
  if (await em.count(User, { email })) throw new EmailTakenError();
  const passwordHash = await hashPassword(registration.password, bcryptRounds);
  try {
    return await em.transactional(async tx => {
      const user = tx.create(User, { userId: `user_${randomBytes(12).toString('hex')}`, name: registration.name.trim(), email, passwordHash });
      const wallet = tx.create(Wallet, {
        walletAddress: `0x${randomBytes(20).toString('hex')}`,
        user,
        walletName: 'Main wallet',
        energyBalance: '0.000000',
        idrsBalance: '0.00',
        isActive: true,
      });
      await tx.flush();
      return { ...toUserProfile(user), walletAddress: wallet.walletAddress };
    });
  } catch (error) {
    // Two registrations of one email at once: the unique constraint decides.
    if (error instanceof UniqueConstraintViolationException && /email/.test(error.message)) throw new EmailTakenError();
    throw error;
  }
}
