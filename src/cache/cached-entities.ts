import type { EntityName } from '@mikro-orm/core';

/**
 * The names of the cached entities, for keys and `entity.changed` events. Empty here: the
 * cache knows no feature. A feature that caches reads of an entity adds its name
 * (`declare module '.../cache/cached-entities.ts' { interface CachedEntities { user: true } }`)
 * and registers it with `registerCachedEntity`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface CachedEntities {}

/** Name of a cached entity in keys and `entity.changed` events. */
export type CachedEntity = Extract<keyof CachedEntities, string>;

interface Registration {
  name: CachedEntity;
  entity: EntityName<any>;
  idProperty: string;
}

const byClassName = new Map<string, Registration>();

/**
 * Makes `entity` a cached entity under `name`, with `idProperty` as the id in its keys: its
 * changes flushed through MikroORM then invalidate its entries (see EntityChangeSubscriber).
 * Called by the feature that owns the entity, when its module loads.
 */
export function registerCachedEntity(name: CachedEntity, entity: { meta: { className: string } }, idProperty: string): void {
  // a defineEntity schema: what MikroORM's subscribers take as an entity name
  byClassName.set(entity.meta.className, { name, entity: entity as unknown as EntityName<any>, idProperty });
}

/** Every registered cached entity. */
export function cachedEntities(): Array<EntityName<any>> {
  return [...byClassName.values()].map(registration => registration.entity);
}

/** The cache name and id of a cached entity instance, or undefined for an entity that is not cached. */
export function cacheIdentity(className: string, entity: Record<string, unknown>): { entity: CachedEntity; id: string } | undefined {
  const cached = byClassName.get(className);
  const id = cached && entity[cached.idProperty];
  return cached && id != null ? { entity: cached.name, id: String(id) } : undefined;
}
