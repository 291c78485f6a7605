import type { EntityData, EntityManager } from '@mikro-orm/core';
import { EnergySettlement, type IEnergySettlement } from '../../src/meters/energy-settlement.entity.ts';
import { decimal, FixtureStream, type FixtureSet } from '../../src/seeding/fixture-set.ts';
import { FixtureFactory } from './fixture-factory.ts';
import type { SmartMeterFactory } from './SmartMeterFactory.ts';

const HOUR_MS = 3_600_000;

/**
 * Household `index`'s first settlement: the hour after the first full hour since its meter was
 * claimed, SETTLED, exporting at most what the meter's capacity allows in an hour.
 */
export class EnergySettlementFactory extends FixtureFactory<IEnergySettlement> {
  readonly model = EnergySettlement;
  readonly #meters: SmartMeterFactory;

  constructor(em: EntityManager, fixtures: FixtureSet, meters: SmartMeterFactory) {
    super(em, fixtures);
    this.#meters = meters;
  }

  row(index: number): EntityData<IEnergySettlement> {
    const meter = this.#meters.row(index);
    const faker = this.fixtures.fakerFor(FixtureStream.settlements, index);
    const claimedMs = (meter.claimedAt as Date).getTime();
    const start = Math.ceil(claimedMs / HOUR_MS) * HOUR_MS + HOUR_MS;
    // kW x 1 h = kWh: capacity in W is the most Wh, so at most capacity x 1000 micro-kWh x 1000
    const capacityWatts = Math.round(Number(meter.capacityKw) * 1000);
    const microKwh = faker.number.int({ min: 1, max: capacityWatts * 1000 });
    return {
      meter: meter.meterId,
      periodStart: new Date(start),
      periodEnd: new Date(start + HOUR_MS),
      netKwh: decimal(microKwh, 6),
      status: 'SETTLED',
      createdAt: new Date(start + HOUR_MS),
    };
  }
}
