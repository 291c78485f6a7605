import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { EventBus, EventMap } from '../events/event-bus.ts';
import type { QueryRunner } from '../schema/schema-fingerprint.ts';
import type { Cache } from './cache.ts';
import { claimPendingPurges, completePurges, recordPurge, releasePurges } from './cache-outbox.ts';
import { purgeKeys } from './cache-purge.ts';
import { readSchemaGeneration } from './schema-generation.ts';

/**
 * A background purge rests as long as each batch took (half speed), so that reads served
 * meanwhile are not queued behind it (see bench/cache.ts).
 */
export const BACKGROUND_PURGE_REST = 1;

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
  log: CacheLog;
  /**
   * A serving instance (true) follows Redis: it learns of other instances' schema changes over
   * pub/sub, recovers after outages and carries out the purges. A one-shot command (false, the
   * migration CLI) only records and announces its own schema changes.
   */
  listen?: boolean;
}

/**
 * Keeps the cache true to PostgreSQL, as a subscriber of the event bus:
 * - `schema.committing`: stops using the cache and records the purge in the outbox, in the
 *   migration's own transaction;
 * - `schema.changed`: switches to the new generation, tells the other instances (pub/sub
 *   channel `<prefix>:schema-generation`) and purges the older generations in the background;
 * - `schema.failed`: back to the generation PostgreSQL has;
 * - `entity.changed`: deletes that entity's entry;
 * - `seed.completed`: purges the current generation (seeds are written in bulk, without entity events).
 * And of Redis: after an outage it reads the generation again before the cache is used, delivers
 * the invalidations Redis missed, and carries out the purges the outbox kept.
 */
export class CacheInvalidator {
  readonly #cache: Cache;
  readonly #bus: EventBus;
  readonly #execute: QueryRunner;
  readonly #log: CacheLog;
  readonly #listen: boolean;
  readonly #channel: string;
  readonly #closing = new AbortController();
  #subscriber: Redis | undefined;
  /** Between schema.committing and schema.changed/failed: the generation is in flux. */
  #migrating = false;
  /** Counts Redis outages: a generation read before one is not trusted after it. */
  #outages = 0;
  /** Counts generation reads: only the latest one started may apply its result. */
  #reads = 0;
  #draining: Promise<void> | undefined;
  #drainRequested = false;
  #purgeRequested = false;

  constructor({ cache, bus, execute, log, listen = true }: CacheInvalidatorOptions) {
    this.#cache = cache;
    this.#bus = bus;
    this.#execute = execute;
    this.#log = log;
    this.#listen = listen;
    this.#channel = `${cache.prefix}:schema-generation`;
  }

  /** Subscribes to the bus (and, when listening, to Redis) and reads the current generation. */
  async start(): Promise<void> {
    this.#bus.on('schema.committing', this.#onSchemaCommitting);
    this.#bus.on('schema.changed', this.#onSchemaChanged);
    this.#bus.on('schema.failed', this.#onSchemaFailed);
    this.#bus.on('entity.changed', this.#onEntityChanged);
    this.#bus.on('seed.completed', this.#onSeedCompleted);
    if (!this.#listen) return;
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

  /** Unsubscribes from everything and stops a purge in progress (the outbox keeps it). */
  async stop(): Promise<void> {
    this.#closing.abort();
    this.#bus.off('schema.committing', this.#onSchemaCommitting);
    this.#bus.off('schema.changed', this.#onSchemaChanged);
    this.#bus.off('schema.failed', this.#onSchemaFailed);
    this.#bus.off('entity.changed', this.#onEntityChanged);
    this.#bus.off('seed.completed', this.#onSeedCompleted);
    if (!this.#listen) return;
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

  #onSchemaCommitting = async ({ execute, migrations }: EventMap['schema.committing']) => {
    this.#migrating = true;
    this.#cache.useGeneration(undefined);
    const generation = await readSchemaGeneration(execute);
    await recordPurge(execute, generation, migrations);
  };

  #onSchemaChanged = async ({ migrations }: EventMap['schema.changed']) => {
    this.#migrating = false;
    const generation = await this.#readGeneration();
    if (generation === undefined) return;
    this.#log.info({ generation, migrations }, 'cache: schema changed, switched generation');
    const announced = await this.#announce(generation);
    if (!announced) {
      this.#log.warn({ generation }, 'cache: Redis unreachable, schema change not announced; instances re-read the generation when they reconnect');
    }
    if (this.#listen) void this.drain(true);
  };

  #onSchemaFailed = async () => {
    this.#migrating = false;
    await this.#readGeneration();
  };

  #onEntityChanged = ({ entity, id }: EventMap['entity.changed']) => this.#cache.invalidate(entity, id);

  #onSeedCompleted = async () => {
    const generation = this.#cache.generation;
    if (generation === undefined || this.#cache.redis.status !== 'ready') return;
    await purgeKeys(this.#cache.redis, this.#cache.generationPattern(generation)).catch(error => {
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
      if (outages === this.#outages && read === this.#reads && !this.#migrating) this.#cache.useGeneration(generation);
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
        keep: key => this.#cache.generationOf(key) === generation,
        restRatio: BACKGROUND_PURGE_REST,
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
