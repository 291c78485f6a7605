import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { MigrationIntegrityError, RepairRefusedError } from '../../src/schema/migration-integrity.ts';
import { createLegacyDatabase, createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';
import { startAdminApi } from '../admin/admin-api.ts';
import { migrationSource, migrationsFolder, startServiceProcess } from '../processes.ts';

const INITIAL = 'Migration20241102000000_InitialSchema';
const RENAME = 'Migration20241102000001_RenameProsumerToUser';
const INDEXES = 'Migration20241102000002_AddCompositeIndexes';
const OUTBOX = 'Migration20261121000001_CacheOutbox';
const MARKET = 'Migration20261201000001_MarketIntegrity';
const LIMITS = 'Migration20261202000001_LimitDefaults';
const ALL = [INITIAL, RENAME, INDEXES, OUTBOX, MARKET, LIMITS];
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
    expect((await checksums(db)).map(row => row.name)).toEqual(ALL.slice(0, -1));
  });

  it('are recorded when a deployed database is adopted', async () => {
    const db = await database('checksum_adopt', true);
    await migratorOf(await orm(db)).up();
    expect((await checksums(db)).map(row => `${row.name} ${row.source}`)).toEqual([`${INITIAL} adoption`, `${RENAME} run`, `${INDEXES} run`, `${OUTBOX} run`, `${MARKET} run`, `${LIMITS} run`]);
  });

  it('of a database migrated before checksums were kept are recorded by its next run, with a note', async () => {
    const db = await database('checksum_backfill');
    await migratorOf(await orm(db)).up();
    await db.query('drop table enerlink_migration_checksum');
    const migrator = migratorOf(await orm(db));
    const logs: string[] = [];
    migrator.pipeline.useLogger((level, message) => logs.push(`${level} ${message}`));
    expect(await migrator.up()).toEqual([]);
    expect(logs).toContain(`warn Recorded the checksums of ${ALL.length} migration(s) applied before enerlink kept checksums, as their files are now: ${ALL.join(', ')}`);
    expect((await checksums(db)).map(row => row.source)).toEqual(ALL.map(() => "backfill"));
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
    expect((await db.query('select name from mikro_orm_migrations order by id')).map(row => row.name)).toEqual([INITIAL, RENAME, INDEXES, gone, OUTBOX, MARKET, LIMITS].filter(n => n !== gone));
    expect(await migrator.up()).toEqual([]);
    await expect(migrator.integrity.repair('Migration20990101000000_Nope', { ...result, by: 'bob', reason: 'x', origin: 'cli', lockTimeoutMs: 1000 })).rejects.toThrow(
      'Unknown migration: Migration20990101000000_Nope',
    );
  });
});

describe('in each entry point', () => {
  it('startup exits 1 with one line naming the edited migration, and serves nothing', async () => {
    const db = await database('startup_edited');
    await migratorOf(await orm(db)).up();
    const service = startServiceProcess({ DATABASE_URL: db.url }, release({}, { [RENAME]: editSql }));
    cleanup.push(() => service.child.kill('SIGKILL'));
    expect(await service.exited).toBe(1);
    expect(service.stderr.trim().split('\n')).toHaveLength(1);
    expect(service.stderr).toMatch(new RegExp(`^enerlink: Refusing to migrate: applied migration ${RENAME} was edited after it was applied`));
    expect(service.stdout).not.toContain('Server listening');
    expect((await runs(db)).at(-1)).toMatchObject({ method: 'up', status: 'failed', origin: 'startup' });
  });

  it('startup exits 1 when an applied migration\'s file is gone', async () => {
    const db = await database('startup_missing');
    await migratorOf(await orm(db)).up();
    const service = startServiceProcess({ DATABASE_URL: db.url }, release({}, {}, [INDEXES]));
    cleanup.push(() => service.child.kill('SIGKILL'));
    expect(await service.exited).toBe(1);
    expect(service.stderr.trim()).toMatch(new RegExp(`^enerlink: Refusing to migrate: applied migration ${INDEXES} is applied but its file is gone from this release;`));
  });

  it('the admin API answers 409 MIGRATION_INTEGRITY_FAILED and reports the states; after a repair the run goes on', async () => {
    const db = await database('admin_edited');
    await migratorOf(await orm(db)).up();
    const next = { [`${NEXT}.ts`]: migrationSource(NEXT, ['create table next_release (id int)']) };
    const api = await startAdminApi('admin_edited', { db, migrate: false, migrationsPath: release(next, { [RENAME]: editSql }, [INDEXES]) });
    cleanup.push(() => api.app.close());
    const refused = await api.call('POST', '/admin/migrations/up');
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({
      code: 'MIGRATION_INTEGRITY_FAILED',
      detail: expect.stringMatching(new RegExp(`^Refusing to migrate: applied migration ${RENAME} was edited after it was applied.* \\(and 1 more: ${INDEXES} missing\\)`)),
      problems: [
        { migration: RENAME, state: 'edited', detail: expect.any(String) },
        { migration: INDEXES, state: 'missing', detail: 'is applied but its file is gone from this release' },
      ],
    });
    const states = (await api.call('GET', '/admin/migrations')).json();
    expect(states).toMatchObject({
      pending: [{ name: NEXT }],
      edited: [{ name: RENAME, detail: expect.stringContaining('was edited after it was applied') }],
      missing: [{ name: INDEXES }],
      unknown: [],
      clean: false,
      lastFailedRun: { method: 'up', status: 'failed', origin: 'admin-api', error: refused.json().detail },
    });
    expect(states.migrations.map((m: { name: string; state: string }) => `${m.name} ${m.state}`)).toEqual([
      `${INITIAL} applied`,
      `${RENAME} edited`,
      `${INDEXES} missing`,
      `${OUTBOX} applied`,
      `${MARKET} applied`,
      `${LIMITS} applied`,
      `${NEXT} pending`,
    ]);
    expect(states.migrations[0]).toMatchObject({ appliedBy: { origin: 'service', how: 'run' }, durationMs: expect.any(Number), checksum: { source: 'run' } });

    for (const name of [RENAME, INDEXES]) await api.app.lifecycle.repair(name, { by: 'dave', reason: 'reviewed', origin: 'admin-test' });
    const applied = await api.call('POST', '/admin/migrations/up');
    expect(applied.statusCode, applied.body).toBe(200);
    expect(applied.json()).toMatchObject({ status: 'applied', migrations: [{ name: NEXT }] });
    const runsPage = (await api.call('GET', '/admin/migrations/runs')).json();
    expect(runsPage.items.slice(0, 3).map((run: { method: string; actor: string | null }) => `${run.method} ${run.actor}`)).toEqual(['up null', 'repair dave', 'repair dave']);
  });
});
