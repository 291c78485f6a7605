import { randomBytes, randomInt } from 'node:crypto';
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { MeterNotFoundError, MeterTakenError } from '../errors.ts';
import { CAPACITY, Decimal, fixed } from '../ledger/amounts.ts';
import { pairingCodeHash } from './meter.service.ts';
import { SmartMeter, type ISmartMeter } from './smart-meter.entity.ts';

/** How long a pairing code can be used to claim its meter. */
export const PAIRING_CODE_TTL_MS = 14 * 86_400_000;

// Crockford's base32 without the letters people misread (I, L, O, U): 12 of them are 60 bits.
const PAIRING_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A new pairing code, `XXXX-XXXX-XXXX`. */
function newPairingCode(): string {
  let code = '';
  for (let i = 0; i < 12; i++) code += (i > 0 && i % 4 === 0 ? '-' : '') + PAIRING_ALPHABET[randomInt(PAIRING_ALPHABET.length)];
  return code;
}

/** A new device key: 32 random bytes, base64url (43 characters). */
function newDeviceKey(): string {
  return randomBytes(32).toString('base64url');
}

/** A meter as the operator sees it: its owner and whether it has a credential and a pending pairing code. */
export interface ProvisionedMeterView {
  meterId: string;
  userId: string | null;
  location: string | null;
  status: string;
  capacityKw: string;
  hasDeviceKey: boolean;
  pairingExpiresAt: string | null;
  provisionedAt: string | null;
  claimedAt: string | null;
  lastSignedAt: string | null;
}

export function toProvisionedMeterView(meter: ISmartMeter): ProvisionedMeterView {
  return {
    meterId: meter.meterId,
    userId: meter.user?.userId ?? null,
    location: meter.location ?? null,
    status: meter.status,
    capacityKw: meter.capacityKw,
    hasDeviceKey: meter.deviceKey != null,
    pairingExpiresAt: meter.pairingExpiresAt?.toISOString() ?? null,
    provisionedAt: meter.provisionedAt?.toISOString() ?? null,
    claimedAt: meter.claimedAt?.toISOString() ?? null,
    lastSignedAt: meter.deviceSignedAt?.toISOString() ?? null,
  };
}

/** A meter to install: its hardware id, capacity in kW (decimal text) and where it is. */
export interface MeterProvisioning {
  meterId: string;
  capacityKw: string;
  location?: string;
}

/** A provisioned meter with the secrets made for it: shown to the operator this once, never stored in the clear but the key. */
export interface ProvisionedMeter {
  meter: ProvisionedMeterView;
  deviceKey: string;
  pairingCode: string;
}

/** Provisions an unclaimed meter (ACTIVE) with a device key and a pairing code. */
export async function provisionMeter(em: EntityManager, request: MeterProvisioning): Promise<ProvisionedMeter> {
  const deviceKey = newDeviceKey();
  const pairingCode = newPairingCode();
  const now = new Date();
  const meter = em.create(SmartMeter, {
    meterId: request.meterId,
    user: null,
    location: request.location ?? null,
    status: 'ACTIVE',
    capacityKw: fixed(CAPACITY, new Decimal(request.capacityKw)),
    deviceKey,
    pairingCodeHash: pairingCodeHash(pairingCode),
    pairingExpiresAt: new Date(now.getTime() + PAIRING_CODE_TTL_MS),
    provisionedAt: now,
  });
  try {
    await em.flush();
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw new MeterTakenError(request.meterId);
    throw error;
  }
  return { meter: toProvisionedMeterView(meter), deviceKey, pairingCode };
}

async function lockedMeter(tx: EntityManager, meterId: string): Promise<ISmartMeter> {
  const meter = await tx.findOne(SmartMeter, { meterId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  if (!meter) throw new MeterNotFoundError(meterId);
  return meter;
}

/** One meter, for the operator. */
export async function findMeter(em: EntityManager, meterId: string): Promise<ISmartMeter> {
  const meter = await em.findOne(SmartMeter, { meterId });
  if (!meter) throw new MeterNotFoundError(meterId);
  return meter;
}

/**
 * A new device key for the meter, replacing the old one at once (a meter replaced, a key
 * leaked, or an adopted meter that never had one). Shown this once.
 */
export async function issueDeviceKey(em: EntityManager, meterId: string): Promise<{ meter: ProvisionedMeterView; deviceKey: string }> {
  return em.transactional(async tx => {
    const meter = await lockedMeter(tx, meterId);
    const deviceKey = newDeviceKey();
    meter.deviceKey = deviceKey;
    await tx.flush();
    return { meter: toProvisionedMeterView(meter), deviceKey };
  });
}

/**
 * A new pairing code for a meter nobody claimed yet (the old code stops working); a claimed
 * meter gets none: its owner has it.
 */
export async function issuePairingCode(em: EntityManager, meterId: string): Promise<{ meter: ProvisionedMeterView; pairingCode: string }> {
  return em.transactional(async tx => {
    const meter = await lockedMeter(tx, meterId);
    if (meter.user) throw new MeterTakenError(meterId);
    const pairingCode = newPairingCode();
    meter.pairingCodeHash = pairingCodeHash(pairingCode);
    meter.pairingExpiresAt = new Date(Date.now() + PAIRING_CODE_TTL_MS);
    await tx.flush();
    return { meter: toProvisionedMeterView(meter), pairingCode };
  });
}

/** Sets the meter's capacity (kW, decimal text): what bounds its settlements from now on. */
export async function setCapacity(em: EntityManager, meterId: string, capacityKw: string): Promise<ProvisionedMeterView> {
  return em.transactional(async tx => {
    const meter = await lockedMeter(tx, meterId);
    meter.capacityKw = fixed(CAPACITY, new Decimal(capacityKw));
    await tx.flush();
    return toProvisionedMeterView(meter);
  });
}
