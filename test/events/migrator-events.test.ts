import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { EventBus, type EventName } from '../../src/events/event-bus.ts';
import { publishMigratorEvents } from '../../src/events/migrator-events.ts';
import { createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';

const INITIAL = 'Migration20241102000000_InitialSchema';
const RENAME = 'Migration20241102000001_RenameProsumerToUser';
const INDEXES = 'Migration20241102000002_AddCompositeIndexes';
const CACHE_OUTBOX = 'Migration20261121000001_CacheOutbox';
const MARKET = 'Migration20261201000001_MarketIntegrity';

describe('migrator events on the bus', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let bus: EventBus;
  let stop: () => void;
  const seen: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('migrator_events');
    await db.query('create table probe (note text)');
    orm = await createTestOrm(db);
    bus = new EventBus();
    stop = publishMigratorEvents(migratorOf(orm), bus);
    const record = (event: EventName) => (payload: any) => void seen.push(`${event} ${payload.name ?? payload.migrations.join(',')}`);
    for (const event of ['migration.migrating', 'migration.migrated', 'migration.reverted', 'schema.changed', 'schema.failed'] as const) {
      bus.on(event, record(event));
    }
    // what a listener writes with `execute` commits with the batch
    bus.on('schema.committing', async ({ execute, migrations }) => {
      seen.push(`schema.committing ${migrations.join(',')}`);
      await execute('insert into probe (note) values (?)', [migrations.join(',')]);
    });
  });
  afterAll(async () => {
    stop();
    await orm.close();
    await db.drop();
  });

  it('per batch: migrating, committing in the transaction, then migrated and schema.changed after the commit', async () => {
    const committedAtChange: string[][] = [];
    const probe = async () => {
      committedAtChange.push((await db.query('select name from mikro_orm_migrations order by id')).map(row => row.name));
    };
    bus.on('schema.changed', probe);
    await migratorOf(orm).up();
    bus.off('schema.changed', probe);
    expect(seen).toEqual([
      `migration.migrating ${INITIAL}`,
      `migration.migrating ${RENAME}`,
      `schema.committing ${INITIAL},${RENAME}`,
      `migration.migrated ${INITIAL}`,
      `migration.migrated ${RENAME}`,
      `schema.changed ${INITIAL},${RENAME}`,
      `migration.migrating ${INDEXES}`,
      `schema.committing ${INDEXES}`,
      `migration.migrated ${INDEXES}`,
      `schema.changed ${INDEXES}`,
      `migration.migrating ${CACHE_OUTBOX}`,
      `migration.migrating ${MARKET}`,
      `schema.committing ${CACHE_OUTBOX},${MARKET}`,
      `migration.migrated ${CACHE_OUTBOX}`,
      `migration.migrated ${MARKET}`,
      `schema.changed ${CACHE_OUTBOX},${MARKET}`,
    ]);
    // another connection sees each batch when schema.changed arrives: it has committed
    expect(committedAtChange).toEqual([[INITIAL, RENAME], [INITIAL, RENAME, INDEXES], [INITIAL, RENAME, INDEXES, CACHE_OUTBOX, MARKET]]);
    expect((await db.query('select note from probe')).map(row => row.note)).toEqual([`${INITIAL},${RENAME}`, INDEXES, `${CACHE_OUTBOX},${MARKET}`]);
  });

  it('reverting: migrated becomes reverted', async () => {
    seen.length = 0;
    await migratorOf(orm).down();
    expect(seen).toEqual([
      `migration.migrating ${MARKET}`,
      `schema.committing ${MARKET}`,
      `migration.reverted ${MARKET}`,
      `schema.changed ${MARKET}`,
    ]);
  });

  it('a committing listener that fails rolls the batch back, with its writes, and schema.failed follows', async () => {
    seen.length = 0;
    const refuse = async () => {
      throw new Error('outbox unavailable');
    };
    bus.on('schema.committing', refuse);
    await expect(migratorOf(orm).up()).rejects.toThrow(`Migration ${MARKET} (up) failed: outbox unavailable`);
    bus.off('schema.committing', refuse);
    expect(seen).toEqual([`migration.migrating ${MARKET}`, `schema.committing ${MARKET}`, `schema.failed ${MARKET}`]);
    expect((await db.query('select name from mikro_orm_migrations order by id')).map(row => row.name)).toEqual([INITIAL, RENAME, INDEXES, CACHE_OUTBOX]);
    expect(await db.query(`select to_regclass('market_offer') as offers`)).toEqual([{ offers: null }]);
    expect((await db.query('select count(*)::int as n from probe where note = ?', [MARKET]))[0].n).toBe(1); // the down; not the failed up
  });
});
