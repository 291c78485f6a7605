import type { Pool, PoolClient } from 'pg';

/**
 * Gives the pool back every connection that dies while checked out. PostgreSQL terminating a
 * session inside a transaction makes the `ROLLBACK` fail, and Kysely then never releases the
 * connection (kysely-org/kysely#1990, open): after `max` such deaths the pool is stranded and
 * every query waits for ever. pg-pool already discards idle clients that die; this discards
 * checked-out ones as soon as their socket ends, and makes the holder's own late `release()` a
 * no-op so it cannot throw pg-pool's double-release error over the query's real error.
 */
export function discardBrokenClients(pool: Pool): void {
  const checkedOut = new WeakSet<PoolClient>();
  pool.on('acquire', client => void checkedOut.add(client));
  pool.on('release', (_error, client) => void checkedOut.delete(client));
  pool.on('connect', client => {
    const discard = () => {
      if (!checkedOut.has(client)) return;
      checkedOut.delete(client);
      const release = client.release;
      client.release = () => {};
      release(new Error('PostgreSQL connection lost while checked out'));
    };
    client.once('end', discard);
    client.once('error', discard);
  });
}
