import type { FastifyInstance } from 'fastify';
import { keepJsonNumbersExact } from '../http/exact-json.ts';
import { problemResponses } from '../http/problem-details.ts';
import { idSchema, pageQuerySchema, serialIdSchema, timestampSchema, type PageQuery } from '../http/schemas.ts';
import { ENERGY, IDRS } from '../ledger/amounts.ts';
import { buyEnergy, findOwnTrade, listTrades, toTradeView, type TradeRequest } from './trade.service.ts';

const tradeSchema = {
  type: 'object',
  properties: {
    tradeId: { type: 'string' },
    role: { type: 'string', enum: ['BUYER', 'SELLER'] },
    buyerUserId: { type: 'string' },
    sellerUserId: { type: 'string' },
    energyKwh: { type: 'string' },
    priceIdrsPerKwh: { type: 'string' },
    totalIdrs: { type: 'string', description: 'energyKwh x priceIdrsPerKwh, rounded half-up to 2 decimals' },
    tradeTimestamp: timestampSchema,
  },
  required: ['tradeId', 'role', 'buyerUserId', 'sellerUserId', 'energyKwh', 'priceIdrsPerKwh', 'totalIdrs', 'tradeTimestamp'],
} as const;

const buySchema = {
  body: {
    type: 'object',
    properties: { sellerUserId: idSchema, energyKwh: ENERGY.schema, priceIdrsPerKwh: IDRS.schema },
    required: ['sellerUserId', 'energyKwh', 'priceIdrsPerKwh'],
    additionalProperties: false,
  },
  response: { 201: tradeSchema, ...problemResponses },
} as const;

const listSchema = {
  querystring: pageQuerySchema,
  response: {
    200: {
      type: 'object',
      properties: { items: { type: 'array', items: tradeSchema }, total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' } },
      required: ['items', 'total', 'limit', 'offset'],
    },
    ...problemResponses,
  },
} as const;

const oneSchema = {
  params: { type: 'object', properties: { tradeId: serialIdSchema }, required: ['tradeId'], additionalProperties: false },
  response: { 200: tradeSchema, ...problemResponses },
} as const;

/** Buying energy from another user, and the caller's own trades (any other is 404). */
export default async function tradeRoutes(app: FastifyInstance): Promise<void> {
  keepJsonNumbersExact(app);
  app.addHook('onRequest', app.authenticate);

  app.post<{ Body: TradeRequest }>('/trades', { schema: buySchema }, async (request, reply) => {
    const trade = await buyEnergy(request.em, request.userId, request.body);
    return reply.code(201).send(trade);
  });

  app.get<{ Querystring: PageQuery }>('/trades', { schema: listSchema }, async request => {
    const { trades, total } = await listTrades(request.em, request.userId, request.query);
    return { items: trades.map(trade => toTradeView(trade, request.userId)), total, ...request.query };
  });

  app.get<{ Params: { tradeId: string } }>('/trades/:tradeId', { schema: oneSchema }, async request =>
    toTradeView(await findOwnTrade(request.em, request.userId, request.params.tradeId), request.userId),
  );
}
