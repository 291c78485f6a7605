import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ENTITY_CHANGE_CHANNEL, parseEntityChanges, SCHEMA_CHANGE_CHANNEL } from './cache-outbox.ts';

export interface SchemaChangeListenerOptions {
  /** The database whose changes to follow. */
  connectionString: string;
  /** LISTEN is in place (first time or after a reconnect): whatever was missed meanwhile must be read again. */
  onListening: () => void;
  /** The connection is gone: changes may be missed until `onListening` is called again. */
  onLost: (error: Error | undefined) => void;
  /** A change was committed somewhere in the fleet. */
  onChange: () => void;
  /** Cached entities were changed through the ORM somewhere in the fleet (ENTITY_CHANGE_CHANNEL). */
  onEntityChanges?: (changes: Array<{ entity: string; id: string }>) => void;
}

/**
 * Follows the schema and data changes of a database over PostgreSQL's LISTEN/NOTIFY, on a
 * connection of its own (outside the ORM's pool), so that every instance hears of a migration
 * or a seed, whoever ran it and whatever it could reach, and of the entity changes that the
 * in-process tier must drop (a second channel on the same connection). Reconnects with backoff after any
 * loss (a terminated session, a failover, a restart) and says so, since notifications sent
 * while nobody listened are gone: the owner then reconciles from the database.
 */
export class SchemaChangeListener {
  readonly #options: SchemaChangeListenerOptions;
  readonly #closing = new AbortController();
  #client: pg.Client | undefined;
  #running: Promise<void> | undefined;

  constructor(options: SchemaChangeListenerOptions) {
    this.#options = options;
  }

  /** Starts listening; resolves once LISTEN is in place or the first attempt failed (it keeps trying). */
  start(): Promise<void> {
    let firstAttempt!: () => void;
    const attempted = new Promise<void>(resolve => (firstAttempt = resolve));
    this.#running = this.#run(firstAttempt);
    return attempted;
  }

  async stop(): Promise<void> {
    this.#closing.abort();
    await this.#client?.end().catch(() => {});
    await this.#running;
  }

  async #run(firstAttempt: () => void): Promise<void> {
    let delay = 100;
    while (!this.#closing.signal.aborted) {
      const client = new pg.Client({ connectionString: this.#options.connectionString, application_name: 'enerlink schema-change listener', keepAlive: true });
      this.#client = client;
      const lost = new Promise<Error | undefined>(resolve => {
        client.on('error', resolve);
        client.on('end', () => resolve(undefined));
      });
      try {
        await client.connect();
        client.on('notification', message => {
          if (message.channel === SCHEMA_CHANGE_CHANNEL) this.#options.onChange();
          else if (message.channel === ENTITY_CHANGE_CHANNEL) this.#options.onEntityChanges?.(parseEntityChanges(message.payload));
        });
        await client.query(`listen ${SCHEMA_CHANGE_CHANNEL}`);
        if (this.#options.onEntityChanges) await client.query(`listen ${ENTITY_CHANGE_CHANNEL}`);
        delay = 100;
        firstAttempt();
        this.#options.onListening();
        const error = await lost;
        if (this.#closing.signal.aborted) return;
        this.#options.onLost(error);
      } catch (error) {
        firstAttempt();
        if (this.#closing.signal.aborted) return;
        this.#options.onLost(error as Error);
      }
      await client.end().catch(() => {});
      await sleep(delay, undefined, { signal: this.#closing.signal }).catch(() => {});
      delay = Math.min(delay * 2, 2_000);
    }
  }
}
