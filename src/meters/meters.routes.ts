import type { FastifyInstance } from 'fastify';
import { keepJsonNumbersExact } from '../http/exact-json.ts';
import { problemResponses } from '../http/problem-details.ts';
import { idSchema, timestampSchema } from '../http/schemas.ts';
import { CAPACITY, ENERGY } from '../ledger/amounts.ts';
import { findOwnMeter, listMeters, registerMeter, settleEnergy, toMeterView, type MeterRegistration, type SettlementRequest } from './meter.service.ts';

const meterSchema = {
  type: 'object',
  properties: {
    meterId: { type: 'string' },
    location: { type: ['string', 'null'] },
    status: { type: 'string' },
    capacityKw: { type: 'string' },
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
  },
  required: ['meterId', 'location', 'status', 'capacityKw', 'createdAt', 'updatedAt'],
} as const;

const meterParams = { type: 'object', properties: { meterId: idSchema }, required: ['meterId'], additionalProperties: false } as const;

const listSchema = { response: { 200: { type: 'array', items: meterSchema }, ...problemResponses } } as const;
const oneSchema = { params: meterParams, response: { 200: meterSchema, ...problemResponses } } as const;

const registerSchema = {
  body: {
    type: 'object',
    properties: { meterId: idSchema, location: { type: 'string', maxLength: 255 }, capacityKw: CAPACITY.schema },
    required: ['meterId'],
    additionalProperties: false,
  },
  response: { 201: meterSchema, ...problemResponses },
} as const;

const settleSchema = {
  params: meterParams,
  body: {
    type: 'object',
    properties: { periodStart: timestampSchema, periodEnd: timestampSchema, netKwh: ENERGY.schema },
    required: ['periodStart', 'periodEnd', 'netKwh'],
    additionalProperties: false,
  },
  response: {
    201: {
      type: 'object',
      properties: {
        settlementId: { type: 'string' },
        meterId: { type: 'string' },
        periodStart: timestampSchema,
        periodEnd: timestampSchema,
        netKwh: { type: 'string' },
        status: { type: 'string' },
        createdAt: timestampSchema,
        walletAddress: { type: 'string' },
        energyBalance: { type: 'string' },
      },
      required: ['settlementId', 'meterId', 'periodStart', 'periodEnd', 'netKwh', 'status', 'createdAt', 'walletAddress', 'energyBalance'],
    },
    ...problemResponses,
  },
} as const;

/** The caller's own meters (any other id is 404) and the settlements that credit their energy. */
export default async function meterRoutes(app: FastifyInstance): Promise<void> {
  keepJsonNumbersExact(app);
  app.addHook('onRequest', app.authenticate);

  app.get('/meters', { schema: listSchema }, async request => (await listMeters(request.em, request.userId)).map(toMeterView));

  app.get<{ Params: { meterId: string } }>('/meters/:meterId', { schema: oneSchema }, async request =>
    toMeterView(await findOwnMeter(request.em, request.userId, request.params.meterId)),
  );

  app.post<{ Body: MeterRegistration }>('/meters', { schema: registerSchema }, async (request, reply) => {
    const meter = await registerMeter(request.em, request.userId, request.body);
    return reply.code(201).send(toMeterView(meter));
  });

  app.post<{ Params: { meterId: string }; Body: SettlementRequest }>('/meters/:meterId/settlements', { schema: settleSchema }, async (request, reply) => {
    const settlement = await settleEnergy(request.em, request.userId, request.params.meterId, request.body);
    return reply.code(201).send(settlement);
  });
}
