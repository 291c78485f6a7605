import { Type } from '../http/schema-builder.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../http/problem-details.ts';
import { idSchema, nullableString, strictObject, timestampSchema } from '../http/schemas.ts';
import { SIGNATURE_HEADER, signedRequestOf, TIMESTAMP_HEADER } from '../http/signed-request.ts';
import { ENERGY } from '../ledger/amounts.ts';
import { claimMeter, findOwnMeter, listMeters, settleEnergy, toMeterView } from './meter.service.ts';

const meterSchema = Type.Object({
  meterId: Type.String(),
  location: nullableString(),
  status: Type.String(),
  capacityKw: Type.String(),
  claimedAt: Type.Union([timestampSchema, Type.Null()], { description: 'When the caller claimed it; null for a meter registered before pairing codes' }),
  createdAt: timestampSchema,
  updatedAt: timestampSchema,
});

const meterParams = strictObject({ meterId: idSchema });

/** A pairing code as the operator hands it out: 12 characters in groups of 4, any case. */
export const pairingCodeSchema = Type.String({ pattern: '^[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}$', description: 'The pairing code the operator issued with the meter, XXXX-XXXX-XXXX' });

const listSchema = { response: { 200: Type.Array(meterSchema), ...problemResponses } };
const oneSchema = { params: meterParams, response: { 200: meterSchema, ...problemResponses } };

const claimSchema = {
  description: 'Claims a meter the operator provisioned, with the pairing code issued for it (once: the code is used up).',
  body: strictObject({ meterId: idSchema, pairingCode: pairingCodeSchema }),
  response: { 201: meterSchema, ...problemResponses },
};

const settleSchema = {
  description:
    `Sent by the meter itself, not a user: signed with its device key. Headers ${TIMESTAMP_HEADER} (Unix ms, newer than the meter's last request, ` +
    `within 5 minutes of the server's clock) and ${SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256(device key, "<timestamp>.<body>")>. ` +
    'netKwh is at most capacityKw x the period in hours; a period lasts 1 minute to 24 hours, is in the past, after the claim, and overlaps no other.',
  security: [{ meterSignature: [] }],
  params: meterParams,
  body: strictObject({
    periodStart: Type.String({ format: 'date-time', description: 'Start of the period (inclusive); from 1970-01-01T00:00:00Z, no leap second' }),
    periodEnd: Type.String({ format: 'date-time', description: 'End of the period (exclusive), in the past; no leap second' }),
    netKwh: ENERGY.schema,
  }),
  response: {
    201: Type.Object({
      settlementId: Type.String(),
      meterId: Type.String(),
      periodStart: timestampSchema,
      periodEnd: timestampSchema,
      netKwh: Type.String(),
      status: Type.String(),
      createdAt: timestampSchema,
      walletAddress: Type.String(),
      energyBalance: Type.String(),
    }),
    ...problemResponses,
  },
};

/** The caller's own meters (any other id is 404), and claiming one with its pairing code. */
const ownerRoutes: FastifyPluginAsyncTypebox = async app => {
  app.addHook('onRequest', app.authenticate);

  app.get('/meters', { schema: listSchema }, async request => (await listMeters(request.em, request.userId)).map(toMeterView));

  app.get('/meters/:meterId', { schema: oneSchema }, async request =>
    toMeterView(await findOwnMeter(request.em, request.userId, request.params.meterId)),
  );

  app.post('/meters', { schema: claimSchema }, async (request, reply) => {
    const meter = await claimMeter(request.em, request.userId, request.body);
    return reply.code(201).send(toMeterView(meter));
  });
};

/** What meters send: settlements signed with their device key (no user token). */
const deviceRoutes: FastifyPluginAsyncTypebox = async app => {
  app.post('/meters/:meterId/settlements', { schema: settleSchema }, async (request, reply) => {
    const settlement = await settleEnergy(request.em, request.params.meterId, request.body, signedRequestOf(request));
    return reply.code(201).send(settlement);
  });
};

/** Meters: their owners' routes and the meters' own. */
const meterRoutes: FastifyPluginAsyncTypebox = async app => {
  await app.register(ownerRoutes);
  await app.register(deviceRoutes);
};

export default meterRoutes;
