import { Type } from '../http/schema-builder.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../http/problem-details.ts';
import { pageQuerySchema, serialIdSchema, strictObject, timestampSchema } from '../http/schemas.ts';
import { ENERGY, IDRS } from '../ledger/amounts.ts';
import { cancelOffer, findOffer, listOpenOffers, listOwnOffers, publishOffer, toOfferView } from './offer.service.ts';

const offerSchema = Type.Object({
  offerId: Type.String(),
  sellerUserId: Type.String(),
  energyKwh: Type.String({ description: 'Energy offered when published' }),
  remainingKwh: Type.String({ description: 'Energy still to take, reserved from the seller while the offer is open' }),
  priceIdrsPerKwh: Type.String(),
  status: Type.Enum(['OPEN', 'FILLED', 'CANCELLED', 'EXPIRED']),
  expiresAt: timestampSchema,
  createdAt: timestampSchema,
  updatedAt: timestampSchema,
});

const pageSchema = Type.Object({ items: Type.Array(offerSchema), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() });
const offerParams = strictObject({ offerId: serialIdSchema });

const publishSchema = {
  description: "Offers energy of the caller's trading wallet at a price per kWh until expiresAt (at most 30 days away); the energy is reserved until taken, cancelled or expired.",
  body: strictObject({
    energyKwh: ENERGY.schema,
    priceIdrsPerKwh: IDRS.schema,
    expiresAt: Type.String({ format: 'date-time', description: 'When the offer ends: in the future, at most 30 days away' }),
  }),
  response: { 201: offerSchema, ...problemResponses },
};
const openSchema = { description: 'Open offers of every seller, cheapest first (then oldest).', querystring: pageQuerySchema, response: { 200: pageSchema, ...problemResponses } };
const mineSchema = { description: "The caller's own offers in any state, newest first.", querystring: pageQuerySchema, response: { 200: pageSchema, ...problemResponses } };
const oneSchema = { params: offerParams, response: { 200: offerSchema, ...problemResponses } };
const cancelSchema = { description: 'Cancels one of the caller\'s open offers: its remaining energy is no longer reserved.', params: offerParams, response: { 200: offerSchema, ...problemResponses } };

/** Offers: what sellers publish and buyers take (POST /trades). */
const offerRoutes: FastifyPluginAsyncTypebox = async app => {
  app.addHook('onRequest', app.authenticate);

  app.post('/offers', { schema: publishSchema }, async (request, reply) => {
    const offer = await publishOffer(request.em, request.userId, request.body);
    return reply.code(201).send(toOfferView(offer));
  });

  app.get('/offers', { schema: openSchema }, async request => {
    const { offers, total } = await listOpenOffers(request.em, request.query);
    return { items: offers.map(toOfferView), total, ...request.query };
  });

  app.get('/offers/mine', { schema: mineSchema }, async request => {
    const { offers, total } = await listOwnOffers(request.em, request.userId, request.query);
    return { items: offers.map(toOfferView), total, ...request.query };
  });

  app.get('/offers/:offerId', { schema: oneSchema }, async request => toOfferView(await findOffer(request.em, request.userId, request.params.offerId)));

  app.post('/offers/:offerId/cancel', { schema: cancelSchema }, async request =>
    toOfferView(await cancelOffer(request.em, request.userId, request.params.offerId)),
  );
};

export default offerRoutes;
