import type { EntityManager } from '@mikro-orm/postgresql';
import { InsufficientBalanceError } from '../errors.ts';
import { Decimal, fixed, IDRS, positiveAmount } from '../ledger/amounts.ts';
import { recordMovement } from '../ledger/ledger.service.ts';
import { User } from '../users/user.entity.ts';
import { findOwnWallet } from '../wallets/wallet.service.ts';
import { IdrsConversion } from './idrs-conversion.entity.ts';

export const CONVERSION_TYPES = ['ON_RAMP', 'OFF_RAMP'] as const;
export type ConversionType = (typeof CONVERSION_TYPES)[number];

/** IDRS per IDR: the stablecoin is pegged one to one. */
export const IDRS_PER_IDR = new Decimal(1);

/** Rupiah in (ON_RAMP) or out (OFF_RAMP) of one of the caller's wallets. */
export interface ConversionRequest {
  walletAddress: string;
  type: ConversionType;
  idrAmount: string;
}

/** A completed conversion and the wallet's IDRS balance after it. */
export interface ConversionView {
  conversionId: string;
  walletAddress: string;
  type: ConversionType;
  idrAmount: string;
  idrsAmount: string;
  exchangeRate: string;
  status: string;
  createdAt: string;
  idrsBalance: string;
}

/**
 * Converts in one transaction on the locked wallet: ON_RAMP credits idrAmount x rate IDRS,
 * OFF_RAMP debits it (refused beyond the balance); the conversion is recorded COMPLETED and
 * the movement logged in IDRS.
 */
export async function convertIdrs(em: EntityManager, userId: string, request: ConversionRequest): Promise<ConversionView> {
  const idr = positiveAmount(request.idrAmount, 'idrAmount');
  const idrs = idr.times(IDRS_PER_IDR).toDecimalPlaces(IDRS.scale, Decimal.ROUND_HALF_UP);
  const signed = request.type === 'ON_RAMP' ? idrs : idrs.negated();

  return em.transactional(async tx => {
    const wallet = await findOwnWallet(tx, userId, request.walletAddress, true);
    const balance = new Decimal(wallet.idrsBalance);
    if (balance.plus(signed).isNegative()) {
      throw new InsufficientBalanceError(`Wallet ${wallet.walletAddress} holds ${wallet.idrsBalance} IDRS, less than ${idrs.toFixed(IDRS.scale)}`);
    }
    wallet.idrsBalance = fixed(IDRS, balance.plus(signed));
    const conversion = tx.create(IdrsConversion, {
      user: tx.getReference(User, userId),
      wallet,
      conversionType: request.type,
      idrAmount: fixed(IDRS, idr),
      idrsAmount: fixed(IDRS, idrs),
      exchangeRate: IDRS_PER_IDR.toFixed(8),
      status: 'COMPLETED',
    });
    await tx.flush(); // the log row names the conversion id
    recordMovement(tx, {
      userId,
      type: request.type === 'ON_RAMP' ? 'IDRS_ON_RAMP' : 'IDRS_OFF_RAMP',
      amount: signed.toFixed(IDRS.scale),
      currency: 'IDRS',
      description: `conversion ${conversion.conversionId}: ${request.type} of ${conversion.idrAmount} IDR on wallet ${wallet.walletAddress}`,
    });
    return {
      conversionId: conversion.conversionId,
      walletAddress: wallet.walletAddress,
      type: request.type,
      idrAmount: conversion.idrAmount,
      idrsAmount: conversion.idrsAmount,
      exchangeRate: conversion.exchangeRate,
      status: conversion.status,
      createdAt: conversion.createdAt.toISOString(),
      idrsBalance: wallet.idrsBalance,
    };
  });
}
