import type { FastifyInstance } from 'fastify';
import { keepJsonNumbersExact } from '../http/exact-json.ts';
import { problemResponses } from '../http/problem-details.ts';
import { timestampSchema, walletAddressSchema } from '../http/schemas.ts';
import { IDRS } from '../ledger/amounts.ts';
import { CONVERSION_TYPES, convertIdrs, type ConversionRequest } from './conversion.service.ts';

const convertSchema = {
  body: {
    type: 'object',
    properties: { walletAddress: walletAddressSchema, type: { type: 'string', enum: CONVERSION_TYPES }, idrAmount: IDRS.schema },
    required: ['walletAddress', 'type', 'idrAmount'],
    additionalProperties: false,
  },
  response: {
    201: {
      type: 'object',
      properties: {
        conversionId: { type: 'string' },
        walletAddress: { type: 'string' },
        type: { type: 'string', enum: CONVERSION_TYPES },
        idrAmount: { type: 'string' },
        idrsAmount: { type: 'string' },
        exchangeRate: { type: 'string' },
        status: { type: 'string', enum: ['COMPLETED'] },
        createdAt: timestampSchema,
        idrsBalance: { type: 'string' },
      },
      required: ['conversionId', 'walletAddress', 'type', 'idrAmount', 'idrsAmount', 'exchangeRate', 'status', 'createdAt', 'idrsBalance'],
    },
    ...problemResponses,
  },
} as const;

/** Rupiah to IDRS and back on the caller's own wallets. */
export default async function idrsRoutes(app: FastifyInstance): Promise<void> {
  keepJsonNumbersExact(app);
  app.addHook('onRequest', app.authenticate);

  app.post<{ Body: ConversionRequest }>('/idrs/conversions', { schema: convertSchema }, async (request, reply) => {
    const conversion = await convertIdrs(request.em, request.userId, request.body);
    return reply.code(201).send(conversion);
  });
}
