import type { EntityData } from '@mikro-orm/core';
import { decimal, FixtureStream, randomDigits } from '../../src/seeding/fixture-set.ts';
import { SmartMeter, type ISmartMeter } from '../../src/meters/smart-meter.entity.ts';
import { FixtureFactory } from './fixture-factory.ts';

/**
 * Household `index`'s smart meter: a `MTR-` serial, an Indonesian street address, a status and a
 * rooftop capacity; provisioned and claimed when the household joined, with a device key derived
 * from the seed (fixture meters are for development: anyone with the SEED can sign as them).
 */
export class SmartMeterFactory extends FixtureFactory<ISmartMeter> {
  readonly model = SmartMeter;

  row(index: number): EntityData<ISmartMeter> {
    const { userId, joinedAt } = this.fixtures.household(index);
    const faker = this.fixtures.fakerFor(FixtureStream.meters, index);
    return {
      meterId: `MTR-${randomDigits(faker, 10, 36).toUpperCase()}`,
      user: userId,
      location: `Jl. ${faker.helpers.arrayElement(this.fixtures.names.last)} No. ${faker.number.int({ min: 1, max: 250 })}, ${faker.helpers.arrayElement(CITIES)}`,
      status: faker.helpers.weightedArrayElement(METER_STATUS_WEIGHTS),
      capacityKw: decimal(faker.number.int({ min: 1_300, max: 10_000 }), 3), // 1.3 to 10 kWp
      createdAt: joinedAt,
      updatedAt: joinedAt,
      // drawn after the columns above, so those stay what earlier releases seeded
      deviceKey: randomDigits(faker, 43, 36),
      provisionedAt: joinedAt,
      claimedAt: joinedAt,
    };
  }
}

// faker's own street and city templates cost ~10 µs a row; the market is Indonesian anyway
const CITIES = ['Jakarta', 'Surabaya', 'Bandung', 'Medan', 'Semarang', 'Makassar', 'Denpasar', 'Yogyakarta', 'Malang', 'Bekasi', 'Tangerang', 'Depok'];

const METER_STATUS_WEIGHTS = [
  { weight: 90, value: 'ACTIVE' },
  { weight: 6, value: 'INACTIVE' },
  { weight: 4, value: 'MAINTENANCE' },
];
