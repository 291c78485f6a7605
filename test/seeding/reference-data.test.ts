import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { applyReferenceData } from '../../src/lifecycle/schema-lifecycle.ts';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { createTestDatabase, createTestOrm, type TestDatabase } from '../helper.ts';
import { runCommand } from '../processes.ts';

const DEFAULT_LIMITS_SEEDER = '20261202000001-default-limits';

const seederSource = (sql: string, fail = false) =>
  `export const referenceSeeder = { async apply(execute) { await execute(${JSON.stringify(sql)}); ${fail ? "throw new Error('the gateway is down');" : ''} } };\n`;

describe('reference data: applied once, recorded with its checksum', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let folder: string;
  const regions = async () => (await db.query('select code from region order by code')).map(row => row.code);
  const outboxRows = async () => (await db.query('select count(*)::int as n from cache_outbox'))[0].n as number;

  beforeAll(async () => {
    db = await createTestDatabase('reference_data');
    orm = await createTestOrm(db);
    await migratorOf(orm).up();
    await db.query('create table region (code text primary key)');
    folder = mkdtempSync(join(tmpdir(), 'enerlink-reference-'));
  });
  afterAll(async () => {
    rmSync(folder, { recursive: true, force: true });
    await orm?.close();
    await db?.drop();
  });

  it('applies each seeder once, even when two runs race, and records its checksum; a second run changes nothing', async () => {
    const source = seederSource("insert into region (code) values ('JKT'), ('SBY')");
    writeFileSync(join(folder, '20261201000000-regions.ts'), source);
    const before = await outboxRows();
    const [first, second] = await Promise.all([applyReferenceData(orm.em.fork(), { folder }), applyReferenceData(orm.em.fork(), { folder })]);
    expect([...first.applied, ...second.applied]).toEqual(['20261201000000-regions']);
    expect([...first.unchanged, ...second.unchanged]).toEqual(['20261201000000-regions']);
    expect(await regions()).toEqual(['JKT', 'SBY']);
    expect(await db.query('select name, checksum from enerlink_reference_seed')).toEqual([
      { name: '20261201000000-regions', checksum: createHash('sha256').update(source).digest('hex') },
    ]);
    // the seeder's transaction told the caches; a run that applies nothing does not
    expect(await outboxRows()).toBe(before + 1);
    expect(await applyReferenceData(orm.em.fork(), { folder })).toEqual({ applied: [], unchanged: ['20261201000000-regions'], changed: [] });
    expect(await outboxRows()).toBe(before + 1);
  });

  it('reports an edited seeder and does not run it again', async () => {
    writeFileSync(join(folder, '20261201000000-regions.ts'), seederSource("insert into region (code) values ('DPS')"));
    const report = await applyReferenceData(orm.em.fork(), { folder });
    expect(report.applied).toEqual([]);
    expect(report.changed).toEqual([expect.objectContaining({ name: '20261201000000-regions', appliedAt: expect.any(Date) })]);
    expect(await regions()).toEqual(['JKT', 'SBY']);
  });

  it('a seeder that fails leaves nothing behind, is not recorded, and applies on the next run once fixed', async () => {
    const path = join(folder, '20261202000000-more-regions.ts');
    writeFileSync(path, seederSource("insert into region (code) values ('MDN')", true));
    await expect(applyReferenceData(orm.em.fork(), { folder })).rejects.toThrow('the gateway is down');
    expect(await regions()).toEqual(['JKT', 'SBY']);
    expect(await db.query(`select count(*)::int as n from enerlink_reference_seed where name = '20261202000000-more-regions'`)).toEqual([{ n: 0 }]);
    // a new file (the import cache keys on the URL): the fixed seeder under a name of its own
    rmSync(path);
    writeFileSync(join(folder, '20261202000001-more-regions.ts'), seederSource("insert into region (code) values ('MDN')"));
    expect((await applyReferenceData(orm.em.fork(), { folder })).applied).toEqual(['20261202000001-more-regions']);
    expect(await regions()).toEqual(['JKT', 'MDN', 'SBY']);
  });

  it('npm run seed:reference runs in production; a stray argument is one line and exit 1', async () => {
    const env = { DATABASE_URL: db.url, NODE_ENV: 'production', JWT_SECRET: 'reference-test-secret-of-32-characters', PAYMENT_WEBHOOK_SECRET: 'reference-webhook-secret-of-32-characters' };
    const ok = await runCommand(['src/cli/seed-reference.ts'], env);
    expect(ok.code, ok.stderr).toBe(0);
    // the shipped reference seeder: the default per-user limits, their one home
    expect(ok.stdout).toBe(`Applied reference seeder ${DEFAULT_LIMITS_SEEDER}\nReference data: 1 applied, 0 already applied, 0 changed\n`);
    expect(await db.query('select id, max_meters, max_open_offers, max_trade_kwh::text from limit_defaults')).toEqual([{ id: 1, max_meters: 5, max_open_offers: 20, max_trade_kwh: '1000.000000' }]);
    const again = await runCommand(['src/cli/seed-reference.ts'], env);
    expect(again.stdout).toBe('Reference data: 0 applied, 1 already applied, 0 changed\n');
    const bad = await runCommand(['src/cli/seed-reference.ts', '--force'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('enerlink: unknown argument "--force" (usage: npm run seed:reference)');
  });

  it('a session terminated while a seeder runs loses nothing: neither its rows nor its record stay, and the next run applies it whole', async () => {
    const own = mkdtempSync(join(tmpdir(), 'enerlink-reference-kill-'));
    try {
      // two statements: the first lands, the second waits behind the test's lock until the session dies
      writeFileSync(
        join(own, '20261203000000-cities.ts'),
        `export const referenceSeeder = { async apply(execute) { await execute("insert into region (code) values ('BDG')"); await execute("insert into city (name) values ('Bandung')"); } };\n`,
      );
      await db.query('create table city (name text primary key)');
      const holder = await db.connect();
      await holder.query('begin');
      await holder.query('lock table city in access exclusive mode');
      const run = applyReferenceData(orm.em.fork(), { folder: own });
      run.catch(() => {});
      let victim: number | undefined;
      for (let i = 0; i < 200 && victim === undefined; i++) {
        const [waiting] = await db.query(`select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like 'insert into city%'`);
        victim = waiting?.pid;
        if (victim === undefined) await new Promise(resolve => setTimeout(resolve, 50));
      }
      expect(victim).toBeDefined();
      await db.query('select pg_terminate_backend(?)', [victim]);
      await expect(run).rejects.toThrow();
      await holder.query('rollback');
      holder.release();
      expect(await regions()).not.toContain('BDG');
      expect(await db.query(`select name from enerlink_reference_seed where name = '20261203000000-cities'`)).toEqual([]);
      // the pool dropped the dead session; the next run applies the seeder whole
      expect((await applyReferenceData(orm.em.fork(), { folder: own })).applied).toEqual(['20261203000000-cities']);
      expect(await regions()).toContain('BDG');
      expect(await db.query('select name from city')).toEqual([{ name: 'Bandung' }]);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });
});
