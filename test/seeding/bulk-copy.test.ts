import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EntityData } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { BulkCopy } from '../../src/seeding/bulk-copy.ts';
import { User } from '../../src/users/user.entity.ts';
import { Wallet } from '../../src/wallets/wallet.entity.ts';
import { createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';

describe('BulkCopy', () => {
  let db: TestDatabase;
  let orm: MikroORM;

  beforeAll(async () => {
    db = await createTestDatabase('bulk_copy');
    orm = await createTestOrm(db);
    await migratorOf(orm).up();
  });
  afterAll(async () => {
    await orm.close();
    await db.drop();
  });

  async function write<T extends object>(copy: BulkCopy<T>, rows: Array<EntityData<T>>, mayExist?: (row: EntityData<T>) => boolean): Promise<number> {
    const client = await (await orm.em.getConnection().getNativeClient()).connect();
    try {
      return (await copy.write(client, rows, mayExist)).inserted;
    } finally {
      client.release();
    }
  }

  it('round-trips text COPY would misread, NULLs and timestamps, and skips rows already present', async () => {
    const users = new BulkCopy(orm.em.getMetadata(User), orm.em.getPlatform());
    const joined = new Date('2024-11-02T03:04:05.678Z');
    const tricky = { userId: 'user_tricky', name: 'Tab\there, line\nbreak, back\\slash \\N "quoted"\r', email: 'tricky@example.com', passwordHash: 'x', createdAt: joined, updatedAt: joined };
    expect(await write(users, [tricky])).toBe(1);
    const [stored] = await db.query(`select name, created_at from "user" where user_id = 'user_tricky'`);
    expect(stored).toEqual({ name: tricky.name, created_at: joined });

    const wallets = new BulkCopy(orm.em.getMetadata(Wallet), orm.em.getPlatform());
    const wallet = { walletAddress: `0x${'a'.repeat(40)}`, user: 'user_tricky', walletName: null, energyBalance: '1.500000', idrsBalance: '2.00', isActive: false, createdAt: joined, updatedAt: joined };
    expect(await write(wallets, [wallet])).toBe(1);
    expect(await db.query('select wallet_name, energy_balance, is_active from wallet')).toEqual([{ wallet_name: null, energy_balance: '1.500000', is_active: false }]);

    const other = { ...tricky, userId: 'user_other', email: 'other@example.com' };
    expect(await write(users, [tricky, other])).toBe(1);
    expect(await write(users, [tricky, other])).toBe(0);
    expect((await db.query('select user_id from "user" order by user_id')).map(row => row.user_id)).toEqual(['user_other', 'user_tricky']);
  });

  it('a row wrongly said to be new fails the COPY on its key instead of being skipped', async () => {
    const users = new BulkCopy(orm.em.getMetadata(User), orm.em.getPlatform());
    const joined = new Date('2024-11-02T00:00:00Z');
    const row = { userId: 'user_twice', name: 'Twice', email: 'twice@example.com', passwordHash: 'x', createdAt: joined, updatedAt: joined };
    expect(await write(users, [row], () => false)).toBe(1);
    await expect(write(users, [row], () => false)).rejects.toThrow('duplicate key value violates unique constraint "user_pkey"');
  });
});
