import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { SignatureInvalidError } from '../errors.ts';
import { rawBodyOf } from './exact-json.ts';

/** Header with the signer's time, in Unix milliseconds. */
export const TIMESTAMP_HEADER = 'x-enerlink-timestamp';
/** Header with `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export const SIGNATURE_HEADER = 'x-enerlink-signature';
/** How far a signer's clock may be from ours; outside it, a captured request can no longer be replayed. */
export const SIGNATURE_TOLERANCE_MS = 5 * 60_000;

/** What a signed request carries, taken from HTTP by the route: plain values the services check. */
export interface SignedRequest {
  timestamp: string | undefined;
  signature: string | undefined;
  body: string;
}

/** The signature headers and the exact body of `request`. */
export function signedRequestOf(request: FastifyRequest): SignedRequest {
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  return { timestamp: header(TIMESTAMP_HEADER), signature: header(SIGNATURE_HEADER), body: rawBodyOf(request) ?? '' };
}

/** The signature header value for `body` signed with `key` at `timestamp` (what a meter or the gateway sends). */
export function signBody(key: string, timestamp: number | string, body: string): string {
  return `sha256=${createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Checks that `signed` was signed with `key` within SIGNATURE_TOLERANCE_MS of `now`, in time
 * that does not depend on how much of the signature is right; returns the signer's time.
 * `who` names the signer in the messages ("meter MTR-1", "the payment gateway").
 */
export function verifySignature(signed: SignedRequest, key: string, who: string, now = Date.now()): Date {
  const { timestamp, signature } = signed;
  if (timestamp === undefined || signature === undefined) {
    throw new SignatureInvalidError(`A request from ${who} must be signed: send ${TIMESTAMP_HEADER} (Unix ms) and ${SIGNATURE_HEADER} (sha256=<hex HMAC of "<timestamp>.<body>">)`);
  }
  if (!/^[0-9]{1,15}$/.test(timestamp)) throw new SignatureInvalidError(`${TIMESTAMP_HEADER} must be Unix time in milliseconds, got ${JSON.stringify(timestamp.slice(0, 40))}`);
  const signedAt = Number(timestamp);
  if (Math.abs(now - signedAt) > SIGNATURE_TOLERANCE_MS) {
    throw new SignatureInvalidError(`${TIMESTAMP_HEADER} ${timestamp} is more than ${SIGNATURE_TOLERANCE_MS / 1000} s from the server's time: check the signer's clock`);
  }
  const expected = Buffer.from(signBody(key, timestamp, signed.body));
  const presented = Buffer.from(signature);
  if (expected.length !== presented.length || !timingSafeEqual(expected, presented)) {
    throw new SignatureInvalidError(`The signature does not match the body: it is not from ${who}, or the body changed on the way`);
  }
  return new Date(signedAt);
}
