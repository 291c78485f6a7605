import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { MigrationIntegrityError, RepairRefusedError } from '../../src/schema/migration-integrity.ts';
import { createLegacyDatabase, createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';
import { migrationSource, migrationsFolder } from '../processes.ts';

const INITIAL = 'Migration20241102000000_InitialSchema';
const RENAME = 'Migration20241102000001_RenameProsumerToUser';
const INDEXES = 'Migration20241102000002_AddCompositeIndexes';
const OUTBOX = 'Migration20261121000001_CacheOutbox';
const ALL = [INITIAL, RENAME, INDEXES, OUTBOX];
const NEXT = 'Migration20991231000000_NextRelease';

const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

async function database(label: string, legacy = false): Promise<TestDatabase> {
  const db = legacy ? await createLegacyDatabase(label) : await createTestDatabase(label);
  cleanup.push(() => db.drop());
  return db;
}

/**
 * A migrations folder (the real ones, `extra`, then `edit` applied to the named files). Each
 * release is a folder of its own: a module is imported once per path, as in a real deploy.
 */
function release(extra: Record<string, string> = {}, edit: Record<string, (source: string) => string> = {}, without: string[] = []): string {
  const folder = migrationsFolder(extra);
  cleanup.push(folder.remove);
  for (const [name, change] of Object.entries(edit)) {
    const file = `${folder.path}/${name}.ts`;
    writeFileSync(file, change(readFileSync(file, 'utf8')));
  }
  for (const name of without) rmSync(`${folder.path}/${name}.ts`);
  return folder.path;
}

async function orm(db: TestDatabase, folder?: string): Promise<MikroORM> {
  const created = await createTestOrm(db, db.config, folder);
  cleanup.push(() => created.close());
  return created;
}

const checksums = (db: TestDatabase) => db.query('select name, checksum, recorded_by, source from enerlink_migration_checksum order by name');
const runs = (db: TestDatabase) => db.query('select method, status, origin, error, actor, reason, migrations from enerlink_migration_run order by id');

// changes what the rename migration runs: one of its comments
const editSql = (source: string) => source.replace("'User accounts table (formerly prosumer)'", "'User accounts (edited after it ran)'");
// changes only the file, not what it runs
const editComment = (source: string) => source.replace('Every rename is in place', 'Every rename (reviewed) is in place');

describe('checksums', () => {
  it('are recorded for each migration a run applies, in its batch, and forgotten when it is reverted', async () => {
    const db = await database('checksum_run');
    const migrator = migratorOf(await orm(db));
    await migrator.up();
    const rows = await checksums(db);
    expect(rows.map(row => row.name)).toEqual(ALL);
    expect(rows.every(row => row.source === 'run' && row.recorded_by === 'service' && /^[0-9a-f]{64}$/.test(row.checksum))).toBe(true);
    // the checksum is of what the migration runs, as the integrity check computes it now
    const current = await migrator.integrity.checksumsOf(ALL);
    expect(Object.fromEntries(rows.map(row => [row.name, row.checksum]))).toEqual(Object.fromEntries(current));
    await migrator.down();
    expect((await checksums(db)).map(row => row.name)).toEqual([INITIAL, RENAME, INDEXES]);
  });

  it('are recorded when a deployed database is adopted', async () => {
    const db = await database('checksum_adopt', true);
    await migratorOf(await orm(db)).up();
    expect((await checksums(db)).map(row => `${row.name} ${row.source}`)).toEqual([`${INITIAL} adoption`, `${RENAME} run`, `${INDEXES} run`, `${OUTBOX} run`]);
  });

  it('of a database migrated before checksums were kept are recorded by its next run, with a note', async () => {
    const db = await database('checksum_backfill');
    await migratorOf(await orm(db)).up();
    await db.query('drop table enerlink_migration_checksum');
    const migrator = migratorOf(await orm(db));
    const logs: string[] = [];
    migrator.pipeline.useLogger((level, message) => logs.push(`${level} ${message}`));
    expect(await migrator.up()).toEqual([]);
    expect(logs).toContain(`warn Recorded the checksums of 4 migration(s) applied before enerlink kept checksums, as their files are now: ${ALL.join(', ')}`);
    expect((await checksums(db)).map(row => row.source)).toEqual(['backfill', 'backfill', 'backfill', 'backfill']);
  });
});

describe('an up over an edited or deleted migration', () => {
  it('is refused, naming the migration and what differs, and recorded as a failed run; nothing is applied', async () => {
    const db = await database('edited');
    await migratorOf(await orm(db)).up();
    const next = { [`${NEXT}.ts`]: migrationSource(NEXT, ['create table next_release (id int)']) };
    const migrator = migratorOf(await orm(db, release(next, { [RENAME]: editSql })));
    const error = await migrator.up().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationIntegrityError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^Refusing to migrate: applied migration ${RENAME} was edited after it was applied: it runs other SQL now \\(checksum [0-9a-f]{12}, recorded [0-9a-f]{12} on .*\\); ` +
          `if that is intended, accept it with npm run migration:repair -- ${RENAME} --reason "<why>"$`,
      ),
    );
    expect((error as MigrationIntegrityError).problems).toEqual([{ migration: RENAME, state: 'edited', detail: expect.any(String) }]);
    expect(await db.query(`select to_regclass('next_release') as t`)).toEqual([{ t: null }]);
    expect((await runs(db)).at(-1)).toMatchObject({ method: 'up', status: 'failed', origin: 'service', error: (error as Error).message, migrations: [] });
  });

  it('is not refused when only the file changed, not what it runs (a comment, a lint annotation)', async () => {
    const db = await database('comment_edit');
    await migratorOf(await orm(db)).up();
    expect(await migratorOf(await orm(db, release({}, { [RENAME]: editComment }))).up()).toEqual([]);
  });

  it('is refused when an applied migration\'s file is gone; one a newer release applied is unknown, not an error', async () => {
    const db = await database('missing');
    const next = { [`${NEXT}.ts`]: migrationSource(NEXT, ['create table next_release (id int)']) };
    await migratorOf(await orm(db, release(next))).up();
    // the release before the next one: NEXT is unknown to it, and that is a rolling deploy
    expect(await migratorOf(await orm(db)).up()).toEqual([]);
    const error = await migratorOf(await orm(db, release(next, {}, [INDEXES])))
      .up()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationIntegrityError);
    expect((error as Error).message).toMatch(new RegExp(`^Refusing to migrate: applied migration ${INDEXES} is applied but its file is gone from this release;`));
  });

  it('goes on once the edit is repaired: the new checksum is recorded, and the run log says who and why', async () => {
    const db = await database('repair');
    await migratorOf(await orm(db)).up();
    const before = (await checksums(db)).find(row => row.name === RENAME)!.checksum;
    const migrator = migratorOf(await orm(db, release({}, { [RENAME]: editSql })));
    const repair = { by: 'alice', reason: 'reworded the table comment (ticket 42)', origin: 'cli', lockTimeoutMs: 10_000 };
    const result = await migrator.integrity.repair(RENAME, repair);
    expect(result).toEqual({ migration: RENAME, action: 'accepted edit', previousChecksum: before, checksum: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect((await checksums(db)).find(row => row.name === RENAME)).toMatchObject({ checksum: result.checksum, source: 'repair', recorded_by: 'alice' });
    expect((await runs(db)).at(-1)).toMatchObject({
      method: 'repair',
      status: 'applied',
      origin: 'cli',
      actor: 'alice',
      reason: 'reworded the table comment (ticket 42)',
      migrations: [{ name: RENAME, action: 'accepted edit', previousChecksum: before, checksum: result.checksum }],
    });
    expect(await migrator.up()).toEqual([]);
    // a second repair has nothing to do
    await expect(migrator.integrity.repair(RENAME, repair)).rejects.toThrow(new RepairRefusedError(`${RENAME} matches what was applied: nothing to repair`));
  });

  it('goes on once a deleted migration is repaired: it is forgotten as applied', async () => {
    const db = await database('repair_missing');
    const gone = 'Migration20250101000000_Abandoned';
    await migratorOf(await orm(db, release({ [`${gone}.ts`]: migrationSource(gone, ['create table abandoned (id int)']) }))).up();
    const migrator = migratorOf(await orm(db));
    await expect(migrator.up()).rejects.toThrow(MigrationIntegrityError);
    const result = await migrator.integrity.repair(gone, { by: 'bob', reason: 'the feature was dropped', origin: 'cli', lockTimeoutMs: 10_000 });
    expect(result).toMatchObject({ migration: gone, action: 'forgot missing', checksum: null });
    expect((await db.query('select name from mikro_orm_migrations order by id')).map(row => row.name)).toEqual([INITIAL, RENAME, INDEXES, gone, OUTBOX].filter(n => n !== gone));
    expect(await migrator.up()).toEqual([]);
    await expect(migrator.integrity.repair('Migration20990101000000_Nope', { ...result, by: 'bob', reason: 'x', origin: 'cli', lockTimeoutMs: 1000 })).rejects.toThrow(
      'Unknown migration: Migration20990101000000_Nope',
    );
  });
});
