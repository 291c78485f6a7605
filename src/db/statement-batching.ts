import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';

const holdingWrites = new AsyncLocalStorage<boolean>();

/**
 * Runs `work` with its writes held (see `BatchingClient`): what `work` sends through the pool
 * that needs no answer goes out with the next statement that does, in one round trip. For a
 * transaction whose statements are built by the ORM one after the other: the `begin` rides with
 * the first read, the updates of a flush with the commit.
 */
export function withHeldWrites<T>(work: () => Promise<T>): Promise<T> {
  return holdingWrites.run(true, work);
}

// What can wait for the next statement: the start of a transaction, and a write that returns no rows.
const HOLDABLE = /^\s*(begin|insert|update|delete)\b/i;
const RETURNING = /\breturning\b/i;

/**
 * The pool's `pg.Client`, which can hold statements back. Inside `withHeldWrites`, a `begin` or
 * an `insert`/`update`/`delete` without `returning`, sent without parameters (the ORM inlines
 * its values), is not sent at once: it is answered at once (as a statement that returned no rows
 * and reports no row count) and prefixed to the next statement of the connection, which goes as
 * one simple query of several statements (PostgreSQL runs them in order and stops at the first
 * error). So a held write's error surfaces on the next statement, inside the same transaction,
 * which PostgreSQL has aborted: nothing after it is committed. A `rollback` drops what is held (it
 * would be undone anyway). Outside `withHeldWrites` the client is `pg.Client`.
 */
export class BatchingClient extends pg.Client {
  #held: string[] = [];

  // pg's own overloads; a held statement takes the form the pool's users send: text and no parameters.
  override query(config: any, values?: any, callback?: any): any {
    const text = typeof config === 'string' ? config : undefined;
    const plain = text !== undefined && (values === undefined || (Array.isArray(values) && values.length === 0)) && callback === undefined;
    if (!plain) return super.query(config, values, callback);
    if (holdingWrites.getStore() && HOLDABLE.test(text) && !RETURNING.test(text)) {
      this.#held.push(text);
      return Promise.resolve({ command: 'HELD', rowCount: null, rows: [], fields: [] });
    }
    if (/^\s*rollback\b/i.test(text)) this.#held = [];
    if (this.#held.length === 0) return super.query(text, values);
    const batch = [...this.#held, text].join(';\n');
    this.#held = [];
    // several statements answer with one result each: the caller's is the last
    return (super.query(batch, []) as Promise<pg.QueryResult | pg.QueryResult[]>).then(result => (Array.isArray(result) ? result[result.length - 1] : result));
  }
}
