import type { EntityData, EntityManager } from '@mikro-orm/core';
import { Factory } from '@mikro-orm/seeder';
import type { FixtureSet } from '../../src/seeding/fixture-set.ts';

/** Which row of the fixture set to build; without it, a factory builds rows 0, 1, 2, ... in turn. */
export interface FixtureInput {
  index?: number;
}

/**
 * A MikroORM factory over a FixtureSet: row `index` is the same for the same seed whatever else
 * was built before. `row()` gives a row as plain entity data, which the bulk seeder inserts
 * without creating entities; `make()`/`create()` work as for any MikroORM factory.
 */
export abstract class FixtureFactory<T extends object> extends Factory<T, FixtureInput> {
  protected readonly fixtures: FixtureSet;
  #nextIndex = 0;

  constructor(em: EntityManager, fixtures: FixtureSet) {
    super(em);
    this.fixtures = fixtures;
  }

  /** Row `index` as plain data, keyed by property name. */
  abstract row(index: number): EntityData<T>;

  protected definition(input: FixtureInput = {}): EntityData<T> {
    return this.row(input.index ?? this.#nextIndex++);
  }
}
