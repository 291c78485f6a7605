import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { AppConfig } from '../src/config.ts';
import { migratorOf } from '../src/schema/enerlink-migrator.ts';
import { buildTestApp, createTestDatabase, type TestDatabase } from './helper.ts';

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
  await migratorOf(app.orm).up();
  return {
    db,
    app,
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
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
    (select coalesce(sum(energy_balance), 0)::text from wallet) as energy, (select coalesce(sum(idrs_balance), 0)::text from wallet) as idrs`);
  return row;
}
