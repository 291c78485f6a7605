import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { QueryRunner } from '../db/query-runner.ts';
import type { EventBus, EventMap } from '../events/event-bus.ts';
import type { Cache } from './cache.ts';
import type { CachedEntity } from './cached-entities.ts';
import { claimPendingPurges, completePurges, releasePurges } from './cache-outbox.ts';
import { purgeKeys, type PurgePace } from './cache-purge.ts';
import { SchemaChangeListener } from './schema-change-listener.ts';
import { readSchemaGeneration } from './schema-generation.ts';

/**
 * How the background purge paces itself (see purgeKeys): each batch holds Redis for at most
 * 0.1 ms by Redis's clock (a reader queued behind one waits a fraction of a read's p99 here), and
 * the purge takes at most half of Redis's time, down to 3% while more than 1% of the
 * cache's reads take longer than 1.25 times their p99 from before the purge: under the goal of
 * bench/cache.ts, 1.5, which it measures, by a margin for what the controller lets through
 * before it reacts.
 */
export const BACKGROUND_PURGE_PACE: PurgePace = { batchMs: 0.1, maxCount: 200, duty: 0.5, minDuty: 0.03, slowdown: 1.25, slowedShare: 0.01 };

/** The logging the invalidator does (pino's signature: the app passes its logger). */
export interface CacheLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface CacheInvalidatorOptions {
  cache: Cache;
  bus: EventBus;
  /** Runs SQL on PostgreSQL, outside any transaction. */
  execute: QueryRunner;
  /** The database to LISTEN to for the fleet's schema and data changes. */
  databaseUrl: string;
  log: CacheLog;
}

/**
 * Keeps a serving instance's cache true to PostgreSQL:
 * - of PostgreSQL (LISTEN on `enerlink_schema_change`, a connection of its own): every schema
 *   change or seed committed anywhere, by another instance or by a command with nothing but
 *   DATABASE_URL, makes it read the generation and switch; after the connection is lost, the
 *   cache is off until LISTEN is back and the generation is read again; on the same connection,
 *   `enerlink_entity_change` names the entities changed through the ORM anywhere, whose
 *   entries are deleted (the in-process ones at once);
 * - of the event bus: `schema.committing` stops using the cache while its own migration commits;
 *   `schema.changed` and `seed.completed` switch at once (without waiting for the notification),
 *   tell the other instances over Redis too (channel `<prefix>:schema-generation`) and purge the
 *   older generations in the background; `schema.failed` goes back to what PostgreSQL has;
 *   `entity.changed` deletes that entity's entry;
 * - of Redis: after an outage it reads the generation again before the cache is used, delivers
 *   the invalidations Redis missed, and carries out the purges the outbox kept.
 * The outbox rows and notifications themselves are written by the schema change's own
 * transaction (see cache-outbox.ts), whoever runs it.
 */
export class CacheInvalidator {
  readonly #cache: Cache;
  readonly #bus: EventBus;
  readonly #execute: QueryRunner;
  readonly #log: CacheLog;
  readonly #channel: string;
  readonly #closing = new AbortController();
  readonly #changes: SchemaChangeListener;
  #subscriber: Redis | undefined;
  /** Whether the LISTEN connection is in place: without it, a change could go unheard. */
  #listening = false;
  /** Between schema.committing and schema.changed/failed: the generation is in flux. */
  #migrating = false;
  /** Counts Redis and LISTEN outages: a generation read before one is not trusted after it. */
  #outages = 0;
  /** Counts generation reads: only the latest one started may apply its result. */
  #reads = 0;
  #draining: Promise<void> | undefined;
  #drainRequested = false;
  #purgeRequested = false;

  constructor({ cache, bus, execute, databaseUrl, log }: CacheInvalidatorOptions) {
    this.#cache = cache;
    this.#bus = bus;
    this.#execute = execute;
    this.#log = log;
    this.#channel = `${cache.prefix}:schema-generation`;
    this.#changes = new SchemaChangeListener({
      connectionString: databaseUrl,
      onListening: () => {
        this.#listening = true;
        void this.#readGeneration().then(() => this.drain());
      },
      onLost: error => {
        if (this.#listening) this.#log.warn({ err: error?.message }, 'cache: lost the schema-change notifications; serving from PostgreSQL until they are back');
        this.#listening = false;
        this.#outages++;
        this.#cache.useGeneration(undefined);
      },
      onChange: () => void this.#readGeneration().then(() => this.drain()),
      // the tier's entries are dropped at once; Redis's too, without waiting for the instance
      // that made the change to do it (a read meanwhile could copy Redis's old entry to the tier)
      onEntityChanges: changes => {
        for (const { entity, id } of changes) void this.#cache.invalidate(entity as CachedEntity, id);
      },
    });
  }

  /** Whether this instance hears of schema changes right now (LISTEN in place). */
  get listening(): boolean {
    return this.#listening;
  }

  /** Subscribes to the bus, PostgreSQL's notifications and Redis, and reads the current generation. */
  async start(): Promise<void> {
    this.#bus.on('schema.committing', this.#onSchemaCommitting);
    this.#bus.on('schema.changed', this.#onSchemaChanged);
    this.#bus.on('schema.failed', this.#onSchemaFailed);
    this.#bus.on('entity.changed', this.#onEntityChanged);
    this.#bus.on('seed.completed', this.#onSeedCompleted);
    await this.#changes.start();
    const { redis } = this.#cache;
    redis.on('close', this.#onRedisClose);
    redis.on('ready', this.#onRedisReady);
    // pub/sub needs a connection of its own; it queues SUBSCRIBE until Redis is reachable and
    // subscribes again after every reconnection
    const subscriber = redis.duplicate({ lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.#subscriber = subscriber;
    subscriber.on('error', () => {}); // Redis's state is logged once, by the redis plugin
    subscriber.on('message', this.#onMessage);
    subscriber.on('ready', this.#onSubscriberReady);
    subscriber.subscribe(this.#channel).catch(() => {});
    if (redis.status === 'ready') await this.#recover();
  }

  /**
   * Unsubscribes from everything and stops a purge in progress (the outbox keeps it). The cache
   * is not used from here on: nothing keeps it true any more (this also empties the in-process
   * tier and cancels its reloads, which would otherwise read PostgreSQL after it closed).
   */
  async stop(): Promise<void> {
    this.#cache.useGeneration(undefined);
    this.#closing.abort();
    this.#bus.off('schema.committing', this.#onSchemaCommitting);
    this.#bus.off('schema.changed', this.#onSchemaChanged);
    this.#bus.off('schema.failed', this.#onSchemaFailed);
    this.#bus.off('entity.changed', this.#onEntityChanged);
    this.#bus.off('seed.completed', this.#onSeedCompleted);
    await this.#changes.stop();
    this.#cache.redis.off('close', this.#onRedisClose);
    this.#cache.redis.off('ready', this.#onRedisReady);
    this.#subscriber?.disconnect();
    await this.#draining;
  }

  /**
   * Carries out the purges the outbox holds (and, with `evenIfNoneRecorded`, purges anyway):
   * deletes every key of the namespace outside the current generation. Resolves when done;
   * never throws: what could not be done stays in the outbox.
   */
  drain(evenIfNoneRecorded = false): Promise<void> {
    this.#drainRequested = true;
    this.#purgeRequested ||= evenIfNoneRecorded;
    this.#draining ??= this.#drainWhileRequested().finally(() => {
      this.#draining = undefined;
      if (this.#drainRequested && !this.#closing.signal.aborted) void this.drain();
    });
    return this.#draining;
  }

  #onSchemaCommitting = () => {
    this.#migrating = true;
    this.#cache.useGeneration(undefined);
  };

  #onSchemaChanged = async ({ migrations }: { migrations: string[] }) => {
    this.#migrating = false;
    const generation = await this.#readGeneration();
    if (generation === undefined) return;
    this.#log.info({ generation, migrations }, 'cache: schema changed, switched generation');
    await this.#announce(generation);
    void this.drain(true);
  };

  #onSchemaFailed = async () => {
    this.#migrating = false;
    await this.#readGeneration();
  };

  #onEntityChanged = ({ entity, id }: EventMap['entity.changed']) => this.#cache.invalidate(entity, id);

  // A seed's outbox row is part of the generation: switching retires everything cached before
  // it. Before the outbox exists, the generation stays: its entries are purged instead.
  #onSeedCompleted = async () => {
    const before = this.#cache.generation;
    await this.#onSchemaChanged({ migrations: [] });
    if (before === undefined || this.#cache.generation !== before || this.#cache.redis.status !== 'ready') return;
    await purgeKeys(this.#cache.redis, this.#cache.generationPattern(before)).catch(error => {
      this.#log.warn({ err: (error as Error).message }, 'cache: could not purge after seeding; entries expire with their TTL');
    });
  };

  #onRedisClose = () => {
    this.#outages++;
    this.#cache.useGeneration(undefined);
  };

  #onRedisReady = () => void this.#recover();

  #onSubscriberReady = () => void this.#readGeneration();

  #onMessage = (channel: string) => {
    if (channel !== this.#channel) return;
    void this.#readGeneration().then(() => this.drain());
  };

  // After (re)connecting: nothing is served from Redis until the generation is read again and
  // the invalidations Redis missed are delivered; then the other instances are told (one of
  // them may have missed a change of ours) and the outbox is drained.
  async #recover(): Promise<void> {
    const generation = await this.#readGeneration(async current => {
      await this.#cache.redeliverInvalidations(current);
    });
    if (generation === undefined) return;
    await this.#announce(generation);
    void this.drain();
  }

  /**
   * Reads the generation from PostgreSQL and switches the cache to it, unless Redis went away
   * meanwhile, a migration is committing, or a later read has started. `beforeUse` runs
   * before the switch; if it fails, the cache stays off.
   */
  async #readGeneration(beforeUse?: (generation: string) => Promise<void>): Promise<string | undefined> {
    const outages = this.#outages;
    const read = ++this.#reads;
    try {
      const generation = await readSchemaGeneration(this.#execute);
      await beforeUse?.(generation);
      if (outages === this.#outages && read === this.#reads && !this.#migrating && this.#listening) this.#cache.useGeneration(generation);
      return generation;
    } catch (error) {
      if (read === this.#reads) this.#cache.useGeneration(undefined);
      this.#log.warn({ err: (error as Error).message }, 'cache: generation unknown, serving from PostgreSQL');
      return undefined;
    }
  }

  async #announce(generation: string): Promise<boolean> {
    if (this.#cache.redis.status !== 'ready') return false;
    return this.#cache.redis.publish(this.#channel, JSON.stringify({ generation })).then(
      () => true,
      () => false,
    );
  }

  async #drainWhileRequested(): Promise<void> {
    while (this.#drainRequested && !this.#closing.signal.aborted) {
      this.#drainRequested = false;
      const evenIfNoneRecorded = this.#purgeRequested;
      this.#purgeRequested = false;
      await this.#drainOnce(evenIfNoneRecorded);
    }
  }

  async #drainOnce(evenIfNoneRecorded: boolean): Promise<void> {
    const { redis } = this.#cache;
    if (redis.status !== 'ready') return; // the outbox keeps it until Redis is back
    let claimed: string[] = [];
    try {
      claimed = await claimPendingPurges(this.#execute);
      if (claimed.length === 0 && !evenIfNoneRecorded) return;
      // keep the generation PostgreSQL has now, whatever this instance believes
      const generation = await readSchemaGeneration(this.#execute);
      const started = performance.now();
      const { deleted } = await purgeKeys(redis, this.#cache.namespacePattern, {
        keepPrefix: this.#cache.generationPrefix(generation),
        pace: BACKGROUND_PURGE_PACE,
        readers: this.#cache.readers,
        signal: this.#closing.signal,
      });
      if (claimed.length > 0) await completePurges(this.#execute, claimed, deleted);
      this.#log.info({ generation, deleted, ms: Math.round(performance.now() - started) }, 'cache: purged older generations');
    } catch (error) {
      if (claimed.length > 0) await releasePurges(this.#execute, claimed).catch(() => {});
      this.#log.warn({ err: (error as Error).message }, 'cache: purge deferred, the outbox keeps it until Redis is back');
    }
  }
}
