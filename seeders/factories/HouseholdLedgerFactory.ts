import type { EntityData, EntityManager } from '@mikro-orm/core';
import { TransactionLog, type ITransactionLog } from '../../src/ledger/transaction-log.entity.ts';
import type { FixtureSet } from '../../src/seeding/fixture-set.ts';
import type { EnergySettlementFactory } from './EnergySettlementFactory.ts';
import { FixtureFactory } from './fixture-factory.ts';
import type { IdrsConversionFactory } from './IdrsConversionFactory.ts';
import type { SmartMeterFactory } from './SmartMeterFactory.ts';

/** Which of a household's ledger rows a factory builds: one per state change, as the services write them. */
export type HouseholdEntry = 'settlement' | 'on-ramp requested' | 'on-ramp paid';

/**
 * The ledger rows of household `index`'s settlement and conversion. A description names what it
 * logs (the generated ids are not known when the rows are built) and identifies it per user.
 */
export class HouseholdLedgerFactory extends FixtureFactory<ITransactionLog> {
  readonly model = TransactionLog;
  readonly #entry: HouseholdEntry;
  readonly #sources: { meters: SmartMeterFactory; settlements: EnergySettlementFactory; conversions: IdrsConversionFactory };

  constructor(em: EntityManager, fixtures: FixtureSet, entry: HouseholdEntry, sources: HouseholdLedgerFactory['sources']) {
    super(em, fixtures);
    this.#entry = entry;
    this.#sources = sources;
  }

  get sources() {
    return this.#sources;
  }

  row(index: number): EntityData<ITransactionLog> {
    const { userId } = this.fixtures.household(index);
    if (this.#entry === 'settlement') {
      const meter = this.#sources.meters.row(index);
      const settlement = this.#sources.settlements.row(index);
      const start = (settlement.periodStart as Date).toISOString();
      const end = (settlement.periodEnd as Date).toISOString();
      return {
        user: userId,
        transactionType: 'ENERGY_SETTLEMENT',
        description: `settlement of meter ${meter.meterId}: exported ${settlement.netKwh} kWh from ${start} to ${end}`,
        amount: settlement.netKwh,
        currency: 'KWH',
        transactionTimestamp: settlement.createdAt,
      };
    }
    const conversion = this.#sources.conversions.row(index);
    const requested = this.#entry === 'on-ramp requested';
    return {
      user: userId,
      transactionType: requested ? 'IDRS_ON_RAMP_REQUESTED' : 'IDRS_ON_RAMP',
      description: requested
        ? `conversion ${conversion.paymentId}: ON_RAMP of ${conversion.idrAmount} IDR on wallet ${conversion.wallet} awaits its payment`
        : `conversion ${conversion.paymentId}: ON_RAMP of ${conversion.idrAmount} IDR paid (payment ${conversion.paymentId}, confirmed by the gateway)`,
      amount: requested ? '0.00' : conversion.idrsAmount,
      currency: 'IDRS',
      transactionTimestamp: requested ? conversion.createdAt : conversion.settledAt,
    };
  }
}
