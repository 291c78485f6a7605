import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { SmartMeter } from './smart-meter.entity.ts';

/** Net energy a meter exported over a period, credited to its owner's wallet when settled. */
export const EnergySettlement = defineEntity({
  name: 'EnergySettlement',
  tableName: 'energy_settlement',
  indexes: [{ name: 'idx_energysettlement_meter_id', properties: ['meter'] }],
  properties: {
    settlementId: p.bigint('string').primary().autoincrement(),
    meter: () =>
      p.manyToOne(SmartMeter).fieldName('meter_id').foreignKeyName('energy_settlement_meter_id_fkey').deleteRule('cascade'),
    periodStart: p.datetime(),
    periodEnd: p.datetime(),
    netKwh: p.decimal().precision(20).scale(6),
    status: p.string().length(20).default('PENDING'),
    createdAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()),
  },
});

export type IEnergySettlement = InferEntity<typeof EnergySettlement>;
