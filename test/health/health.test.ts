import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { applyReferenceData } from '../../src/lifecycle/schema-lifecycle.ts';
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

  it('ready is 503 naming the pending migrations, then the reference data, then 200 once both are applied', async () => {
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
    const migrated = await app.inject('/health/ready');
    expect(migrated.statusCode).toBe(503);
    expect(migrated.json()).toMatchObject({
      status: 'not_ready',
      pendingMigrations: [],
      pendingReferenceData: ['20261202000001-default-limits'],
      reason: 'reference data not applied: 20261202000001-default-limits (npm run seed:reference)',
    });
    await applyReferenceData(app.orm.em.fork());
    const after = await app.inject('/health/ready');
    expect(after.statusCode).toBe(200);
    expect(after.json()).toEqual({
      status: 'ready',
      unknownMigrations: [],
      database: 'up',
      migrating: false,
      pendingMigrations: [],
      pendingReferenceData: [],
      redis: 'ready',
    });
  });
});
