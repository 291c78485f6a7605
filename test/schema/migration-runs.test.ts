import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { AppConfig } from '../../src/config.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { MigrationFailedError } from '../../src/schema/migration-errors.ts';
import { MIGRATION_LOCK_KEY, MigrationLockTimeoutError } from '../../src/schema/fleet-lock.ts';
import { createLegacyDatabase, createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';
import { fillLegacyData } from '../legacy-data.ts';

const RENAME = 'Migration20241102000001_RenameProsumerToUser';
const INITIAL = 'Migration20241102000000_InitialSchema';
const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

async function setup(label: string, legacy = false, settings: Partial<AppConfig> = {}): Promise<{ db: TestDatabase; orm: MikroORM }> {
  const db = legacy ? await createLegacyDatabase(label) : await createTestDatabase(label);
  cleanup.push(() => db.drop());
  const orm = await createTestOrm(db, { ...db.config, ...settings });
  cleanup.push(() => orm.close());
  return { db, orm };
}

async function hold(db: TestDatabase, ...statements: string[]): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  for (const sql of statements) await client.query(sql);
  cleanup.push(() => client.end().catch(() => {}));
  return client;
}

describe('the fleet lock', () => {
  it('a run waits for the lock, then fails with a clear error after MIGRATION_LOCK_TIMEOUT_MS', async () => {
    const { db, orm } = await setup('locked', false, { migrationLockTimeoutMs: 300 });
    const holder = await hold(db, `select pg_advisory_lock(${MIGRATION_LOCK_KEY.join(', ')})`);
    const migrator = migratorOf(orm);
    const error = await migrator.up().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationLockTimeoutError);
    expect((error as Error).message).toMatch(/another process is migrating this database \(pid \d+.*\); gave up waiting after 300 ms/);
    expect(await db.query(`select to_regclass('wallet') is not null as exists`)).toEqual([{ exists: false }]);
    await holder.query(`select pg_advisory_unlock(${MIGRATION_LOCK_KEY.join(', ')})`);
    expect((await migrator.up()).length).toBe(6);
  });
});

describe('DDL behind a long transaction', () => {
  it('gives up its lock after lock_timeout and retries with backoff, instead of queueing traffic behind it', async () => {
    const { db, orm } = await setup('ddl_lock', true, { migrationDdlLockTimeoutMs: 100, migrationDdlRetries: 6 });
    await fillLegacyData(db, 20);
    const migrator = migratorOf(orm);
    const reader = await hold(db, 'begin', 'select count(*) from wallet');
    const logs: string[] = [];
    migrator.pipeline.useLogger((_level, message) => logs.push(message));
    const running = migrator.up({ to: RENAME });
    // while the migration waits (it has hit its lock_timeout at least once), other sessions are
    // not stuck behind it: a write goes through
    await vi.waitFor(() => expect(logs.some(line => /could not get its lock/.test(line))).toBe(true), { timeout: 30_000, interval: 20 });
    await db.query(`update wallet set wallet_name = 'during migration' where wallet_address = '0x${'1'.padStart(40, '0')}'`);
    await reader.query('commit');
    await running;
    expect(logs.some(line => /could not get its lock within 100 ms .* retry 1 of 6/.test(line))).toBe(true);
    expect(await db.query(`select name from mikro_orm_migrations order by id`)).toEqual([{ name: INITIAL }, { name: RENAME }]);
  });

  it('fails clearly when the retries run out, leaving nothing applied', async () => {
    const { db, orm } = await setup('ddl_lock_out', true, { migrationDdlLockTimeoutMs: 50, migrationDdlRetries: 1 });
    const migrator = migratorOf(orm);
    await hold(db, 'begin', 'select count(*) from wallet');
    const error = await migrator.up({ to: RENAME }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationFailedError);
    expect((error as Error).message).toMatch(/^Migration Migration20241102000001_RenameProsumerToUser \(up\) failed: .*lock timeout/);
    expect(await db.query(`select to_regclass('prosumer') is not null as exists`)).toEqual([{ exists: true }]);
  });
});

describe('backups before migrating', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'enerlink-backups-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  });

  it('takes a readable pg_dump before applying, keeps the newest BACKUP_KEEP, and restores', async () => {
    const { db, orm } = await setup('backup', true, { backupBeforeMigrate: true, backupDir: dir, backupKeep: 2 });
    await fillLegacyData(db, 30);
    const migrator = migratorOf(orm);
    const report = await migrator.pipeline.run('up', { to: RENAME });
    expect(report.status).toBe('applied');
    expect(report.backupFile).toMatch(/before-up-Migration20241102000001_RenameProsumerToUser\.dump$/);
    expect(existsSync(report.backupFile!)).toBe(true);
    await migrator.down({ to: INITIAL });
    await migrator.up({ to: RENAME });
    await migrator.down({ to: INITIAL });
    expect(readdirSync(dir).filter(name => name.startsWith(db.name))).toHaveLength(2);

    const [newest] = readdirSync(dir).filter(name => name.startsWith(db.name)).sort().reverse();
    expect(newest).toMatch(/before-down-Migration20241102000001_RenameProsumerToUser\.dump$/);
  });

  it('npm run db:backup and db:restore -- <file> bring back the rows', async () => {
    const { db } = await setup('restore', true);
    await fillLegacyData(db, 30);
    const run = promisify(execFile);
    const root = new URL('../..', import.meta.url).pathname;
    const env = { ...process.env, DATABASE_URL: db.url, BACKUP_DIR: dir, BACKUP_KEEP: '3' };
    const backup = await run(process.execPath, ['src/cli/db-backup.ts'], { cwd: root, env });
    const file = /Backed up \S+ to (\S+) /.exec(backup.stdout)![1];
    await db.query('delete from wallet');
    const restored = await run(process.execPath, ['src/cli/db-restore.ts', file], { cwd: root, env }).catch((error: { stderr: string }) => ({
      stdout: '',
      stderr: error.stderr,
    }));
    expect(restored.stderr).toBe('');
    expect((await db.query('select count(*)::int as count from wallet'))[0].count).toBe(30);
    const missing = await run(process.execPath, ['src/cli/db-restore.ts', join(dir, 'nope.dump')], { cwd: root, env }).catch((error: { code: number; stderr: string }) => error);
    expect(missing).toMatchObject({ code: 1, stderr: `enerlink: no such backup file: ${join(dir, 'nope.dump')}\n` });
  });

  it('does not migrate when the backup fails', async () => {
    writeFileSync(join(dir, 'not-a-folder.txt'), '');
    const { db, orm } = await setup('backup_fails', true, { backupBeforeMigrate: true, backupDir: join(dir, 'not-a-folder.txt', 'backups'), backupKeep: 2 });
    const migrator = migratorOf(orm);
    const error = await migrator.up().catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/ENOTDIR/);
    expect(await db.query(`select to_regclass('prosumer') is not null as exists`)).toEqual([{ exists: true }]);
  });
});

describe('verification after a run', () => {
  it('is recorded with the run and passes on a healthy schema', async () => {
    const { db, orm } = await setup('verify', true);
    await fillLegacyData(db, 100);
    await migratorOf(orm).up();
    const [run] = await db.query(`select status, migrations, verification from enerlink_migration_run order by id desc limit 1`);
    expect(run.status).toBe('applied');
    expect(run.migrations.map((m: { name: string }) => m.name)).toEqual([RENAME, 'Migration20241102000002_AddCompositeIndexes', 'Migration20261121000001_CacheOutbox', 'Migration20261201000001_MarketIntegrity', 'Migration20261202000001_LimitDefaults']);
    expect(run.verification.ok).toBe(true);
    expect(run.verification.checks.map((c: { name: string }) => c.name)).toEqual(['foreign keys', 'indexes', 'orphaned rows', 'row counts']);
    expect(run.verification.scope).toBe('run');
    expect(run.verification.checks[3].detail).toMatch(/^no row deleted and no table with rows dropped by the run, in 8 tables/);
  });

  it('is loud about a missing foreign key, orphaned rows and an invalid index', async () => {
    const { db, orm } = await setup('verify_broken');
    await migratorOf(orm).up();
    await db.query(`insert into "user" (user_id, name, email, password_hash) values ('user_a', 'A', 'a@example.test', 'x')`);
    await db.query('alter table wallet drop constraint wallet_user_id_fkey');
    await db.query(`insert into wallet (wallet_address, user_id) values ('0xorphan', 'user_gone')`);
    await db.query('alter table wallet add constraint wallet_owner_check foreign key (user_id) references "user" (user_id) not valid');
    const report = await migratorOf(orm).pipeline.verify();
    expect(report.ok).toBe(false);
    const byName = Object.fromEntries(report.checks.map(check => [check.name, check]));
    expect(byName['foreign keys'].detail).toContain('wallet.wallet_user_id_fkey is missing');
    expect(byName['foreign keys'].detail).toContain('wallet.wallet_owner_check is NOT VALID');
    expect(byName['orphaned rows'].detail).toBe('1 in wallet.user_id (wallet_owner_check)');
    expect(byName.indexes.ok).toBe(true);
  });
});
