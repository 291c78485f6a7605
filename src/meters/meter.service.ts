import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { InvalidPeriodError, MeterNotFoundError, MeterTakenError, SettlementOverlapError } from '../errors.ts';
import { CAPACITY, Decimal, ENERGY, fixed, positiveAmount } from '../ledger/amounts.ts';
import { recordMovement } from '../ledger/ledger.service.ts';
import { User } from '../users/user.entity.ts';
import { lockTradingWallets, tradingWalletOf } from '../wallets/wallet.service.ts';
import { EnergySettlement } from './energy-settlement.entity.ts';
import { SmartMeter, type ISmartMeter } from './smart-meter.entity.ts';

/** A meter as the API shows it. */
export interface MeterView {
  meterId: string;
  location: string | null;
  status: string;
  capacityKw: string;
  createdAt: string;
  updatedAt: string;
}

export function toMeterView(meter: ISmartMeter): MeterView {
  return {
    meterId: meter.meterId,
    location: meter.location ?? null,
    status: meter.status,
    capacityKw: meter.capacityKw,
    createdAt: meter.createdAt.toISOString(),
    updatedAt: meter.updatedAt.toISOString(),
  };
}

/** The user's meters by id. */
export async function listMeters(em: EntityManager, userId: string): Promise<ISmartMeter[]> {
  return em.find(SmartMeter, { user: userId }, { orderBy: { meterId: 'asc' } });
}

/** One of the user's meters; another user's is "not found" too. */
export async function findOwnMeter(em: EntityManager, userId: string, meterId: string): Promise<ISmartMeter> {
  const meter = await em.findOne(SmartMeter, { meterId, user: userId });
  if (!meter) throw new MeterNotFoundError(meterId);
  return meter;
}

/** A meter to register: its hardware id, where it is, and its capacity in kW (decimal text). */
export interface MeterRegistration {
  meterId: string;
  location?: string;
  capacityKw?: string;
}

/** Registers a meter (status ACTIVE) to the user. */
export async function registerMeter(em: EntityManager, userId: string, registration: MeterRegistration): Promise<ISmartMeter> {
  const meter = em.create(SmartMeter, {
    meterId: registration.meterId,
    user: em.getReference(User, userId),
    location: registration.location ?? null,
    status: 'ACTIVE',
    capacityKw: fixed(CAPACITY, new Decimal(registration.capacityKw ?? '0')),
  });
  try {
    await em.flush();
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw new MeterTakenError(registration.meterId);
    throw error;
  }
  return meter;
}

/** Net energy a meter exported over `[periodStart, periodEnd)`. */
export interface SettlementRequest {
  periodStart: string;
  periodEnd: string;
  netKwh: string;
}

/** A recorded settlement and the wallet it credited. */
export interface SettlementView {
  settlementId: string;
  meterId: string;
  periodStart: string;
  periodEnd: string;
  netKwh: string;
  status: string;
  createdAt: string;
  walletAddress: string;
  energyBalance: string;
}

// No meter reading is older than the Unix epoch; before it, PostgreSQL and JavaScript
// disagree about years (there is no year 0 in PostgreSQL), which made 0000-01-01 a 500.
const EARLIEST_PERIOD = new Date('1970-01-01T00:00:00Z');

/**
 * A period bound as a Date: `text` already is an RFC 3339 date-time (the schema), but a leap
 * second (`23:59:60`, which RFC 3339 allows and JavaScript's Date cannot hold) and a time
 * before 1970 are refused with a message that says so.
 */
function periodBound(text: string, field: string): Date {
  if (/[T\s]\d\d:\d\d:60/i.test(text)) {
    throw new InvalidPeriodError(`${field} ${text} is a leap second, which enerlink does not record: use :59 or the next minute's :00`);
  }
  const bound = new Date(text);
  if (Number.isNaN(bound.getTime())) throw new InvalidPeriodError(`${field} ${text} is not a time enerlink can record`);
  if (bound < EARLIEST_PERIOD) throw new InvalidPeriodError(`${field} ${text} is before ${EARLIEST_PERIOD.toISOString()}: no meter reading is that old`);
  return bound;
}

/**
 * Settles a period of one of the user's meters: records it (SETTLED), credits `netKwh` to the
 * owner's trading wallet and logs the credit, in one transaction. The meter row is locked
 * first, so two settlements of one meter are checked for overlap one after the other.
 */
export async function settleEnergy(em: EntityManager, userId: string, meterId: string, request: SettlementRequest): Promise<SettlementView> {
  const netKwh = positiveAmount(request.netKwh, 'netKwh');
  const periodStart = periodBound(request.periodStart, 'periodStart');
  const periodEnd = periodBound(request.periodEnd, 'periodEnd');
  if (!(periodStart < periodEnd)) throw new InvalidPeriodError('periodStart must be before periodEnd');
  if (periodEnd.getTime() > Date.now()) throw new InvalidPeriodError('periodEnd is in the future: only a past period can be settled');

  return em.transactional(async tx => {
    const meter = await tx.findOne(SmartMeter, { meterId, user: userId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!meter) throw new MeterNotFoundError(meterId);
    const overlapping = await tx.findOne(EnergySettlement, { meter: meterId, periodStart: { $lt: periodEnd }, periodEnd: { $gt: periodStart } });
    if (overlapping) {
      throw new SettlementOverlapError(
        `Meter ${meterId} already has settlement ${overlapping.settlementId} for ${overlapping.periodStart.toISOString()} to ${overlapping.periodEnd.toISOString()}`,
      );
    }
    const wallet = tradingWalletOf(await lockTradingWallets(tx, [userId]), userId);
    const credited = fixed(ENERGY, netKwh);
    wallet.energyBalance = fixed(ENERGY, new Decimal(wallet.energyBalance).plus(netKwh));
    const settlement = tx.create(EnergySettlement, { meter, periodStart, periodEnd, netKwh: credited, status: 'SETTLED' });
    await tx.flush();
    recordMovement(tx, {
      userId,
      type: 'ENERGY_SETTLEMENT',
      amount: credited,
      currency: 'KWH',
      description: `settlement ${settlement.settlementId}: meter ${meterId} exported ${credited} kWh from ${request.periodStart} to ${request.periodEnd}`,
    });
    return {
      settlementId: settlement.settlementId,
      meterId,
      periodStart: periodStart.toISOString(),
      periodEnd: periodEnd.toISOString(),
      netKwh: credited,
      status: settlement.status,
      createdAt: settlement.createdAt.toISOString(),
      walletAddress: wallet.walletAddress,
      energyBalance: wallet.energyBalance,
    };
  });
}
