import { randomBytes } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { loadConfig, type AppConfig } from '../../src/config.ts';
import { buildTestApp, migrateTestDatabase, createLegacyDatabase, createTestDatabase, type TestDatabase } from '../helper.ts';

/** The app of one admin test: its database, its token, and how to call it. */
export interface AdminApi {
  db: TestDatabase;
  app: FastifyInstance;
  config: AppConfig;
  token: string;
  /** Calls the app with the admin token (unless `headers` says otherwise). */
  call: (method: 'GET' | 'POST', url: string, payload?: unknown, headers?: Record<string, string>) => Promise<LightMyRequestResponse>;
  close: () => Promise<void>;
}

export interface AdminApiOptions {
  /** Start from the deployed legacy schema instead of an empty database. */
  legacy?: boolean;
  /** Apply every migration before the test (default true). */
  migrate?: boolean;
  /** A migrations folder of the test's own. */
  migrationsPath?: string;
  /** More environment variables. */
  env?: Record<string, string>;
  /** Another app on this database (a second instance) instead of a new database. */
  db?: TestDatabase;
}

/** An admin token as an operator would make one. */
export const newToken = () => randomBytes(32).toString('base64url');

export async function startAdminApi(label: string, options: AdminApiOptions = {}): Promise<AdminApi> {
  const { legacy = false, migrate = true, migrationsPath, env = {} } = options;
  const db = options.db ?? (legacy ? await createLegacyDatabase(label) : await createTestDatabase(label));
  const token = env.ADMIN_TOKEN ?? newToken();
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    CACHE_PREFIX: db.name,
    ADMIN_TOKEN: token,
    // the tests send thousands of requests from one address; the rate limit has a test of its own
    ADMIN_RATE_LIMIT_PER_MINUTE: '1000000',
    ...env,
  });
  const app = await buildTestApp(db, config, migrationsPath);
  if (migrate) await migrateTestDatabase(app.orm);
  const call: AdminApi['call'] = (method, url, payload, headers = { authorization: `Bearer ${token}` }) => {
    const request: InjectOptions = { method, url, headers };
    if (payload !== undefined) request.payload = payload as InjectOptions['payload'];
    return app.inject(request);
  };
  return {
    db,
    app,
    config,
    token,
    call,
    close: async () => {
      await app.close();
      if (!options.db) await db.drop();
    },
  };
}

/** The names recorded in MikroORM's migrations table, each with how many times. */
export async function recordedMigrations(db: TestDatabase): Promise<Record<string, number>> {
  const rows = await db.query(`select name, count(*)::int as count from mikro_orm_migrations group by name order by name`).catch(() => []);
  return Object.fromEntries(rows.map(row => [row.name, row.count]));
}

/** The newest audit entries, newest first, straight from the table. */
export async function auditRows(db: TestDatabase, limit = 10): Promise<Array<Record<string, any>>> {
  return db.query(`select * from enerlink_admin_audit order by id desc limit ${limit}`);
}
