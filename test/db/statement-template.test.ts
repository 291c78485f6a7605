import { LockMode, raw, sql } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatementTemplates, type StatementValues } from '../../src/db/statement-template.ts';
import { walletsLockQuery } from '../../src/wallets/wallet.service.ts';
import { createTestDatabase, createTestOrm, migrateTestDatabase, type TestDatabase } from '../helper.ts';

describe("statement templates: built once per shape, filled in with each call's values", () => {
  let db: TestDatabase;
  let orm: MikroORM;
  // ids a caller could send: quotes, a backslash, a semicolon, what looks like SQL and like a placeholder
  const awkward = [`o'brien`, `back\\slash`, `x'); drop table wallet; --`, '?', '??', '$1', 'ünï ☀'];

  beforeAll(async () => {
    db = await createTestDatabase('statement_template');
    orm = await createTestOrm(db);
    await migrateTestDatabase(orm);
    await db.query(`insert into "user" (user_id, name, email, password_hash) select u, u, md5(u) || '@example.test', 'x' from unnest($1::text[]) u`, [awkward]);
    await db.query(`insert into wallet (wallet_address, user_id, wallet_name, is_active) select '0x' || md5(u), u, 'Main', true from unnest($1::text[]) u`, [awkward]);
  });
  afterAll(async () => {
    await orm.close();
    await db.drop();
  });

  const lockStatement = (tx: EntityManager, { users, limit }: StatementValues) =>
    sql`select w.user_id from (${walletsLockQuery([users], LockMode.PESSIMISTIC_PARTIAL_WRITE)}) w where w.user_id in (${users}) or w.wallet_name = ${limit[0]}`;

  it('gives the text the driver would have made from the values themselves, for every call of a shape', async () => {
    const templates = new StatementTemplates(orm.em.getPlatform());
    await orm.em.fork().transactional(async tx => {
      let builds = 0;
      const build = (values: StatementValues) => {
        builds++;
        return lockStatement(tx, values);
      };
      for (const users of [awkward.slice(0, 3), awkward.slice(3, 6), [awkward[6], awkward[0], awkward[1]]]) {
        const values = { users, limit: ['Main'] };
        const direct = lockStatement(tx, values);
        const filled = templates.fill('wallets', values, build);
        expect(filled).toBe(tx.getPlatform().formatQuery(direct.sql, direct.params));
        const rows = await tx.execute<Array<{ user_id: string }>>(filled);
        expect(rows.map(row => row.user_id).sort()).toEqual([...users].sort());
      }
      expect(builds).toBe(1); // three calls, one shape
      templates.fill('wallets', { users: awkward.slice(0, 2), limit: ['Main'] }, build);
      templates.fill('other use', { users: awkward.slice(0, 2), limit: ['Main'] }, build);
      expect(builds).toBe(3); // another length, another shape name
    });
  });

  it('refuses a statement that uses a value other than as a value of its own', () => {
    const templates = new StatementTemplates(orm.em.getPlatform());
    // joined into one literal: another set of values would need another text, not other literals
    expect(() => templates.fill('joined', { users: ['a', 'b'] }, ({ users }) => raw('select ?', [users.join(',')]))).toThrow(
      /uses no users:0.*cannot be filled in|inside another/,
    );
    // glued after a quote inside a longer literal: it looks like a literal of its own once formatted ('O''<stand-in>')
    expect(() => templates.fill('glued', { users: ['a'] }, ({ users }) => raw('select ? as v', [`O'${users[0]}`]))).toThrow(
      'uses users:0 inside another value: it cannot be filled in',
    );
    // a value left out: the text would not change with it
    expect(() => templates.fill('unused', { users: ['a', 'b'] }, ({ users }) => raw('select ?', [users[0]]))).toThrow('uses no users:1: it cannot be filled in');
  });
});
