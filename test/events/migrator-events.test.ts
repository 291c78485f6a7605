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
const LIMITS = 'Migration20261202000001_LimitDefaults';

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
    for (const event of ['schema.changed', 'schema.failed'] as const) {
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

  it('per batch: committing in the transaction, then schema.changed after the commit', async () => {
    const committedAtChange: string[][] = [];
    const probe = async () => {
      committedAtChange.push((await db.query('select name from mikro_orm_migrations order by id')).map(row => row.name));
    };
    bus.on('schema.changed', probe);
    await migratorOf(orm).up();
    bus.off('schema.changed', probe);
    expect(seen).toEqual([
      `schema.committing ${INITIAL},${RENAME}`,
      `schema.changed ${INITIAL},${RENAME}`,
      `schema.committing ${INDEXES}`,
      `schema.changed ${INDEXES}`,
      `schema.committing ${CACHE_OUTBOX},${MARKET},${LIMITS}`,
      `schema.changed ${CACHE_OUTBOX},${MARKET},${LIMITS}`,
    ]);
    // another connection sees each batch when schema.changed arrives: it has committed
    expect(committedAtChange).toEqual([[INITIAL, RENAME], [INITIAL, RENAME, INDEXES], [INITIAL, RENAME, INDEXES, CACHE_OUTBOX, MARKET, LIMITS]]);
    expect((await db.query('select note from probe')).map(row => row.note)).toEqual([`${INITIAL},${RENAME}`, INDEXES, `${CACHE_OUTBOX},${MARKET},${LIMITS}`]);
  });

  it('reverting: the same, per batch', async () => {
    seen.length = 0;
    await migratorOf(orm).down();
    expect(seen).toEqual([
      `schema.committing ${LIMITS}`,
      `schema.changed ${LIMITS}`,
    ]);
  });

  it('a committing listener that fails rolls the batch back, with its writes, and schema.failed follows', async () => {
    seen.length = 0;
    const refuse = async () => {
      throw new Error('outbox unavailable');
    };
    bus.on('schema.committing', refuse);
    await expect(migratorOf(orm).up()).rejects.toThrow(`Migration ${LIMITS} (up) failed: outbox unavailable`);
    bus.off('schema.committing', refuse);
    expect(seen).toEqual([`schema.committing ${LIMITS}`, `schema.failed ${LIMITS}`]);
    expect((await db.query('select name from mikro_orm_migrations order by id')).map(row => row.name)).toEqual([INITIAL, RENAME, INDEXES, CACHE_OUTBOX, MARKET]);
    expect(await db.query(`select to_regclass('limit_defaults') as defaults`)).toEqual([{ defaults: null }]);
    expect((await db.query('select count(*)::int as n from probe where note = ?', [LIMITS]))[0].n).toBe(1); // the down; not the failed up
  });
});
