import { createHash, timingSafeEqual } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  CapacityExceededError,
  InvalidPeriodError,
  MeterNotFoundError,
  MeterUnclaimedError,
  PairingRefusedError,
  SignatureInvalidError,
  SignatureReplayedError,
  SettlementOverlapError,
} from '../errors.ts';
import { verifySignature, type SignedRequest } from '../http/signed-request.ts';
import { Decimal, ENERGY, fixed, positiveAmount } from '../ledger/amounts.ts';
import { recordMovement } from '../ledger/ledger.service.ts';
import { limitExceeded, limitsOf } from '../limits/limits.service.ts';
import { User } from '../users/user.entity.ts';
import { lockTradingWallets, tradingWalletOf } from '../wallets/wallet.service.ts';
import { EnergySettlement } from './energy-settlement.entity.ts';
import { SmartMeter, type ISmartMeter } from './smart-meter.entity.ts';

/** A meter as its owner sees it (never its credentials). */
export interface MeterView {
  meterId: string;
  location: string | null;
  status: string;
  capacityKw: string;
  claimedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export function toMeterView(meter: ISmartMeter): MeterView {
  return {
    meterId: meter.meterId,
    location: meter.location ?? null,
    status: meter.status,
    capacityKw: meter.capacityKw,
    claimedAt: meter.claimedAt?.toISOString() ?? null,
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

/** What a user claims a meter with: its id and the pairing code the operator gave with it. */
export interface MeterClaim {
  meterId: string;
  pairingCode: string;
}

/** The stored form of a pairing code: its SHA-256 (the code has 60 random bits, so no salt or stretching is needed). */
export function pairingCodeHash(code: string): string {
  return createHash('sha256').update(code.toUpperCase(), 'utf8').digest('hex');
}

/**
 * Gives a provisioned meter to the user who holds its pairing code, once: the code is cleared
 * by the claim. The meter row is locked, so two users with the same code cannot both claim it;
 * an unknown meter, a wrong or expired code and a meter already claimed get the same 403.
 */
export async function claimMeter(em: EntityManager, userId: string, claim: MeterClaim): Promise<ISmartMeter> {
  return em.transactional(async tx => {
    const meter = await tx.findOne(SmartMeter, { meterId: claim.meterId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const presented = Buffer.from(pairingCodeHash(claim.pairingCode));
    const stored = Buffer.from(meter?.pairingCodeHash ?? '0'.repeat(64));
    const matches = timingSafeEqual(presented, stored) && meter?.pairingCodeHash != null;
    if (!meter || !matches || meter.user || !meter.pairingExpiresAt || meter.pairingExpiresAt.getTime() <= Date.now()) {
      throw new PairingRefusedError(claim.meterId);
    }
    const { maxMeters } = await limitsOf(tx, userId);
    // the user row is locked, so two claims by one user are counted one after the other
    await tx.findOne(User, { userId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const owned = await tx.count(SmartMeter, { user: userId });
    if (owned >= maxMeters) throw limitExceeded('maxMeters', maxMeters, `You already have ${owned} meters`);
    meter.user = tx.getReference(User, userId);
    meter.claimedAt = new Date();
    meter.pairingCodeHash = null;
    meter.pairingExpiresAt = null;
    await tx.flush();
    return meter;
  });
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
/** Shortest settlement period: a meter's finest reading interval. */
export const MIN_PERIOD_MS = 60_000;
/** Longest settlement period: a meter settles at least daily; a longer period is a mistake or an attack. */
export const MAX_PERIOD_MS = 24 * 3_600_000;
const HOUR_MS = 3_600_000;

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
 * Settles a period the meter signed: checks the signature with the meter's device key and that
 * its timestamp is newer than the last one accepted (a replay is refused), bounds the energy by
 * capacity x period length, refuses overlaps and periods before the meter was claimed, then
 * records the settlement (SETTLED), credits the owner's trading wallet and logs the credit, in
 * one transaction. The meter row is locked first, so two settlements of one meter are checked
 * one after the other.
 */
export async function settleEnergy(em: EntityManager, meterId: string, request: SettlementRequest, signed: SignedRequest): Promise<SettlementView> {
  const netKwh = positiveAmount(request.netKwh, 'netKwh');
  const periodStart = periodBound(request.periodStart, 'periodStart');
  const periodEnd = periodBound(request.periodEnd, 'periodEnd');
  if (!(periodStart < periodEnd)) throw new InvalidPeriodError('periodStart must be before periodEnd');
  if (periodEnd.getTime() > Date.now()) throw new InvalidPeriodError('periodEnd is in the future: only a past period can be settled');
  const lengthMs = periodEnd.getTime() - periodStart.getTime();
  if (lengthMs < MIN_PERIOD_MS || lengthMs > MAX_PERIOD_MS) {
    throw new InvalidPeriodError(`A period lasts from ${MIN_PERIOD_MS / 60_000} minute to ${MAX_PERIOD_MS / HOUR_MS} hours, this one ${lengthMs / 1000} s`);
  }

  return em.transactional(async tx => {
    const meter = await tx.findOne(SmartMeter, { meterId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    // an unknown meter and one without a credential answer like a wrong signature: ids are not probed
    if (!meter?.deviceKey) throw new SignatureInvalidError(`Meter ${meterId} has no device key on record: the operator issues one (POST /admin/meters/${meterId}/device-key)`);
    const signedAt = verifySignature(signed, meter.deviceKey, `meter ${meterId}`);
    if (meter.deviceSignedAt && signedAt <= meter.deviceSignedAt) {
      throw new SignatureReplayedError(`Meter ${meterId} already sent a request signed at ${meter.deviceSignedAt.toISOString()}; each request needs a newer timestamp`);
    }
    if (!meter.user) throw new MeterUnclaimedError(`Meter ${meterId} has not been claimed by a user yet: its energy would credit no one`);
    const ownedSince = meter.claimedAt ?? meter.createdAt;
    if (periodStart < ownedSince) {
      throw new InvalidPeriodError(`periodStart ${request.periodStart} is before the meter was claimed (${ownedSince.toISOString()}): that energy was not its owner's`);
    }
    // kWh <= kW x h, compared without dividing: netKwh x 3,600,000 <= capacityKw x ms
    const capacity = new Decimal(meter.capacityKw);
    if (netKwh.times(HOUR_MS).gt(capacity.times(lengthMs))) {
      const most = capacity.times(lengthMs).div(HOUR_MS).toDecimalPlaces(ENERGY.scale, Decimal.ROUND_DOWN);
      throw new CapacityExceededError(`Meter ${meterId} (${meter.capacityKw} kW) can export at most ${most.toFixed(ENERGY.scale)} kWh in ${lengthMs / 1000} s, not ${netKwh.toFixed()}`);
    }
    const overlapping = await tx.findOne(EnergySettlement, { meter: meterId, periodStart: { $lt: periodEnd }, periodEnd: { $gt: periodStart } });
    if (overlapping) {
      throw new SettlementOverlapError(
        `Meter ${meterId} already has settlement ${overlapping.settlementId} for ${overlapping.periodStart.toISOString()} to ${overlapping.periodEnd.toISOString()}`,
      );
    }
    meter.deviceSignedAt = signedAt;
    const userId = meter.user.userId;
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
