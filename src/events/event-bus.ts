import type { CachedEntity } from '../cache/cached-entities.ts';
import type { QueryRunner } from '../db/query-runner.ts';
import type { MigrationBatch } from '../schema/migration-plan.ts';

/** Every event of the service and what it carries. */
export interface EventMap {
  /**
   * A batch of migrations has run and its transaction is still open: `execute` writes in it, so
   * what a listener writes commits or rolls back with the schema change. A listener's error
   * rolls the batch back.
   */
  'schema.committing': MigrationBatch & { execute: QueryRunner };
  /** A batch of migrations has committed: the schema is now different. */
  'schema.changed': MigrationBatch;
  /** A batch of migrations failed (a transactional batch left nothing behind). */
  'schema.failed': MigrationBatch & { error: unknown };
  /** The seeder filled the database. */
  'seed.completed': { users: number; wallets: number; meters: number; seed: number };
  /** A cached entity was created, updated or deleted, and the change has committed. */
  'entity.changed': { entity: CachedEntity; id: string };
}

export type EventName = keyof EventMap;
export type EventListener<E extends EventName> = (payload: EventMap[E]) => void | Promise<void>;

/**
 * The service's typed, in-process event bus. `emit` runs the listeners one after the other in
 * the order they subscribed and resolves when they all have, so a source knows its event was
 * handled (as MikroORM's own EventManager does); a listener's error reaches the emitter.
 */
export class EventBus {
  #listeners = new Map<EventName, Set<EventListener<any>>>();

  /** Subscribes `listener` to `event`. */
  on<E extends EventName>(event: E, listener: EventListener<E>): this {
    let listeners = this.#listeners.get(event);
    if (!listeners) this.#listeners.set(event, (listeners = new Set()));
    listeners.add(listener);
    return this;
  }

  /** Unsubscribes `listener` from `event`. */
  off<E extends EventName>(event: E, listener: EventListener<E>): this {
    this.#listeners.get(event)?.delete(listener);
    return this;
  }

  /** Delivers `payload` to every listener of `event`, one after the other. */
  async emit<E extends EventName>(event: E, payload: EventMap[E]): Promise<void> {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      await listener(payload);
    }
  }

  /** How many listeners `event` has. */
  listenerCount(event: EventName): number {
    return this.#listeners.get(event)?.size ?? 0;
  }
}
