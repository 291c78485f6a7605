import { Type } from '../http/schema-builder.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../http/problem-details.ts';
import { idSchema, nullableString, serialIdSchema, strictObject, timestampSchema } from '../http/schemas.ts';
import { paymentIdSchema, paymentOutcomeSchema, settledSchema } from '../idrs/idrs.routes.ts';
import { settleConversion } from '../idrs/conversion.service.ts';
import { CAPACITY, ENERGY, IDRS } from '../ledger/amounts.ts';
import { limitsView, setLimits } from '../limits/limits.service.ts';
import { findMeter, issueDeviceKey, issuePairingCode, provisionMeter, setCapacity, toProvisionedMeterView } from '../meters/provisioning.service.ts';

const tags = ['admin'];
const security = [{ adminToken: [] }];
const nullableTimestamp = Type.Union([timestampSchema, Type.Null()]);

const meterSchema = Type.Object({
  meterId: Type.String(),
  userId: Type.Union([Type.String(), Type.Null()], { description: 'Its owner; null until a user claims it with the pairing code' }),
  location: nullableString(),
  status: Type.String(),
  capacityKw: Type.String(),
  hasDeviceKey: Type.Boolean({ description: 'false for a meter adopted from before provisioning: it cannot settle until a key is issued' }),
  pairingExpiresAt: Type.Union([timestampSchema, Type.Null()], { description: 'Until when the pending pairing code works; null when none is pending' }),
  provisionedAt: nullableTimestamp,
  claimedAt: nullableTimestamp,
  lastSignedAt: Type.Union([timestampSchema, Type.Null()], { description: 'Timestamp of the newest signed request accepted from the meter' }),
});
const meterParams = strictObject({ meterId: idSchema });
const deviceKey = Type.String({ description: 'The HMAC-SHA256 key the meter signs with: shown this once, install it in the meter' });
const pairingCode = Type.String({ description: 'Give it to the household: POST /meters claims the meter with it, once, within 14 days' });

const provisionSchema = {
  tags,
  security,
  description: 'Provisions a meter: unclaimed, with its capacity, a device key and a pairing code (both shown only in this reply).',
  body: strictObject({ meterId: idSchema, capacityKw: CAPACITY.schema, location: Type.Optional(Type.String({ maxLength: 255 })) }),
  response: { 201: Type.Object({ meter: meterSchema, deviceKey, pairingCode }), ...problemResponses },
};
const showMeterSchema = { tags, security, params: meterParams, response: { 200: meterSchema, ...problemResponses } };
const deviceKeySchema = {
  tags,
  security,
  description: 'Issues a new device key (the old one stops working at once): a replaced meter, a leaked key, or a meter adopted without one.',
  params: meterParams,
  response: { 200: Type.Object({ meter: meterSchema, deviceKey }), ...problemResponses },
};
const pairingSchema = {
  tags,
  security,
  description: 'Issues a new pairing code for a meter nobody has claimed (the old one stops working); 409 for a claimed meter.',
  params: meterParams,
  response: { 200: Type.Object({ meter: meterSchema, pairingCode }), ...problemResponses },
};
const capacitySchema = {
  tags,
  security,
  description: "Sets a meter's capacity in kW: what bounds its settlements (kWh <= kW x hours) from now on.",
  params: meterParams,
  body: strictObject({ capacityKw: CAPACITY.schema }),
  response: { 200: meterSchema, ...problemResponses },
};

const limitsSchema = Type.Object({
  userId: Type.String(),
  maxMeters: Type.Integer(),
  maxOpenOffers: Type.Integer(),
  maxTradeKwh: Type.String(),
  custom: Type.Array(Type.String(), { description: 'The limits an operator set; the others are the defaults' }),
});
const userParams = strictObject({ userId: idSchema });
const showLimitsSchema = { tags, security, params: userParams, response: { 200: limitsSchema, ...problemResponses } };
const setLimitsSchema = {
  tags,
  security,
  description: "Sets a user's limits: a value sets one, null puts it back to the default, an absent one is left as it is.",
  params: userParams,
  body: strictObject({
    maxMeters: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 100_000 }), Type.Null()])),
    maxOpenOffers: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 100_000 }), Type.Null()])),
    maxTradeKwh: Type.Optional(Type.Union([ENERGY.schema, Type.Null()])),
  }),
  response: { 200: limitsSchema, ...problemResponses },
};

const settleSchema = {
  tags,
  security,
  description:
    "Settles a PENDING conversion by hand, as the gateway's webhook would: when the operator has seen the payment (or payout) " +
    'and the webhook did not come. Same rules: once per conversion, idempotent on paymentId, written to the audit log.',
  params: strictObject({ conversionId: serialIdSchema }),
  body: strictObject({ paymentId: paymentIdSchema, outcome: paymentOutcomeSchema, idrAmount: Type.Optional(IDRS.schema) }),
  response: { 200: settledSchema, ...problemResponses },
};

/**
 * The operator's side of the market under /admin: provisioning meters and their credentials,
 * per-user limits, and confirming payments by hand. Registered inside the admin plugin, so its
 * rate limit, token check and audit entry apply to every route here; the secrets a reply shows
 * are never part of the audit entry.
 */
const marketAdminRoutes: FastifyPluginAsyncTypebox = async app => {
  app.post('/admin/meters', { schema: provisionSchema, config: { action: 'meters.provision' } }, async (request, reply) => {
    const provisioned = await provisionMeter(request.em, request.body);
    request.auditResult = { meterId: provisioned.meter.meterId, capacityKw: provisioned.meter.capacityKw };
    return reply.code(201).send(provisioned);
  });

  app.get('/admin/meters/:meterId', { schema: showMeterSchema, config: { action: 'meters.show' } }, async request => {
    const meter = toProvisionedMeterView(await findMeter(request.em, request.params.meterId));
    request.auditResult = { meterId: meter.meterId };
    return meter;
  });

  app.post('/admin/meters/:meterId/device-key', { schema: deviceKeySchema, config: { action: 'meters.device-key' } }, async request => {
    const issued = await issueDeviceKey(request.em, request.params.meterId);
    request.auditResult = { meterId: issued.meter.meterId };
    return issued;
  });

  app.post('/admin/meters/:meterId/pairing-code', { schema: pairingSchema, config: { action: 'meters.pairing-code' } }, async request => {
    const issued = await issuePairingCode(request.em, request.params.meterId);
    request.auditResult = { meterId: issued.meter.meterId, pairingExpiresAt: issued.meter.pairingExpiresAt };
    return issued;
  });

  app.post('/admin/meters/:meterId/capacity', { schema: capacitySchema, config: { action: 'meters.capacity' } }, async request => {
    const meter = await setCapacity(request.em, request.params.meterId, request.body.capacityKw);
    request.auditResult = { meterId: meter.meterId, capacityKw: meter.capacityKw };
    return meter;
  });

  app.get('/admin/users/:userId/limits', { schema: showLimitsSchema, config: { action: 'limits.show' } }, async request => {
    const limits = await limitsView(request.em, request.params.userId);
    request.auditResult = { userId: limits.userId };
    return limits;
  });

  app.post('/admin/users/:userId/limits', { schema: setLimitsSchema, config: { action: 'limits.set' } }, async request => {
    const limits = await setLimits(request.em, request.params.userId, request.body);
    request.auditResult = { ...limits };
    return limits;
  });

  app.post('/admin/idrs/conversions/:conversionId/settle', { schema: settleSchema, config: { action: 'idrs.settle' } }, async request => {
    const { paymentId, outcome, idrAmount } = request.body;
    const settled = await settleConversion(request.em, { conversionId: request.params.conversionId, paymentId, outcome, idrAmount }, 'operator');
    request.auditResult = { conversionId: settled.conversion.conversionId, status: settled.conversion.status, paymentId, duplicate: settled.duplicate };
    return settled;
  });
};

export default marketAdminRoutes;
