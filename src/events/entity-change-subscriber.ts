import type { EntityManager, EventArgs, EventSubscriber, FlushEventArgs, Transaction, TransactionEventArgs } from '@mikro-orm/core';
import { announceEntityChanges } from '../cache/cache-outbox.ts';
import { cachedEntities, cacheIdentity } from '../cache/cached-entities.ts';
import type { EventBus, EventMap } from './event-bus.ts';

type EntityChange = EventMap['entity.changed'];
type Changes = Map<string, EntityChange>;

const isSavepoint = (transaction: Transaction) => 'savepointName' in transaction;

/**
 * Makes MikroORM a source of the bus: `entity.changed` for every cached entity a flush creates,
 * updates or deletes, published once the change has committed. The same changes are announced
 * to every instance over PostgreSQL (ENTITY_CHANGE_CHANNEL) by a NOTIFY inside the transaction
 * itself, so they are delivered exactly when it commits. Within `em.transactional` (or
 * `em.begin`) that is after the outermost transaction commits, never at the flush, so a reader
 * cannot load the old row again and re-cache it after the invalidation; a rolled-back
 * transaction publishes nothing. Bulk writes that bypass the unit of work (`nativeUpdate`,
 * query builders, raw SQL) publish nothing either: their authors emit `entity.changed`.
 */
export class EntityChangeSubscriber implements EventSubscriber {
  readonly #bus: EventBus;
  /** Changes waiting for their outermost transaction to commit. */
  readonly #pending = new WeakMap<object, Changes>();
  /** Savepoint -> the transaction it was opened in. */
  readonly #enclosing = new WeakMap<object, object>();
  /** EntityManager -> the transaction it is opening a savepoint in, between the two start events. */
  readonly #opening = new WeakMap<EntityManager, object>();
  /** Changes flushed without any transaction (implicit transactions disabled). */
  readonly #untransacted = new WeakMap<EntityManager, Changes>();

  constructor(bus: EventBus) {
    this.#bus = bus;
  }

  getSubscribedEntities() {
    return cachedEntities();
  }

  afterCreate(args: EventArgs<any>): void {
    this.#record(args);
  }

  afterUpdate(args: EventArgs<any>): void {
    this.#record(args);
  }

  afterUpsert(args: EventArgs<any>): void {
    this.#record(args);
  }

  afterDelete(args: EventArgs<any>): void {
    this.#record(args);
  }

  async afterFlush({ em }: FlushEventArgs): Promise<void> {
    const changes = this.#untransacted.get(em);
    this.#untransacted.delete(em);
    if (!changes) return;
    // no transaction to ride on: the change is committed already, announce it on its own
    await announceEntityChanges((sql, params) => em.getConnection().execute(sql, params), changes.values());
    await this.#publish(changes);
  }

  async beforeTransactionCommit({ em, transaction }: TransactionEventArgs): Promise<void> {
    if (!transaction || isSavepoint(transaction)) return;
    const changes = this.#pending.get(transaction);
    if (changes) await announceEntityChanges((sql, params) => em.getConnection().execute(sql, params, 'all', transaction), changes.values());
  }

  beforeTransactionStart({ em, transaction }: TransactionEventArgs): void {
    // MikroORM passes the enclosing transaction when it is about to open a savepoint in it
    if (transaction) this.#opening.set(em, transaction);
  }

  afterTransactionStart({ em, transaction }: TransactionEventArgs): void {
    const enclosing = this.#opening.get(em);
    this.#opening.delete(em);
    if (transaction && enclosing && isSavepoint(transaction)) this.#enclosing.set(transaction, enclosing);
  }

  async afterTransactionCommit({ transaction }: TransactionEventArgs): Promise<void> {
    if (!transaction || isSavepoint(transaction)) return;
    const changes = this.#pending.get(transaction);
    this.#pending.delete(transaction);
    if (changes) await this.#publish(changes);
  }

  afterTransactionRollback({ transaction }: TransactionEventArgs): void {
    // A savepoint rolled back keeps its changes pending: invalidating an entry too many is harmless.
    if (transaction && !isSavepoint(transaction)) this.#pending.delete(transaction);
  }

  #record({ em, meta, entity }: EventArgs<any>): void {
    const change = cacheIdentity(meta.className, entity);
    if (!change) return;
    const transaction = em.getTransactionContext<Transaction>();
    const changes = transaction ? this.#changesOf(this.#pending, this.#outermost(transaction)) : this.#changesOf(this.#untransacted, em);
    changes.set(`${change.entity}:${change.id}`, change);
  }

  #outermost(transaction: object): object {
    let outermost = transaction;
    for (let enclosing = this.#enclosing.get(outermost); enclosing; enclosing = this.#enclosing.get(outermost)) outermost = enclosing;
    return outermost;
  }

  #changesOf<K extends object>(pending: WeakMap<K, Changes>, key: K): Changes {
    let changes = pending.get(key);
    if (!changes) pending.set(key, (changes = new Map()));
    return changes;
  }

  async #publish(changes: Changes): Promise<void> {
    for (const change of changes.values()) await this.#bus.emit('entity.changed', change);
  }
}
