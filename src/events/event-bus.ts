/** Every domain event enerlink publishes, with its payload. */
export interface DomainEvents {
  /** The fixture seeder finished: the fixture set's sizes (all present now, new or not) and its seed. */
  'seed.completed': { users: number; wallets: number; meters: number; seed: number };
}

/** A listener of one event; an async listener is awaited by `emit`. */
export type Listener<Payload> = (payload: Payload) => void | Promise<void>;

/**
 * A minimal typed in-process event bus. `emit` runs the listeners one after another and
 * resolves once all have finished, so a publisher knows its subscribers (e.g. a cache that
 * invalidates) are done; a failing listener fails the `emit`.
 */
export class EventBus<Events extends object = DomainEvents> {
  #listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Subscribes `listener` to `event`. */
  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): this {
    let listeners = this.#listeners.get(event);
    if (!listeners) this.#listeners.set(event, (listeners = new Set()));
    listeners.add(listener);
    return this;
  }

  /** Unsubscribes `listener` from `event`. */
  off<E extends keyof Events>(event: E, listener: Listener<Events[E]>): this {
    this.#listeners.get(event)?.delete(listener);
    return this;
  }

  /** Delivers `payload` to every listener of `event`, one after the other. */
  async emit<E extends keyof Events>(event: E, payload: Events[E]): Promise<void> {
    for (const listener of [...(this.#listeners.get(event) ?? [])] as Array<Listener<Events[E]>>) {
      await listener(payload);
    }
  }
}

/** The process-wide bus, for publishers that are not handed one (e.g. `npx mikro-orm seeder:run`). */
export const eventBus = new EventBus();
