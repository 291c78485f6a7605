import type { Redis } from 'ioredis';
import { purgeKeys } from './cache-purge.ts';
import type { CachedEntity } from './cached-entities.ts';
import { LocalTier, type EntryKind } from './local-tier.ts';
import { ReaderLatency } from './reader-latency.ts';

/** Invalidations remembered while Redis is unreachable; beyond that the whole generation is purged instead. */
const MAX_UNDELIVERED = 10_000;

export interface CacheOptions {
  redis: Redis;
  /** CACHE_PREFIX: the namespace of every key. */
  prefix: string;
  /** CACHE_TTL_SECONDS: the lifetime of every entry. */
  ttlSeconds: number;
  /** The in-process tier in front of Redis (CACHE_LOCAL_TTL_MS, CACHE_LOCAL_MAX_ENTRIES); off when omitted. */
  local?: { ttlMs: number; maxEntries: number };
}

/** The name of an entity's entry in the in-process tier, and of the dependency its changes evict. */
export function entityDependency(entity: CachedEntity, id: string): string {
  return `${entity}:${id}`;
}

/**
 * Cache-aside on Redis for the reads that matter, keyed `<prefix>:<generation>:<entity>:<id>`
 * (the generation being the schema generation, see schema-generation.ts). Values are stored
 * as JSON, so loaders return plain data, not entity instances. A read never fails because of
 * Redis: while Redis is unreachable, or the generation is not known, reads go to the loader.
 * In front of Redis sits the in-process tier (`local`, see LocalTier): used only while the cache
 * is active, emptied by every `useGeneration` (Redis lost or back, the LISTEN connection lost
 * or back, a schema change or a seed), and evicted with Redis's entry by `invalidate`.
 * What keeps entries true (invalidation, generations, purges) is the CacheInvalidator's job.
 */
export class Cache {
  readonly redis: Redis;
  readonly prefix: string;
  readonly ttlSeconds: number;
  /** The in-process tier; `enabled` is false when CACHE_LOCAL_TTL_MS is 0. */
  readonly local: LocalTier;
  /** The latest reads' Redis round trips: what a background purge paces itself by. */
  readonly readers = new ReaderLatency();
  #generation: string | undefined;
  /** Loads in flight per `<entity>:<id>`; an invalidation marks them stale so their result is not cached. */
  readonly #loads = new Map<string, Set<{ stale: boolean }>>();
  /** Invalidations Redis could not take, as `<entity>:<id>`, delivered when it is back. */
  readonly #undelivered = new Map<string, { entity: CachedEntity; id: string }>();
  #undeliveredOverflow = false;
  /** The in-process tier's entries of `getOrLoad`: read again from Redis, all in one MGET. */
  readonly #shared: EntryKind<unknown> = { reload: held => this.#reloadShared(held.map(({ key }) => key)) };

  constructor({ redis, prefix, ttlSeconds, local }: CacheOptions) {
    this.redis = redis;
    this.prefix = prefix;
    this.ttlSeconds = ttlSeconds;
    this.local = new LocalTier(local ?? { ttlMs: 0, maxEntries: 1 });
  }

  /** The schema generation entries are read and written under; undefined while unknown (the cache is then bypassed). */
  get generation(): string | undefined {
    return this.#generation;
  }

  /** Whether reads are served from Redis right now. */
  get active(): boolean {
    return this.#generation !== undefined && this.redis.status === 'ready';
  }

  /**
   * Switches to `generation`: from now on no entry of another generation is read. Every call
   * empties the in-process tier: each marks a moment (an outage, a recovery, a change of the
   * fleet's schema or data) after which what it holds may not be true any more.
   */
  useGeneration(generation: string | undefined): void {
    this.#generation = generation;
    this.local.clear();
  }

  /**
   * An in-process-only read (never stored in Redis): `load()`'s result kept in the tier within its
   * bound, evicted when an entity it `kind.dependsOn` changes, read again in bulk by `kind.reload`
   * before its bound when it is read often (see LocalTier). While the cache is not active, always `load()`.
   */
  remember<T>(key: string, load: () => Promise<T>, kind: EntryKind<T>): Promise<T> {
    return this.active ? this.local.getOrLoad(key, load, kind) : load();
  }

  /** `remember`'s value of `key` if the cache is active and the tier holds a fresh one; `undefined` otherwise (then call `remember`). */
  recall<T>(key: string): T | undefined {
    return this.active ? this.local.peek<T>(key) : undefined;
  }

  /** `getOrLoad`'s value of `entity`/`id` if the cache is active and the tier holds a fresh one; `undefined` otherwise (then call `getOrLoad`). */
  peekLocal<T>(entity: CachedEntity, id: string): T | undefined {
    return this.active ? this.local.peek<T>(entityDependency(entity, id)) : undefined;
  }

  /** Drops the in-process entries that depend on `entity`/`id`, at once. */
  evictLocal(entity: CachedEntity, id: string): void {
    this.local.evict(entityDependency(entity, id));
  }

  /** The key of an entity's entry: its generation's prefix, then its name in the in-process tier. */
  key(entity: CachedEntity, id: string, generation = this.#generation): string {
    return `${this.generationPrefix(String(generation))}${entityDependency(entity, id)}`;
  }

  /** SCAN MATCH pattern of every key of the namespace. */
  get namespacePattern(): string {
    return `${this.prefix}:*`;
  }

  /** What every key of one generation starts with. */
  generationPrefix(generation: string): string {
    return `${this.prefix}:${generation}:`;
  }

  /** SCAN MATCH pattern of every key of one generation. */
  generationPattern(generation: string): string {
    return `${this.generationPrefix(generation)}*`;
  }

  /**
   * Cache-aside read: the in-process entry of `entity`/`id` if a fresh one is held, else Redis's
   * entry if there is one in the current generation, otherwise `load()`'s result, which is
   * stored with the TTL (`null` included: "no such row" is worth caching too; `undefined` is not
   * stored). `load` must return JSON-safe data.
   */
  getOrLoad<T>(entity: CachedEntity, id: string, load: () => Promise<T>): Promise<T> {
    if (!this.local.enabled || !this.active) return this.#getOrLoadShared(entity, id, load);
    return this.local.getOrLoad(entityDependency(entity, id), () => this.#getOrLoadShared(entity, id, load), this.#shared as EntryKind<T>);
  }

  /**
   * Redis's entries of the tier's `keys` (`<entity>:<id>`, see entityDependency), in one MGET:
   * the in-process tier's reload ahead. `undefined` for an entry Redis does not have (the tier's
   * copy then expires and the next read loads it) and for all of them when the cache is not
   * active or its generation changed meanwhile.
   */
  async #reloadShared(keys: readonly string[]): Promise<unknown[]> {
    const generation = this.active ? this.#generation : undefined;
    if (generation === undefined) return [];
    const prefix = this.generationPrefix(generation);
    const asked = performance.now();
    const cached = await this.redis.mget(keys.map(key => prefix + key));
    this.readers.record(performance.now() - asked);
    if (this.#generation !== generation) return [];
    return cached.map(value => (value == null ? undefined : JSON.parse(value)));
  }

  async #getOrLoadShared<T>(entity: CachedEntity, id: string, load: () => Promise<T>): Promise<T> {
    const generation = this.active ? this.#generation : undefined;
    if (generation === undefined) return load();
    const key = this.key(entity, id, generation);
    const asked = performance.now();
    const cached = await this.redis.get(key).catch(() => undefined);
    this.readers.record(performance.now() - asked);
    // an answer that arrives after a switch of generation belongs to the old one
    if (cached != null && this.#generation === generation) return JSON.parse(cached) as T;

    const loading = { stale: false };
    const loadKey = `${entity}:${id}`;
    const loads = this.#loads.get(loadKey) ?? new Set();
    this.#loads.set(loadKey, loads.add(loading));
    let value: T;
    try {
      value = await load();
    } finally {
      loads.delete(loading);
      if (loads.size === 0) this.#loads.delete(loadKey);
    }
    // not cached: a value read before an invalidation or a schema switch, or when Redis just failed
    if (value !== undefined && cached !== undefined && !loading.stale && this.#generation === generation) {
      await this.redis.set(key, JSON.stringify(value), 'EX', this.ttlSeconds).catch(() => undefined);
    }
    return value;
  }

  /**
   * Deletes the entry of `entity`/`id`: in the in-process tier at once, in Redis, then in the
   * tier again (a read between the two may have copied Redis's old entry). When Redis cannot
   * take it, it is remembered and delivered on reconnection (`redeliverInvalidations`). Never throws.
   */
  async invalidate(entity: CachedEntity, id: string): Promise<void> {
    this.evictLocal(entity, id);
    try {
      await this.#invalidateShared(entity, id);
    } finally {
      this.evictLocal(entity, id);
    }
  }

  async #invalidateShared(entity: CachedEntity, id: string): Promise<void> {
    for (const loading of this.#loads.get(`${entity}:${id}`) ?? []) loading.stale = true;
    const generation = this.#generation;
    if (generation !== undefined && this.redis.status === 'ready') {
      try {
        await this.redis.unlink(this.key(entity, id, generation));
        return;
      } catch {
        // remembered below
      }
    }
    if (this.#undelivered.size >= MAX_UNDELIVERED) this.#undeliveredOverflow = true;
    else this.#undelivered.set(`${entity}:${id}`, { entity, id });
  }

  /**
   * Delivers the invalidations Redis could not take, in `generation` (all of the generation if
   * there were too many). Done before the cache is used again after an outage.
   */
  async redeliverInvalidations(generation: string): Promise<void> {
    if (this.#undeliveredOverflow) {
      this.#undeliveredOverflow = false;
      this.#undelivered.clear();
      await purgeKeys(this.redis, this.generationPattern(generation));
      return;
    }
    const undelivered = [...this.#undelivered.entries()];
    for (let start = 0; start < undelivered.length; start += 1000) {
      const batch = undelivered.slice(start, start + 1000);
      await this.redis.unlink(...batch.map(([, { entity, id }]) => this.key(entity, id, generation)));
      for (const [loadKey] of batch) this.#undelivered.delete(loadKey);
    }
  }
}
