import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { AppConfig } from '../src/config.ts';
import { SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from '../src/http/signed-request.ts';
import { buildTestApp, migrateTestDatabase, createTestDatabase, type TestDatabase } from './helper.ts';

/** The app on a database of its own, migrated to the latest schema. */
export interface Api {
  db: TestDatabase;
  app: FastifyInstance;
  close: () => Promise<void>;
}

/** `settings` changes the configuration (a lower limit, a shorter timeout) for this app alone. */
export async function startApi(label: string, settings: Partial<AppConfig> = {}): Promise<Api> {
  const db = await createTestDatabase(label);
  const app = await buildTestApp(db, { ...db.config, ...settings });
  await migrateTestDatabase(app.orm);
  return {
    db,
    app,
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}

/**
 * A PostgreSQL session of the test's own, to hold rows and locks as another writer would: opened
 * before each test of the enclosing describe (on `db()`, read then) and rolled back and released
 * after it, whatever the test left open.
 */
export function ownSessionPerTest(db: () => TestDatabase): { query: (text: string, values?: unknown[]) => Promise<unknown> } {
  let session: Awaited<ReturnType<TestDatabase['connect']>> | undefined;
  beforeEach(async () => {
    session = await db().connect();
  });
  afterEach(async () => {
    await session?.query('rollback').catch(() => {});
    session?.release();
    session = undefined;
  });
  return { query: (text, values) => session!.query(text, values) };
}

/** A registered, logged-in user. */
export interface Account {
  userId: string;
  walletAddress: string;
  token: string;
  email: string;
  headers: { authorization: string };
}

/** Registers a user through the API and logs them in. */
export async function signUp(app: FastifyInstance, name = 'Test User'): Promise<Account> {
  const email = `${name.toLowerCase().replace(/\W+/g, '.')}.${randomBytes(4).toString('hex')}@example.test`;
  const password = 'correct horse battery';
  const registered = await app.inject({ method: 'POST', url: '/auth/register', payload: { name, email, password } });
  expect(registered.statusCode, registered.body).toBe(201);
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  expect(login.statusCode, login.body).toBe(200);
  const { userId, token } = login.json();
  return { userId, token, email, walletAddress: registered.json().walletAddress, headers: { authorization: `Bearer ${token}` } };
}

/** Sets a wallet's balances directly in SQL (the API has no way to mint energy from nothing). */
export async function fund(db: TestDatabase, walletAddress: string, energyKwh: string, idrs: string): Promise<void> {
  await db.query('update wallet set energy_balance = ?, idrs_balance = ? where wallet_address = ?', [energyKwh, idrs, walletAddress]);
}

/** Asserts an `application/problem+json` reply with this status and code. */
export function expectProblem(reply: LightMyRequestResponse, status: number, code: string): void {
  expect(reply.statusCode, reply.body).toBe(status);
  expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = reply.json();
  expect(body).toMatchObject({ status, code, type: expect.stringMatching(/^urn:enerlink:problem:/), title: expect.any(String), detail: expect.any(String) });
}

/** Row counts of the tables the API writes, to prove a refused request wrote nothing. */
export async function tableCounts(db: TestDatabase): Promise<Record<string, number>> {
  const [row] = await db.query(`select
    (select count(*) from "user")::int as users, (select count(*) from wallet)::int as wallets,
    (select count(*) from smart_meter)::int as meters, (select count(*) from energy_settlement)::int as settlements,
    (select count(*) from market_trade)::int as trades, (select count(*) from transaction_log)::int as logs,
    (select count(*) from idrs_conversion)::int as conversions, (select count(*) from token_blacklist)::int as blacklisted,
    (select count(*) from market_offer)::int as offers, (select coalesce(sum(remaining_kwh), 0)::text from market_offer where status = 'OPEN') as offered,
    (select count(*) from smart_meter where user_id is not null)::int as claimed, (select count(*) from idrs_conversion where status = 'PENDING')::int as pending,
    (select coalesce(sum(energy_balance), 0)::text from wallet) as energy, (select coalesce(sum(idrs_balance), 0)::text from wallet) as idrs`);
  return row;
}

/** Calls the admin API of the app with the admin token its config generated. */
export function adminCall(api: Api, method: 'GET' | 'POST', url: string, payload?: object): Promise<LightMyRequestResponse> {
  return api.app.inject({ method, url, headers: { authorization: `Bearer ${api.db.config.adminToken}` }, ...(payload && { payload }) });
}

/** A meter the operator provisioned: its device key and pairing code, as the admin API showed them once. */
export interface ProvisionedMeter {
  meterId: string;
  deviceKey: string;
  pairingCode: string;
}

/** Provisions a meter through the admin API. */
export async function provisionMeter(api: Api, meterId: string, capacityKw = '5', location?: string): Promise<ProvisionedMeter> {
  const reply = await adminCall(api, 'POST', '/admin/meters', { meterId, capacityKw, ...(location && { location }) });
  expect(reply.statusCode, reply.body).toBe(201);
  const { deviceKey, pairingCode } = reply.json();
  return { meterId, deviceKey, pairingCode };
}

/**
 * Provisions a meter and has `account` claim it with its pairing code; `claimedDaysAgo` moves
 * the claim back in time (a settlement covers only time after the claim).
 */
export async function ownMeter(api: Api, account: Account, meterId: string, capacityKw = '5', claimedDaysAgo = 10): Promise<ProvisionedMeter> {
  const meter = await provisionMeter(api, meterId, capacityKw);
  const claimed = await api.app.inject({ method: 'POST', url: '/meters', headers: account.headers, payload: { meterId, pairingCode: meter.pairingCode } });
  expect(claimed.statusCode, claimed.body).toBe(201);
  await api.db.query(`update smart_meter set claimed_at = now() - make_interval(days => ?) where meter_id = ?`, [claimedDaysAgo, meterId]);
  return meter;
}

/** POSTs `payload` (an object, or JSON text as it is) signed with `key` at `timestamp`, as a meter or the gateway does. */
export function signedPost(api: Api, url: string, key: string, payload: object | string, timestamp: number = Date.now()): Promise<LightMyRequestResponse> {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return api.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: signBody(key, timestamp, body) },
    payload: body,
  });
}

let lastTimestamp = 0;
/** A signing time newer than any before it in this process, as a meter's clock gives. */
export function nextTimestamp(): number {
  lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
  return lastTimestamp;
}

/** The meter sends a settlement, signed with its device key. */
export function settle(api: Api, meter: ProvisionedMeter, payload: object | string, timestamp = nextTimestamp()): Promise<LightMyRequestResponse> {
  return signedPost(api, `/meters/${meter.meterId}/settlements`, meter.deviceKey, payload, timestamp);
}

/** The newest admin audit entries of one action, newest first. */
export async function auditEntries(api: Api, action: string): Promise<Array<Record<string, any>>> {
  return api.db.query('select action, outcome, status_code, params, result from enerlink_admin_audit where action = ? order by id desc', [action]);
}
