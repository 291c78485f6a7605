import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../http/problem-details.ts';
import { idSchema, nullableString, strictObject, timestampSchema } from '../http/schemas.ts';
import { CAPACITY, ENERGY } from '../ledger/amounts.ts';
import { findOwnMeter, listMeters, registerMeter, settleEnergy, toMeterView } from './meter.service.ts';

const meterSchema = Type.Object({
  meterId: Type.String(),
  location: nullableString(),
  status: Type.String(),
  capacityKw: Type.String(),
  createdAt: timestampSchema,
  updatedAt: timestampSchema,
});

const meterParams = strictObject({ meterId: idSchema });

const listSchema = { response: { 200: Type.Array(meterSchema), ...problemResponses } };
const oneSchema = { params: meterParams, response: { 200: meterSchema, ...problemResponses } };

const registerSchema = {
  body: strictObject({
    meterId: idSchema,
    location: Type.Optional(Type.String({ maxLength: 255 })),
    capacityKw: Type.Optional(CAPACITY.schema),
  }),
  response: { 201: meterSchema, ...problemResponses },
};

const settleSchema = {
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

/** The caller's own meters (any other id is 404) and the settlements that credit their energy. */
const meterRoutes: FastifyPluginAsyncTypebox = async app => {
  app.addHook('onRequest', app.authenticate);

  app.get('/meters', { schema: listSchema }, async request => (await listMeters(request.em, request.userId)).map(toMeterView));

  app.get('/meters/:meterId', { schema: oneSchema }, async request =>
    toMeterView(await findOwnMeter(request.em, request.userId, request.params.meterId)),
  );

  app.post('/meters', { schema: registerSchema }, async (request, reply) => {
    const meter = await registerMeter(request.em, request.userId, request.body);
    return reply.code(201).send(toMeterView(meter));
  });

  app.post('/meters/:meterId/settlements', { schema: settleSchema }, async (request, reply) => {
    const settlement = await settleEnergy(request.em, request.userId, request.params.meterId, request.body);
    return reply.code(201).send(settlement);
  });
};

export default meterRoutes;
