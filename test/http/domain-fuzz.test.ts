import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, fund, nextTimestamp, ownMeter, provisionMeter, signUp, startApi, tableCounts, type Account, type Api, type ProvisionedMeter } from '../api.ts';
import { SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from '../../src/http/signed-request.ts';

// Property: whatever a dishonest caller sends to a domain route, the answer is never a 5xx,
// every 4xx is a problem reply saying what is wrong, and a refused request writes nothing.
const RUNS = 150;
const TIMEOUT_MS = 180_000;

const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();

/** Texts that have hurt before or might: NUL, leap seconds, year 0, capitals, LIKE wildcards. */
const nasty = fc.constantFrom(
  'a\u0000b',
  '\u0000',
  '0000-01-01T00:00:00Z',
  '2016-12-31T23:59:60Z',
  '9999-12-31T23:59:60Z',
  '2024-02-30T00:00:00Z',
  '1969-12-31T23:59:59.999Z',
  `0x${'A'.repeat(40)}`,
  `0x${'%'.repeat(40)}`,
  `0x${'_'.repeat(40)}`,
  '1e3',
  '-0',
  '0.0000001',
  '999999999999.99',
  '1000000000000',
  'x'.repeat(300),
  '',
);
const anything = fc.oneof(nasty, fc.string({ maxLength: 30 }), fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(0, 1, 1.5, -1, 1e21, null, true, [], {}));

const amount = fc.oneof(anything, fc.constantFrom('1', '0.5', 2.25, 0.1, '10.01'));

/** Bodies: valid ones (so some succeed), the route's fields with odd values, strangers, any JSON. */
function bodies(valid: fc.Arbitrary<unknown>, fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const known = Object.keys(fields);
  return fc.oneof(
    { weight: 2, arbitrary: valid },
    { weight: 5, arbitrary: fc.record(fields, { requiredKeys: [] }) },
    { weight: 2, arbitrary: fc.dictionary(fc.oneof(fc.constantFrom(...known), fc.string({ maxLength: 10 })), anything, { maxKeys: 5 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  );
}

describe('domain routes against generated bad input', () => {
  let api: Api;
  let alice: Account;
  let bob: Account;
  let meter: ProvisionedMeter;
  let pairings: Array<{ meterId: string; pairingCode: string }>;
  let bobOffer: string;
  let pending: string[];

  beforeAll(async () => {
    api = await startApi('domain_fuzz');
    alice = await signUp(api.app, 'Alice');
    bob = await signUp(api.app, 'Bob');
    await fund(api.db, alice.walletAddress, '1000.000000', '1000000.00');
    await fund(api.db, bob.walletAddress, '1000.000000', '1000000.00');
    // limits high enough that the valid bodies keep succeeding for a whole run
    await adminCall(api, 'POST', `/admin/users/${alice.userId}/limits`, { maxMeters: 1000, maxOpenOffers: 1000 });
    // claimed long ago: the valid settlements cover random hours of the last ~11 years
    meter = await ownMeter(api, alice, 'MTR-FUZZ', '5', 5000);
    pairings = [];
    for (let i = 0; i < 20; i++) {
      const { meterId, pairingCode } = await provisionMeter(api, `MTR-PAIR-${i}`, '3');
      pairings.push({ meterId, pairingCode });
    }
    const offer = await api.app.inject({ method: 'POST', url: '/offers', headers: bob.headers, payload: { energyKwh: '500', priceIdrsPerKwh: '1500.00', expiresAt: new Date(Date.now() + 3_600_000).toISOString() } });
    bobOffer = offer.json().offerId;
    pending = [];
    for (let i = 0; i < 20; i++) {
      const reply = await api.app.inject({ method: 'POST', url: '/idrs/conversions', headers: alice.headers, payload: { walletAddress: alice.walletAddress, type: 'ON_RAMP', idrAmount: '10.50' } });
      pending.push(reply.json().conversionId);
    }
  });
  afterAll(async () => {
    await api.close();
  });

  const routes = () =>
    [
      [
        '/auth/register',
        null,
        fc.record({ name: fc.constantFrom('Eve', 'Mallory'), email: fc.emailAddress(), password: fc.constant('correct horse battery') }),
        { name: fc.oneof(nasty, fc.string({ maxLength: 20 })), email: fc.oneof(nasty, fc.emailAddress()), password: fc.oneof(nasty, fc.string({ minLength: 8, maxLength: 20 })) },
      ],
      [
        '/meters',
        alice,
        fc.constantFrom(...pairings),
        { meterId: fc.oneof(nasty, fc.constantFrom(...pairings.map(p => p.meterId))), pairingCode: fc.oneof(nasty, fc.constantFrom(...pairings.map(p => p.pairingCode)), fc.string({ maxLength: 14 })) },
      ],
      [
        '/meters/MTR-FUZZ/settlements',
        meter,
        // random hours of the last ~11 years: overlaps are 409s, the rest settle
        fc.integer({ min: 1, max: 100_000 }).map(hours => ({ periodStart: hoursAgo(hours + 1), periodEnd: hoursAgo(hours), netKwh: '0.5' })),
        { periodStart: fc.oneof(nasty, fc.integer({ min: 2, max: 100_000 }).map(hoursAgo)), periodEnd: fc.oneof(nasty, fc.integer({ min: 1, max: 100_000 }).map(hoursAgo)), netKwh: amount },
      ],
      [
        '/offers',
        alice,
        fc.constant({ energyKwh: '0.001', priceIdrsPerKwh: '1500.00', expiresAt: hoursAgo(-1) }),
        { energyKwh: amount, priceIdrsPerKwh: amount, expiresAt: fc.oneof(nasty, fc.integer({ min: -100, max: 1000 }).map(hours => hoursAgo(-hours))) },
      ],
      [
        '/trades',
        alice,
        fc.constant({ offerId: bobOffer, energyKwh: 0.001 }),
        { offerId: fc.oneof(nasty, fc.constant(bobOffer), fc.constantFrom('1', '999999')), energyKwh: amount },
      ],
      [
        '/idrs/payments',
        'gateway',
        fc.record({ paymentId: fc.stringMatching(/^pay_[a-z0-9]{4,12}$/), conversionId: fc.constantFrom(...pending), status: fc.constantFrom('PAID', 'FAILED'), idrAmount: fc.constant('10.50') }),
        { paymentId: fc.oneof(nasty, fc.string({ maxLength: 20 })), conversionId: fc.oneof(nasty, fc.constantFrom(...pending)), status: fc.oneof(nasty, fc.constantFrom('PAID', 'FAILED')), idrAmount: amount },
      ],
      [
        '/idrs/conversions',
        alice,
        fc.constantFrom('ON_RAMP', 'OFF_RAMP').map(type => ({ walletAddress: alice.walletAddress.toUpperCase().replace('0X', '0x'), type, idrAmount: 10.5 })),
        {
          walletAddress: fc.oneof(nasty, fc.constant(alice.walletAddress), fc.constant(alice.walletAddress.toUpperCase().replace('0X', '0x')), fc.constant(bob.walletAddress)),
          type: fc.oneof(fc.constantFrom('ON_RAMP', 'OFF_RAMP'), nasty),
          idrAmount: amount,
        },
      ],
    ] as const;

  it(
    'POST routes: no 5xx, every 4xx a problem, and nothing written when refused',
    async () => {
      for (const [url, account, valid, fields] of routes()) {
        const statuses = new Set<number>();
        await fc.assert(
          fc.asyncProperty(bodies(valid, fields as Record<string, fc.Arbitrary<unknown>>), async body => {
            const before = await tableCounts(api.db);
            const payload = JSON.stringify(body);
            // the meter's and the gateway's routes get signed requests: their input is what is fuzzed here
            const signer = typeof account === 'object' && account !== null ? account : undefined;
            const key = account === 'gateway' ? api.db.config.paymentWebhookSecret : signer && 'deviceKey' in signer ? signer.deviceKey : undefined;
            const timestamp = nextTimestamp();
            const headers = {
              ...(signer && 'headers' in signer ? signer.headers : {}),
              ...(key !== undefined && { [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: signBody(key, timestamp, payload) }),
              'content-type': 'application/json',
            };
            const reply = await api.app.inject({ method: 'POST', url, headers, payload });
            const sent = `${url} ${JSON.stringify(body)}`;
            statuses.add(reply.statusCode);
            expect(reply.statusCode, `${sent} -> ${reply.body}`).toBeLessThan(500);
            if (reply.statusCode >= 400) {
              expect(reply.headers['content-type'], sent).toMatch(/^application\/problem\+json/);
              expect(reply.json().code, sent).not.toMatch(/^FST_/);
              expect(reply.json().detail.length, sent).toBeGreaterThan(0);
              expect(await tableCounts(api.db), sent).toEqual(before);
            }
          }),
          { numRuns: RUNS },
        );
        // a run that only ever got 400s would prove little
        expect([...statuses].some(status => status < 300), `${url} got ${[...statuses]}`).toBe(true);
      }
    },
    TIMEOUT_MS,
  );

  it(
    'GET routes with generated path parameters and query strings: no 5xx',
    async () => {
      const segment = fc.oneof(nasty, fc.string({ maxLength: 20 }), fc.constant(alice.walletAddress.toUpperCase().replace('0X', '0x'))).map(text => encodeURIComponent(text));
      const query = fc.oneof(fc.constant(''), fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(nasty, fc.string({ maxLength: 10 })), { maxKeys: 2 }).map(q => `?${new URLSearchParams(q)}`));
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('/users/', '/wallets/', '/meters/', '/trades/', '/offers/', '/idrs/conversions/'), segment, query, async (prefix, id, q) => {
          const reply = await api.app.inject({ url: `${prefix}${id}${q}`, headers: alice.headers });
          expect(reply.statusCode, `${prefix}${id}${q} -> ${reply.body}`).toBeLessThan(500);
        }),
        { numRuns: RUNS * 2 },
      );
    },
    TIMEOUT_MS,
  );
});
