import { describe, expect, it } from 'vitest';
import { hashPassword, passwordTooLong, verifyPassword } from '../../src/auth/passwords.ts';
import { fixturePasswordHash } from '../../src/seeding/fixture-set.ts';

describe('passwords', () => {
  it('verifies the hashes already stored: $2a$ and $2b$, any cost', async () => {
    // made by bcryptjs (cost 5) before the switch to the native bcrypt package
    const stored = '$2b$05$/e290ZJ//N/lJGu.N5CjWusI9krTJ5Qvg55LUuJStZFk9pLYUW4ky';
    const fresh = await hashPassword('password', 4);
    expect(fresh).toMatch(/^\$2b\$04\$/);
    for (const hash of [stored, stored.replace(/^\$2b\$/, '$2a$'), fresh, fixturePasswordHash(1), fixturePasswordHash(1).replace(/^\$2b\$/, '$2a$')]) {
      expect(await verifyPassword('password', hash), hash).toBe(true);
      expect(await verifyPassword('Password', hash), hash).toBe(false);
    }
  });

  it('keeps the fixture hash byte for byte what bcryptjs made from the seed-derived salt', () => {
    expect(fixturePasswordHash(1)).toBe('$2b$12$h9kBVCcAQBHv5f4STiELj.Wye7mS0KOfsQ2VmJHv0noMXWslLKaii');
    expect(fixturePasswordHash(42)).toBe('$2b$12$GcbkXZDjOmr3ZdcTH/pLhOtsZv18J.EItd3plRSPEedr5gQ.X.0Eu');
    expect(fixturePasswordHash(0)).toBe('$2b$12$EDweEWgbM20FpWazLoittOwnudvuA7O2Ak1Ndmsvxn28GkuQMvD9G');
  });

  it('knows what bcrypt would cut', () => {
    expect(passwordTooLong('a'.repeat(72))).toBe(false);
    expect(passwordTooLong('a'.repeat(73))).toBe(true);
    expect(passwordTooLong('é'.repeat(36))).toBe(false);
    expect(passwordTooLong('é'.repeat(37))).toBe(true);
  });
});
