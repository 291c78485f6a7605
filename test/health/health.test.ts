import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { migratorOf } from '../../src/schema/enerlink-migrator.ts';
import { buildTestApp, createTestDatabase, type TestDatabase } from '../helper.ts';

describe('health endpoints', () => {
  let db: TestDatabase;
  let app: FastifyInstance;

  beforeAll(async () => {
    db = await createTestDatabase('health');
    app = await buildTestApp(db);
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
  });

  it('live answers as soon as the process runs', async () => {
    const reply = await app.inject('/health/live');
    expect(reply.statusCode).toBe(200);
    expect(reply.json()).toEqual({ status: 'ok' });
  });

  it('ready is 503 naming the pending migrations, then 200 once they are applied', async () => {
    const before = await app.inject('/health/ready');
    expect(before.statusCode).toBe(503);
    expect(before.json()).toMatchObject({
      status: 'not_ready',
      database: 'up',
      pendingMigrations: [
        'Migration20241102000000_InitialSchema',
        'Migration20241102000001_RenameProsumerToUser',
        'Migration20241102000002_AddCompositeIndexes',
        'Migration20261121000001_CacheOutbox',
        'Migration20261201000001_MarketIntegrity',
        'Migration20261202000001_LimitDefaults',
      ],
    });
    await migratorOf(app.orm).up();
    const after = await app.inject('/health/ready');
    expect(after.statusCode).toBe(200);
    expect(after.json()).toEqual({ status: 'ready', unknownMigrations: [], database: 'up', migrating: false, pendingMigrations: [], redis: 'ready' });
  });
});
