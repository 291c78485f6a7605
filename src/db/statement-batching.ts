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
// An update that returns only the key it picks its rows by (`... where "k" in (...) returning "k"`):
// MikroORM's update of several rows asks their keys back, which tells the caller nothing it needs
// (it maps returned columns onto the entities: the key is already theirs). The list may hold
// quoted literals, parentheses inside them included; a literal ends at a quote not followed by
// another (so `'a''b'` reads one way only, and a statement that does not match fails fast).
const KEY_ONLY_RETURNING = /^\s*update\b[\s\S]*\swhere\s+("[^"]+")\s+in\s+\((?:[^()']|'(?:[^']|'')*'(?!'))*\)\s+returning\s+\1\s*$/i;

/**
 * The pool's `pg.Client`, which can hold statements back. Inside `withHeldWrites`, a `begin`, and
 * within the transaction it began an `insert`/`update`/`delete` without `returning` (or an update
 * returning only the key it picks its rows by, see KEY_ONLY_RETURNING), sent as text without
 * parameters (the ORM inlines its values), is not sent at once: it is answered at once (as a
 * statement that returned no rows and reports no row count, so only for writes whose count and
 * rows nobody reads: the ORM's flush of entities without a version property) and prefixed to the next
 * statement of the connection, which goes as one simple query of several statements (PostgreSQL
 * runs them in order and stops at the first error; the client's read timeout grows with their
 * number). So a held write's error surfaces on the next statement, inside the same transaction,
 * which PostgreSQL has aborted: nothing after it is committed. A statement that cannot carry them
 * (with parameters, or as a config object) goes after them, never before; a `rollback` drops them
 * (they would be undone anyway), and so does the end of the connection. Nothing is held outside a
 * transaction, so nothing held outlives one. Outside `withHeldWrites` the client is `pg.Client`.
 */
export class BatchingClient extends pg.Client {
  #held: string[] = [];
  #inTransaction = false;

  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('end', () => {
      this.#held = [];
      this.#inTransaction = false;
    });
  }

  // pg's own overloads; a held statement takes the form the pool's users send: text and no parameters.
  override query(config: any, values?: any, callback?: any): any {
    const text = typeof config === 'string' ? config : undefined;
    const plain = text !== undefined && (values === undefined || (Array.isArray(values) && values.length === 0)) && callback === undefined;
    if (!plain) {
      if (this.#held.length === 0) return super.query(config, values, callback);
      const held = this.#sendHeld([]);
      if (callback !== undefined || typeof config?.submit === 'function') {
        held.catch(() => {}); // pg sends in order: the next statement fails in the aborted transaction
        return super.query(config, values, callback);
      }
      return held.then(() => super.query(config, values));
    }
    if (/^\s*begin\b/i.test(text)) this.#inTransaction = true;
    if (holdingWrites.getStore() && HOLDABLE.test(text) && (!RETURNING.test(text) || KEY_ONLY_RETURNING.test(text)) && this.#inTransaction) {
      this.#held.push(text);
      return Promise.resolve({ command: 'HELD', rowCount: null, rows: [], fields: [] });
    }
    if (/^\s*(commit|rollback|end|abort)\b/i.test(text)) {
      this.#inTransaction = false;
      if (/^\s*(rollback|abort)\b/i.test(text)) this.#held = [];
    }
    if (this.#held.length === 0) return super.query(text, values);
    return this.#sendHeld([text]);
  }

  // The held statements and then `after`, as one simple query; the answer is the last statement's.
  #sendHeld(after: string[]): Promise<pg.QueryResult> {
    const statements = [...this.#held, ...after];
    this.#held = [];
    const readTimeout = (this as unknown as { connectionParameters: { query_timeout?: number } }).connectionParameters.query_timeout;
    const query = { text: statements.join(';\n'), ...(readTimeout && { query_timeout: readTimeout * statements.length }) };
    return (super.query(query) as Promise<pg.QueryResult | pg.QueryResult[]>).then(result => (Array.isArray(result) ? result[result.length - 1] : result));
  }
}
