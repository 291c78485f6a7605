import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../http/problem-details.ts';
import { strictObject, timestampSchema, walletAddressSchema } from '../http/schemas.ts';
import { IDRS } from '../ledger/amounts.ts';
import { CONVERSION_TYPES, convertIdrs } from './conversion.service.ts';

const convertSchema = {
  body: strictObject({ walletAddress: walletAddressSchema, type: Type.Enum(CONVERSION_TYPES), idrAmount: IDRS.schema }),
  response: {
    201: Type.Object({
      conversionId: Type.String(),
      walletAddress: Type.String(),
      type: Type.Enum(CONVERSION_TYPES),
      idrAmount: Type.String(),
      idrsAmount: Type.String(),
      exchangeRate: Type.String(),
      status: Type.String({ enum: ['COMPLETED'] }),
      createdAt: timestampSchema,
      idrsBalance: Type.String(),
    }),
    ...problemResponses,
  },
};

/** Rupiah to IDRS and back on the caller's own wallets. */
const idrsRoutes: FastifyPluginAsyncTypebox = async app => {
  app.addHook('onRequest', app.authenticate);

  app.post('/idrs/conversions', { schema: convertSchema }, async (request, reply) => {
    const conversion = await convertIdrs(request.em, request.userId, request.body);
    return reply.code(201).send(conversion);
  });
};

export default idrsRoutes;
