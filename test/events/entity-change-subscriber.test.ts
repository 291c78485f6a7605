import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { TokenBlacklist } from '../../src/auth/token-blacklist.entity.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { EntityChangeSubscriber } from '../../src/events/entity-change-subscriber.ts';
import { EventBus, type EventMap } from '../../src/events/event-bus.ts';
import { TransactionLog } from '../../src/ledger/transaction-log.entity.ts';
import { SmartMeter } from '../../src/meters/smart-meter.entity.ts';
import { User } from '../../src/users/user.entity.ts';
import { Wallet } from '../../src/wallets/wallet.entity.ts';
import '../cached-test-entities.ts';
import { createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';

describe('EntityChangeSubscriber', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let published: Array<EventMap['entity.changed']> = [];

  beforeAll(async () => {
    db = await createTestDatabase('entity_events');
    orm = await createTestOrm(db);
    await migratorOf(orm).up();
    const bus = new EventBus().on('entity.changed', change => void published.push(change));
    orm.em.getEventManager().registerSubscriber(new EntityChangeSubscriber(bus));
    const em = orm.em.fork();
    const user = em.create(User, { userId: 'u1', name: 'Ayu', email: 'ayu@example.test', passwordHash: 'x' });
    em.create(Wallet, { walletAddress: '0xw1', user, walletName: 'Main' });
    em.create(SmartMeter, { meterId: 'MTR-1', user, location: 'Bandung' });
    await em.flush();
  });
  beforeEach(() => {
    published = [];
  });
  afterAll(async () => {
    await orm.close();
    await db.drop();
  });

  it('publishes each created cached entity by its cache id once the flush has committed', async () => {
    const em = orm.em.fork();
    const user = em.create(User, { userId: 'u2', name: 'Budi', email: 'budi@example.test', passwordHash: 'x' });
    em.create(TokenBlacklist, { tokenHash: 'hash-1', user, expiresAt: new Date(Date.now() + 60_000) });
    em.create(TransactionLog, { user, transactionType: 'TRADE', amount: '1', currency: 'KWH' });
    await em.flush();
    expect(published).toEqual([
      { entity: 'user', id: 'u2' },
      { entity: 'blacklist', id: 'hash-1' },
    ]);
  });

  it('publishes updates and deletes', async () => {
    const em = orm.em.fork();
    const wallet = await em.findOneOrFail(Wallet, '0xw1');
    wallet.walletName = 'Savings';
    await em.flush();
    expect(published).toEqual([{ entity: 'wallet', id: '0xw1' }]);
    em.remove(await em.findOneOrFail(TokenBlacklist, { tokenHash: 'hash-1' }));
    await em.flush();
    expect(published).toEqual([
      { entity: 'wallet', id: '0xw1' },
      { entity: 'blacklist', id: 'hash-1' },
    ]);
  });

  it('inside a transaction, publishes only after the outermost commit', async () => {
    const seenInside: number[] = [];
    await orm.em.fork().transactional(async em => {
      const meter = await em.findOneOrFail(SmartMeter, 'MTR-1');
      meter.status = 'MAINTENANCE';
      await em.flush();
      seenInside.push(published.length);
      await em.transactional(async inner => {
        const user = await inner.findOneOrFail(User, 'u1');
        user.name = 'Ayu S.';
      });
      seenInside.push(published.length);
    });
    expect(seenInside).toEqual([0, 0]);
    expect(published).toEqual([
      { entity: 'meter', id: 'MTR-1' },
      { entity: 'user', id: 'u1' },
    ]);
    const [row] = await db.query(`select status from smart_meter where meter_id = 'MTR-1'`);
    expect(row.status).toBe('MAINTENANCE');
  });

  it('publishes nothing for a transaction that rolls back', async () => {
    await expect(
      orm.em.fork().transactional(async em => {
        const wallet = await em.findOneOrFail(Wallet, '0xw1');
        wallet.isActive = false;
        await em.flush();
        throw new Error('trade rejected');
      }),
    ).rejects.toThrow('trade rejected');
    expect(published).toEqual([]);
    const [row] = await db.query(`select is_active from wallet where wallet_address = '0xw1'`);
    expect(row.is_active).toBe(true);
  });
});
