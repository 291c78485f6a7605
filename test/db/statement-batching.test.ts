import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { BatchingClient, withHeldWrites } from '../../src/db/statement-batching.ts';
import { createTestDatabase, type TestDatabase } from '../helper.ts';

describe('held writes: what needs no answer goes with the next statement that does', () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  /** Whether another session can lock the row right now (FOR UPDATE NOWAIT, rolled back at once). */
  const lockable = async (id: number) => {
    const probe = await db.connect();
    try {
      await probe.query('begin');
      await probe.query('select 1 from item where id = $1 for update nowait', [id]);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === '55P03') return false;
      throw error;
    } finally {
      await probe.query('rollback');
      probe.release();
    }
  };
  const value = async (id: number) => (await db.query('select value from item where id = $1', [id]))[0]?.value;

  beforeAll(async () => {
    db = await createTestDatabase('statement_batching');
    pool = new pg.Pool({ connectionString: db.url, max: 1, Client: BatchingClient });
  });
  beforeEach(async () => {
    await db.query('drop table if exists item');
    await db.query('create table item (id int primary key, value int not null check (value >= 0))');
    await db.query('insert into item values (1, 0), (2, 0)');
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('holds begin and an update until the next statement, then sends them together; commit makes them visible', async () => {
    const client = await pool.connect();
    try {
      await withHeldWrites(async () => {
        await client.query('begin');
        const held = await client.query('update item set value = 5 where id = 1');
        expect(held.rows).toEqual([]);
        expect(await lockable(1)).toBe(true); // not sent yet: nothing holds the row
        const read = await client.query('select value from item where id = 1');
        expect(read.rows).toEqual([{ value: 5 }]); // the answer is the last statement's, and it saw the update
        expect(await lockable(1)).toBe(false); // sent, inside the transaction
        await client.query('update item set value = 7 where id = 2');
        await client.query('commit');
      });
    } finally {
      client.release();
    }
    expect([await value(1), await value(2)]).toEqual([5, 7]);
  });

  it('a held write that fails fails the next statement: nothing of the transaction is committed, and the connection is usable again', async () => {
    const client = await pool.connect();
    try {
      await withHeldWrites(async () => {
        await client.query('begin');
        await client.query('update item set value = 3 where id = 1');
        await client.query('update item set value = -1 where id = 2'); // breaks the check constraint
        await expect(client.query('commit')).rejects.toMatchObject({ code: '23514' });
        await client.query('rollback');
      });
      expect((await client.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
    } finally {
      client.release();
    }
    expect([await value(1), await value(2)]).toEqual([0, 0]);
  });

  it('drops what is held on rollback, and holds nothing that returns rows or takes parameters', async () => {
    const client = await pool.connect();
    try {
      await withHeldWrites(async () => {
        await client.query('begin');
        await client.query('update item set value = 9 where id = 1');
        await client.query('rollback');
        const returning = await client.query('update item set value = 4 where id = 2 returning value');
        expect(returning.rows).toEqual([{ value: 4 }]);
        await client.query('update item set value = $1 where id = 1', [6]);
        expect(await value(1)).toBe(6);
      });
    } finally {
      client.release();
    }
    expect([await value(1), await value(2)]).toEqual([6, 4]);
  });

  it('holds an update that returns only the key it picks its rows by (nothing the caller needs), and no other returning', async () => {
    const client = await pool.connect();
    const sent: string[] = [];
    const query = pg.Client.prototype.query;
    const spy = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      sent.push(String((args[0] as { text?: string }).text ?? args[0]));
      return (query as (...a: unknown[]) => unknown).apply(this, args) as never;
    });
    try {
      await withHeldWrites(async () => {
        await client.query('begin');
        // MikroORM's shape: a case per row, the keys in an in-list
        const held = await client.query(`update "item" set "value" = case when ("id" = 1) then 5 when ("id" = 2) then 6 else "value" end where "id" in ('1', '2') returning "id"`);
        expect(held.rows).toEqual([]); // held: nothing comes back
        const other = await client.query(`update "item" set "value" = 7 where "id" in (1) returning "value"`);
        expect(other.rows).toEqual([{ value: 7 }]); // returns something else than the key: sent, answered
        const byOther = await client.query(`update "item" set "value" = 8 where "value" in (6) returning "id"`);
        expect(byOther.rows).toEqual([{ id: 2 }]); // returns a key, but picks rows by another column: sent
        await client.query('commit');
      });
    } finally {
      spy.mockRestore();
      client.release();
    }
    expect(sent).toHaveLength(3); // the held update went with the next statement
    expect(sent[0]).toMatch(/^begin;\s*update "item" set "value" = case .* returning "id";\s*update "item" set "value" = 7/s);
    expect([await value(1), await value(2)]).toEqual([7, 8]);
  });

  it('holds no write outside a transaction, and sends what is held before a statement with parameters', async () => {
    const client = await pool.connect();
    try {
      await withHeldWrites(async () => {
        await client.query('update item set value = 2 where id = 1'); // autocommit: sent at once
        expect(await value(1)).toBe(2);
        await client.query('begin');
        await client.query('update item set value = 3 where id = 1');
        // a parameterised read goes after the held begin and update, inside the transaction
        expect((await client.query('select value from item where id = $1', [1])).rows).toEqual([{ value: 3 }]);
        expect(await lockable(1)).toBe(false);
        await client.query('rollback');
      });
    } finally {
      client.release();
    }
    expect(await value(1)).toBe(2);
    // the next checkout of the connection gets nothing of what was held
    expect((await pool.query('select value from item where id = 1')).rows).toEqual([{ value: 2 }]);
  });

  it('outside withHeldWrites, every statement goes at once', async () => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query('update item set value = 1 where id = 1');
      expect(await lockable(1)).toBe(false);
      await client.query('rollback');
    } finally {
      client.release();
    }
  });
});
