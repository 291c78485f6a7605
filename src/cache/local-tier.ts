import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';

export interface LocalTierOptions {
  /** CACHE_LOCAL_TTL_MS: the staleness bound; 0 turns the tier off. */
  ttlMs: number;
  /** CACHE_LOCAL_MAX_ENTRIES: most entries held, least recently used evicted first. */
  maxEntries: number;
}

interface Entry {
  value: unknown;
  /** What the value was read from (`<entity>:<id>`): a change of any of them evicts it. */
  dependsOn: readonly string[];
}

/**
 * The in-process tier in front of Redis and PostgreSQL (lru-cache for the bounded LRU and its
 * expiry). Its one guarantee: no entry is served once `ttlMs` have passed since its value was
 * *read from its source* (the clock starts before the load, not when it is stored), whatever
 * else happens, notifications lost included. Within that bound, `evict` drops an entry as soon
 * as one of the entities it depends on changes, and `clear` empties the tier. A value whose load
 * was under way when an eviction or a clear happened is not stored: it may predate the change.
 * Values are shared by every reader (frozen one level deep): callers must not change them.
 */
export class LocalTier {
  readonly ttlMs: number;
  readonly #entries: LRUCache<string, Entry> | undefined;
  /** `<entity>:<id>` -> the keys of the entries that depend on it. */
  readonly #dependents = new Map<string, Set<string>>();
  /** Loads in flight by key, shared by the readers that miss meanwhile. */
  readonly #loads = new Map<string, Promise<unknown>>();
  /** Bumped by every eviction and clear: a load started before one is not stored. */
  #epoch = 0;

  constructor({ ttlMs, maxEntries }: LocalTierOptions) {
    this.ttlMs = ttlMs;
    if (ttlMs <= 0) return;
    this.#entries = new LRUCache<string, Entry>({
      max: maxEntries,
      ttl: ttlMs,
      // check the clock on every read: the bound is exact, not "give or take a millisecond"
      ttlResolution: 0,
      dispose: (entry, key) => this.#unindex(key, entry.dependsOn),
    });
  }

  /** Whether the tier is on (CACHE_LOCAL_TTL_MS > 0). */
  get enabled(): boolean {
    return this.#entries !== undefined;
  }

  /** Entries held (some may be expired and not yet dropped: they are never served). */
  get size(): number {
    return this.#entries?.size ?? 0;
  }

  /**
   * The value of a fresh entry of `key`, or `undefined` (none, expired, or the tier off): what
   * `getOrLoad` would give at once, without a promise, for the hot path of a request.
   */
  peek<T>(key: string): T | undefined {
    return this.#entries?.get(key)?.value as T | undefined;
  }

  /**
   * The entry of `key` if one is fresh, otherwise `load()`'s result, stored unless it is
   * `undefined` or an eviction happened while it loaded. `dependsOn(value)` names the entities
   * the value was read from (the key itself always counts as one).
   */
  getOrLoad<T>(key: string, load: () => Promise<T>, dependsOn?: (value: T) => readonly string[]): Promise<T> {
    const entries = this.#entries;
    if (entries === undefined) return load();
    const entry = entries.get(key);
    if (entry !== undefined) return Promise.resolve(entry.value as T);
    const inFlight = this.#loads.get(key);
    if (inFlight !== undefined) return inFlight as Promise<T>;

    const epoch = this.#epoch;
    const started = performance.now();
    const loading: Promise<T> = load().then(
      value => {
        if (this.#loads.get(key) === loading) this.#loads.delete(key);
        if (value !== undefined && epoch === this.#epoch && performance.now() - started < this.ttlMs) {
          this.#store(entries, key, value, dependsOn ? [key, ...dependsOn(value)] : [key], started);
        }
        return value;
      },
      (error: unknown) => {
        if (this.#loads.get(key) === loading) this.#loads.delete(key);
        throw error;
      },
    );
    this.#loads.set(key, loading);
    return loading;
  }

  /** Drops every entry that depends on `dependency` (`<entity>:<id>`), at once. */
  evict(dependency: string): void {
    if (this.#entries === undefined) return;
    this.#epoch++;
    this.#loads.clear();
    const keys = this.#dependents.get(dependency);
    if (keys) for (const key of [...keys]) this.#entries.delete(key);
  }

  /** Drops every entry. */
  clear(): void {
    if (this.#entries === undefined) return;
    this.#epoch++;
    this.#loads.clear();
    this.#entries.clear();
    this.#dependents.clear();
  }

  #store(entries: LRUCache<string, Entry>, key: string, value: unknown, dependsOn: readonly string[], started: number): void {
    if (typeof value === 'object' && value !== null) Object.freeze(value);
    // `start`: the bound counts from before the load, so the time the load took is part of it
    entries.set(key, { value, dependsOn }, { start: started });
    for (const dependency of dependsOn) {
      let keys = this.#dependents.get(dependency);
      if (!keys) this.#dependents.set(dependency, (keys = new Set()));
      keys.add(key);
    }
  }

  #unindex(key: string, dependsOn: readonly string[]): void {
    for (const dependency of dependsOn) {
      const keys = this.#dependents.get(dependency);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.#dependents.delete(dependency);
    }
  }
}
