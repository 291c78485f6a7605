import { Type } from '../http/schema-builder.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../http/problem-details.ts';
import { pageQuerySchema, serialIdSchema, strictObject, timestampSchema, walletAddressSchema } from '../http/schemas.ts';
import { SIGNATURE_HEADER, signedRequestOf, TIMESTAMP_HEADER, verifySignature } from '../http/signed-request.ts';
import { IDRS } from '../ledger/amounts.ts';
import {
  CONVERSION_STATUSES,
  CONVERSION_TYPES,
  findOwnConversion,
  listConversions,
  PAYMENT_OUTCOMES,
  requestConversion,
  settleConversion,
} from './conversion.service.ts';

/** A conversion as the API shows it (also the admin API's confirmation reply). */
export const conversionSchema = Type.Object({
  conversionId: Type.String(),
  walletAddress: Type.String(),
  type: Type.Enum(CONVERSION_TYPES),
  idrAmount: Type.String(),
  idrsAmount: Type.String(),
  exchangeRate: Type.String(),
  status: Type.String({ description: CONVERSION_STATUSES.join(', ') }),
  paymentId: Type.Union([Type.String(), Type.Null()], { description: "The gateway's id of the payment or payout that settled it" }),
  settledBy: Type.Union([Type.String({ description: 'gateway or operator' }), Type.Null()]),
  settledAt: Type.Union([timestampSchema, Type.Null()]),
  createdAt: timestampSchema,
  idrsBalance: Type.String({ description: "The wallet's IDRS balance now" }),
});

/** A payment gateway's id of a payment. */
export const paymentIdSchema = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$' });

/** A payment report's outcome. */
export const paymentOutcomeSchema = Type.Enum(PAYMENT_OUTCOMES, { description: 'PAID: the money arrived (ON_RAMP) or went out (OFF_RAMP); FAILED: it never will' });

/** What a settlement answers: the conversion, and whether this report had already been applied. */
export const settledSchema = Type.Object({ conversion: conversionSchema, duplicate: Type.Boolean({ description: 'true: the same report was applied before; nothing changed' }) });

const convertSchema = {
  description:
    'ON_RAMP: PENDING until the payment gateway (or an operator) confirms the payment; only then are the IDRS credited. ' +
    'OFF_RAMP: debits the IDRS at once and records the payout owed, PENDING until the payout is confirmed (refunded if it fails).',
  body: strictObject({ walletAddress: walletAddressSchema, type: Type.Enum(CONVERSION_TYPES), idrAmount: IDRS.schema }),
  response: { 201: conversionSchema, ...problemResponses },
};

const listSchema = {
  querystring: pageQuerySchema,
  response: { 200: Type.Object({ items: Type.Array(conversionSchema), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() }), ...problemResponses },
};
const oneSchema = { params: strictObject({ conversionId: serialIdSchema }), response: { 200: conversionSchema, ...problemResponses } };

const webhookSchema = {
  description:
    `The payment gateway's webhook, signed with PAYMENT_WEBHOOK_SECRET: headers ${TIMESTAMP_HEADER} (Unix ms, within 5 minutes of the server's clock) and ` +
    `${SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>. Idempotent on paymentId: a redelivery answers 200 with duplicate: true.`,
  security: [{ gatewaySignature: [] }],
  body: strictObject({ paymentId: paymentIdSchema, conversionId: serialIdSchema, status: paymentOutcomeSchema, idrAmount: IDRS.schema }),
  response: { 200: settledSchema, ...problemResponses },
};

export interface IdrsRoutesOptions {
  /** The HMAC key the gateway signs its webhooks with (PAYMENT_WEBHOOK_SECRET). */
  webhookSecret: string;
}

/** Rupiah to IDRS and back on the caller's own wallets. */
const userRoutes: FastifyPluginAsyncTypebox = async app => {
  app.addHook('onRequest', app.authenticate);

  app.post('/idrs/conversions', { schema: convertSchema }, async (request, reply) => {
    const conversion = await requestConversion(request.em, request.userId, request.body);
    return reply.code(201).send(conversion);
  });

  app.get('/idrs/conversions', { schema: listSchema }, async request => {
    const { items, total } = await listConversions(request.em, request.userId, request.query);
    return { items, total, ...request.query };
  });

  app.get('/idrs/conversions/:conversionId', { schema: oneSchema }, async request =>
    findOwnConversion(request.em, request.userId, request.params.conversionId),
  );
};

/** The conversions' IDRS side, and the gateway's confirmations of their rupiah side. */
const idrsRoutes: FastifyPluginAsyncTypebox<IdrsRoutesOptions> = async (app, { webhookSecret }) => {
  await app.register(userRoutes);

  app.post('/idrs/payments', { schema: webhookSchema }, async request => {
    verifySignature(signedRequestOf(request), webhookSecret, 'the payment gateway');
    const { paymentId, conversionId, status, idrAmount } = request.body;
    return settleConversion(request.em, { paymentId, conversionId, outcome: status, idrAmount }, 'gateway');
  });
};

export default idrsRoutes;
