import { Type } from '../http/schema-builder.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../http/problem-details.ts';
import { pageQuerySchema, serialIdSchema, strictObject, timestampSchema } from '../http/schemas.ts';
import { ENERGY } from '../ledger/amounts.ts';
import type { AppConfig } from '../config.ts';
import { TradeDesk } from './trade-desk.ts';
import { findOwnTrade, listTrades, toTradeView } from './trade.service.ts';

const tradeSchema = Type.Object({
  tradeId: Type.String(),
  role: Type.Enum(['BUYER', 'SELLER']),
  buyerUserId: Type.String(),
  sellerUserId: Type.String(),
  energyKwh: Type.String(),
  priceIdrsPerKwh: Type.String(),
  totalIdrs: Type.String({ description: 'energyKwh x priceIdrsPerKwh, rounded half-up to 2 decimals' }),
  tradeTimestamp: timestampSchema,
  offerId: Type.Union([Type.String(), Type.Null()], { description: 'The offer taken; null for a trade from before offers' }),
});

const takeSchema = {
  description: "Takes all or part of an open offer at the offer's price (see GET /offers). The seller agreed by publishing it.",
  body: strictObject({ offerId: serialIdSchema, energyKwh: ENERGY.schema }),
  response: { 201: tradeSchema, ...problemResponses },
};

const listSchema = {
  querystring: pageQuerySchema,
  response: {
    200: Type.Object({ items: Type.Array(tradeSchema), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() }),
    ...problemResponses,
  },
};

const oneSchema = {
  params: strictObject({ tradeId: serialIdSchema }),
  response: { 200: tradeSchema, ...problemResponses },
};

/** Taking another user's offer (settled in batches by the instance's TradeDesk), and the caller's own trades (any other is 404). */
const tradeRoutes: FastifyPluginAsyncTypebox<{ config: AppConfig }> = async (app, { config }) => {
  const desk = new TradeDesk(app.orm.em, { ...config.tradeBatches, queueTimeoutMs: config.databaseAcquireTimeoutMs });
  // the takes already handed to the desk are settled before the ORM closes
  app.addHook('onClose', () => desk.drained());
  app.addHook('onRequest', app.authenticate);

  app.post('/trades', { schema: takeSchema }, async (request, reply) => {
    const trade = await desk.take(request.userId, request.body);
    return reply.code(201).send(trade);
  });

  app.get('/trades', { schema: listSchema }, async request => {
    const { trades, total } = await listTrades(request.em, request.userId, request.query);
    return { items: trades.map(trade => toTradeView(trade, request.userId)), total, ...request.query };
  });

  app.get('/trades/:tradeId', { schema: oneSchema }, async request =>
    toTradeView(await findOwnTrade(request.em, request.userId, request.params.tradeId), request.userId),
  );
};

export default tradeRoutes;
