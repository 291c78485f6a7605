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
  /** When the read of `value` from its source started (performance.now()): its bound counts from here. */
  started: number;
  /** How entries of its kind are read again before their bound; undefined: they are not. */
  kind: EntryKind<unknown> | undefined;
  /** Whether it waits for, or is in, its kind's next reload. */
  queued: boolean;
}

/**
 * Reads held values again, in bulk (one round trip for all): each key's fresh value in the
 * order given, or `undefined` for one that should be left to expire (its source no longer has
 * it, it should not be kept). A rejection leaves every one of them to expire.
 */
export type BulkReload<T> = (held: ReadonlyArray<{ key: string; value: T }>) => Promise<ReadonlyArray<T | undefined>>;

/** A kind of entry: the entities its values depend on, besides its key, and how held ones are read again in bulk. */
export interface EntryKind<T> {
  dependsOn?: (value: T) => readonly string[];
  reload?: BulkReload<T>;
}

/** An entry read once at least this fraction of the bound after its read is read again, in bulk, before the bound. */
const RELOAD_AFTER = 0.75;
/** The reads of a kind waiting to be read again are gathered for this fraction of the bound, then sent together. */
const RELOAD_GATHER = 0.05;
/** Most entries in one bulk read (more are split into several, sent at once): no MGET long enough to hold up Redis's other clients. */
const RELOAD_BATCH_MAX = 1000;

/** A kind's entries waiting for their reload, by key. */
interface PendingReloads {
  entries: Map<string, Entry>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The in-process tier in front of Redis and PostgreSQL (lru-cache for the bounded LRU and its
 * expiry). Its one guarantee: no entry is served once `ttlMs` have passed since its value was
 * *read from its source* (the clock starts before the load, not when it is stored), whatever
 * else happens, notifications lost included. Within that bound, `evict` drops an entry as soon
 * as one of the entities it depends on changes, and `clear` empties the tier. A value whose load
 * was under way when one of the entities it depends on was evicted, or the tier cleared, is not
 * stored: it may predate the change. Evictions of other entities do not matter to it, so
 * a steady stream of changes elsewhere (wallets changing with every trade) does not keep the
 * tier from storing what it loads. Values are shared by every reader (frozen one level deep):
 * callers must not change them.
 *
 * Reload ahead: an entry of a kind with `reload` that is read after RELOAD_AFTER of its bound is
 * read again from its source, gathered with the others of its kind read meanwhile (for
 * RELOAD_GATHER of the bound) into one bulk read, and replaced by the fresh value, whose bound
 * starts before that read. So an entry in steady use is never missed, and its source answers
 * one bulk read for many entries instead of a read per entry. The bound is the same for reloaded
 * values: they are reads of the source like any other. An entry is read again once at most: if
 * that read does not replace it, it expires.
 */
export class LocalTier {
  readonly ttlMs: number;
  readonly #entries: LRUCache<string, Entry> | undefined;
  /** `<entity>:<id>` -> the keys of the entries that depend on it. */
  readonly #dependents = new Map<string, Set<string>>();
  /** Loads in flight by key, shared by the readers that miss meanwhile. */
  readonly #loads = new Map<string, Promise<unknown>>();
  /** Bumped by every eviction and clear: a load remembers it when it starts. */
  #epoch = 0;
  /** The epoch of the latest clear: a load started before it is not stored. */
  #clearedAt = 0;
  /**
   * `<entity>:<id>` -> the epoch of its latest eviction: a load started before it that depends on
   * it is not stored. Kept for one to two bounds (two maps, the older dropped every bound): a
   * load that takes longer than the bound is not stored anyway.
   */
  #evicted = new Map<string, number>();
  #evictedBefore = new Map<string, number>();
  #evictedSince = performance.now();
  /** Entries waiting for their kind's bulk reload. */
  readonly #pending = new Map<EntryKind<unknown>, PendingReloads>();

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
    const entry = this.#entries?.get(key);
    return entry && (this.#served(key, entry) as T);
  }

  /**
   * The entry of `key` if one is fresh, otherwise `load()`'s result, stored unless it is
   * `undefined` or an eviction happened while it loaded. `kind.dependsOn(value)` names the
   * entities the value was read from (the key itself always counts as one); `kind.reload` reads
   * held entries again before their bound (see the class).
   */
  getOrLoad<T>(key: string, load: () => Promise<T>, kind?: EntryKind<T>): Promise<T> {
    const entries = this.#entries;
    if (entries === undefined) return load();
    const entry = entries.get(key);
    if (entry !== undefined) return Promise.resolve(this.#served(key, entry) as T);
    const inFlight = this.#loads.get(key);
    if (inFlight !== undefined) return inFlight as Promise<T>;

    const epoch = this.#epoch;
    const started = performance.now();
    const loading: Promise<T> = load().then(
      value => {
        if (this.#loads.get(key) === loading) this.#loads.delete(key);
        if (value !== undefined && performance.now() - started < this.ttlMs) {
          this.#store(entries, key, value, kind as EntryKind<unknown> | undefined, epoch, started);
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
    const now = performance.now();
    if (now - this.#evictedSince >= this.ttlMs) {
      this.#evictedBefore = this.#evicted;
      this.#evicted = new Map();
      this.#evictedSince = now;
    }
    this.#evicted.set(dependency, ++this.#epoch);
    // readers that miss from now on start a load of their own, after the change
    this.#loads.clear();
    const keys = this.#dependents.get(dependency);
    if (keys) for (const key of [...keys]) this.#entries.delete(key);
  }

  /** Drops every entry, and every reload waiting to be sent (what is under way will not be stored). */
  clear(): void {
    if (this.#entries === undefined) return;
    this.#clearedAt = ++this.#epoch;
    this.#loads.clear();
    this.#entries.clear();
    this.#dependents.clear();
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.timer = undefined;
      pending.entries.clear();
    }
  }

  /** `entry`'s value, for `key`; queues it for its kind's reload when it is past RELOAD_AFTER of its bound. */
  #served(key: string, entry: Entry): unknown {
    if (entry.kind?.reload !== undefined && !entry.queued && performance.now() - entry.started >= this.ttlMs * RELOAD_AFTER) {
      entry.queued = true;
      let pending = this.#pending.get(entry.kind);
      if (!pending) this.#pending.set(entry.kind, (pending = { entries: new Map(), timer: undefined }));
      pending.entries.set(key, entry);
      if (pending.timer === undefined) {
        const kind = entry.kind;
        pending.timer = setTimeout(() => void this.#reload(kind), this.ttlMs * RELOAD_GATHER).unref();
      }
    }
    return entry.value;
  }

  /** Reads the queued entries of `kind` that are still held again, in bulk reads of at most RELOAD_BATCH_MAX. */
  async #reload(kind: EntryKind<unknown>): Promise<void> {
    const pending = this.#pending.get(kind)!;
    pending.timer = undefined;
    const entries = this.#entries!;
    // entries evicted, replaced or expired since they were queued are not read again
    const held = [...pending.entries].filter(([key, entry]) => entries.peek(key) === entry);
    pending.entries.clear();
    const batches = [];
    for (let start = 0; start < held.length; start += RELOAD_BATCH_MAX) batches.push(held.slice(start, start + RELOAD_BATCH_MAX));
    await Promise.all(batches.map(batch => this.#reloadBatch(entries, kind, batch)));
  }

  /**
   * One bulk read of `held`: replaces each entry still held by its fresh value, unless what it
   * depends on was evicted meanwhile or the tier cleared (as for `getOrLoad`). What is not
   * replaced (a failed read, a value the source no longer has) expires at its bound.
   */
  async #reloadBatch(entries: LRUCache<string, Entry>, kind: EntryKind<unknown>, held: Array<[string, Entry]>): Promise<void> {
    const epoch = this.#epoch;
    const started = performance.now();
    let values: ReadonlyArray<unknown>;
    try {
      values = await kind.reload!(held.map(([key, entry]) => ({ key, value: entry.value })));
    } catch {
      return;
    }
    if (performance.now() - started >= this.ttlMs) return;
    held.forEach(([key, entry], n) => {
      const value = values[n];
      if (value !== undefined && entries.peek(key) === entry) this.#store(entries, key, value, kind, epoch, started);
    });
  }

  /** Stores `value`, read from `started` (epoch `since`) on, unless the tier was cleared or what it depends on evicted since. */
  #store(entries: LRUCache<string, Entry>, key: string, value: unknown, kind: EntryKind<unknown> | undefined, since: number, started: number): void {
    const dependsOn = kind?.dependsOn ? [key, ...kind.dependsOn(value)] : [key];
    if (this.#clearedAt > since || dependsOn.some(dependency => (this.#evicted.get(dependency) ?? this.#evictedBefore.get(dependency) ?? 0) > since)) return;
    // a load that finishes after a later one (or a reload) of the same key does not replace its newer value
    if ((entries.peek(key)?.started ?? -Infinity) > started) return;
    if (typeof value === 'object' && value !== null) Object.freeze(value);
    // `start`: the bound counts from before the load, so the time the load took is part of it
    entries.set(key, { value, dependsOn, started, kind, queued: false }, { start: started });
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
