import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ConversionNotFoundError, ConversionSettledError, InsufficientBalanceError, PaymentMismatchError } from '../errors.ts';
import type { PageQuery } from '../http/schemas.ts';
import { Decimal, fixed, IDRS, positiveAmount } from '../ledger/amounts.ts';
import { recordMovement, type LogType } from '../ledger/ledger.service.ts';
import { User } from '../users/user.entity.ts';
import { Wallet, type IWallet } from '../wallets/wallet.entity.ts';
import { findOwnWallet } from '../wallets/wallet.service.ts';
import { IdrsConversion, type IIdrsConversion } from './idrs-conversion.entity.ts';

export const CONVERSION_TYPES = ['ON_RAMP', 'OFF_RAMP'] as const;
export type ConversionType = (typeof CONVERSION_TYPES)[number];

/** PENDING: an ON_RAMP awaiting its payment, an OFF_RAMP its payout; then COMPLETED or FAILED. */
export const CONVERSION_STATUSES = ['PENDING', 'COMPLETED', 'FAILED'] as const;

/** What the gateway (or the operator) reports: the money arrived or went out (PAID), or it never will (FAILED). */
export const PAYMENT_OUTCOMES = ['PAID', 'FAILED'] as const;
export type PaymentOutcome = (typeof PAYMENT_OUTCOMES)[number];

/** Who settled a conversion. */
export type SettledBy = 'gateway' | 'operator';

/** IDRS per IDR: the stablecoin is pegged one to one. */
export const IDRS_PER_IDR = new Decimal(1);

/** Rupiah in (ON_RAMP) or out (OFF_RAMP) of one of the caller's wallets. */
export interface ConversionRequest {
  walletAddress: string;
  type: ConversionType;
  idrAmount: string;
}

/** A conversion and the wallet's IDRS balance after the change that returned it. */
export interface ConversionView {
  conversionId: string;
  walletAddress: string;
  type: ConversionType;
  idrAmount: string;
  idrsAmount: string;
  exchangeRate: string;
  status: string;
  paymentId: string | null;
  settledBy: string | null;
  settledAt: string | null;
  createdAt: string;
  idrsBalance: string;
}

function toConversionView(conversion: IIdrsConversion, wallet: IWallet): ConversionView {
  return {
    conversionId: conversion.conversionId,
    walletAddress: wallet.walletAddress,
    type: conversion.conversionType as ConversionType,
    idrAmount: conversion.idrAmount,
    idrsAmount: conversion.idrsAmount,
    exchangeRate: conversion.exchangeRate,
    status: conversion.status,
    paymentId: conversion.paymentId ?? null,
    settledBy: conversion.settledBy ?? null,
    settledAt: conversion.settledAt?.toISOString() ?? null,
    createdAt: conversion.createdAt.toISOString(),
    idrsBalance: wallet.idrsBalance,
  };
}

/** One ledger row per state change; a change that moves nothing is a row of 0.00, so the history is whole. */
function logChange(tx: EntityManager, conversion: IIdrsConversion, type: LogType, amount: Decimal, what: string): void {
  recordMovement(tx, {
    userId: conversion.user.userId,
    type,
    amount: amount.toFixed(IDRS.scale),
    currency: 'IDRS',
    description: `conversion ${conversion.conversionId}: ${what}`,
  });
}

/**
 * Opens a conversion on the caller's locked wallet, PENDING either way. An ON_RAMP credits
 * nothing yet: the IDRS arrive when the payment is confirmed (settleConversion). An OFF_RAMP
 * debits idrAmount x rate at once (refused beyond the balance), so the payout owed can never be
 * spent twice; it is COMPLETED when the payout is confirmed, refunded if it fails.
 */
export async function requestConversion(em: EntityManager, userId: string, request: ConversionRequest): Promise<ConversionView> {
  const idr = positiveAmount(request.idrAmount, 'idrAmount');
  const idrs = idr.times(IDRS_PER_IDR).toDecimalPlaces(IDRS.scale, Decimal.ROUND_HALF_UP);

  return em.transactional(async tx => {
    const wallet = await findOwnWallet(tx, userId, request.walletAddress, true);
    const balance = new Decimal(wallet.idrsBalance);
    if (request.type === 'OFF_RAMP') {
      if (balance.lt(idrs)) {
        throw new InsufficientBalanceError(`Wallet ${wallet.walletAddress} holds ${wallet.idrsBalance} IDRS, less than ${idrs.toFixed(IDRS.scale)}`);
      }
      wallet.idrsBalance = fixed(IDRS, balance.minus(idrs));
    }
    const conversion = tx.create(IdrsConversion, {
      user: tx.getReference(User, userId),
      wallet,
      conversionType: request.type,
      idrAmount: fixed(IDRS, idr),
      idrsAmount: fixed(IDRS, idrs),
      exchangeRate: IDRS_PER_IDR.toFixed(8),
      status: 'PENDING',
    });
    await tx.flush(); // the log row names the conversion id
    if (request.type === 'ON_RAMP') {
      logChange(tx, conversion, 'IDRS_ON_RAMP_REQUESTED', new Decimal(0), `ON_RAMP of ${conversion.idrAmount} IDR on wallet ${wallet.walletAddress} awaits its payment`);
    } else {
      logChange(tx, conversion, 'IDRS_OFF_RAMP', idrs.negated(), `OFF_RAMP of ${conversion.idrAmount} IDR from wallet ${wallet.walletAddress}: payout owed`);
    }
    return toConversionView(conversion, wallet);
  });
}

/** A payment (or payout) confirmation, from the gateway's webhook or an operator. */
export interface PaymentReport {
  conversionId: string;
  /** The gateway's id of the payment: a conversion is settled by one payment, a payment settles one conversion. */
  paymentId: string;
  outcome: PaymentOutcome;
  /** What the gateway says was paid, checked against the conversion; the operator may leave it out. */
  idrAmount?: string;
}

/** The conversion after a report, and whether the report had already been applied (a redelivered webhook). */
export interface SettlementOutcome {
  conversion: ConversionView;
  duplicate: boolean;
}

/**
 * Applies a payment report to a PENDING conversion, once, on the locked conversion and wallet:
 * ON_RAMP PAID credits the IDRS, OFF_RAMP FAILED refunds the debit, the other two only close it;
 * each writes its ledger row. The same report again (same payment id, same outcome) changes
 * nothing and says `duplicate`; anything else on a settled conversion is a 409.
 */
export async function settleConversion(em: EntityManager, report: PaymentReport, settledBy: SettledBy): Promise<SettlementOutcome> {
  try {
    return await em.transactional(async tx => {
      const conversion = await tx.findOne(IdrsConversion, { conversionId: report.conversionId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!conversion) throw new ConversionNotFoundError(report.conversionId);
      const wallet = (await tx.findOne(Wallet, { walletAddress: conversion.wallet.walletAddress }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true }))!;
      const settledAs = report.outcome === 'PAID' ? 'COMPLETED' : 'FAILED';
      if (conversion.status !== 'PENDING') {
        if (conversion.paymentId === report.paymentId && conversion.status === settledAs) return { conversion: toConversionView(conversion, wallet), duplicate: true };
        throw new ConversionSettledError(
          `Conversion ${conversion.conversionId} is already ${conversion.status}${conversion.paymentId ? ` by payment ${conversion.paymentId}` : ''}: it cannot become ${settledAs} by payment ${report.paymentId}`,
        );
      }
      if (report.idrAmount !== undefined && !new Decimal(report.idrAmount).eq(conversion.idrAmount)) {
        throw new PaymentMismatchError(`Payment ${report.paymentId} is of ${report.idrAmount} IDR, conversion ${conversion.conversionId} of ${conversion.idrAmount} IDR`);
      }
      const idrs = new Decimal(conversion.idrsAmount);
      const via = `payment ${report.paymentId}, confirmed by the ${settledBy}`;
      if (conversion.conversionType === 'ON_RAMP' && report.outcome === 'PAID') {
        wallet.idrsBalance = fixed(IDRS, new Decimal(wallet.idrsBalance).plus(idrs));
        logChange(tx, conversion, 'IDRS_ON_RAMP', idrs, `ON_RAMP of ${conversion.idrAmount} IDR paid (${via})`);
      } else if (conversion.conversionType === 'ON_RAMP') {
        logChange(tx, conversion, 'IDRS_ON_RAMP_FAILED', new Decimal(0), `ON_RAMP of ${conversion.idrAmount} IDR failed (${via}): nothing credited`);
      } else if (report.outcome === 'PAID') {
        logChange(tx, conversion, 'IDRS_PAYOUT_SENT', new Decimal(0), `OFF_RAMP payout of ${conversion.idrAmount} IDR sent (${via})`);
      } else {
        wallet.idrsBalance = fixed(IDRS, new Decimal(wallet.idrsBalance).plus(idrs));
        logChange(tx, conversion, 'IDRS_OFF_RAMP_REFUND', idrs, `OFF_RAMP payout of ${conversion.idrAmount} IDR failed (${via}): refunded`);
      }
      conversion.status = settledAs;
      conversion.paymentId = report.paymentId;
      conversion.settledBy = settledBy;
      conversion.settledAt = new Date();
      await tx.flush();
      return { conversion: toConversionView(conversion, wallet), duplicate: false };
    });
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) {
      throw new PaymentMismatchError(`Payment ${report.paymentId} already settled another conversion: a payment settles one conversion`);
    }
    throw error;
  }
}

/** The caller's conversions, newest first, and how many there are. */
export async function listConversions(em: EntityManager, userId: string, page: PageQuery): Promise<{ items: ConversionView[]; total: number }> {
  const [conversions, total] = await em.findAndCount(IdrsConversion, { user: userId }, { orderBy: { conversionId: 'desc' }, populate: ['wallet'], ...page });
  return { items: conversions.map(conversion => toConversionView(conversion, conversion.wallet)), total };
}

/** One of the caller's conversions; any other is "not found". */
export async function findOwnConversion(em: EntityManager, userId: string, conversionId: string): Promise<ConversionView> {
  const conversion = await em.findOne(IdrsConversion, { conversionId, user: userId }, { populate: ['wallet'] });
  if (!conversion) throw new ConversionNotFoundError(conversionId);
  return toConversionView(conversion, conversion.wallet);
}
