import { buildApp } from './app.ts';
import { describeError } from './cli/errors.ts';
import { loadConfigOrExit } from './config.ts';
import { createOrm, migratorOf } from './db/orm.ts';
import { createRedis } from './db/redis.ts';

// The process lifecycle: configuration, connections, migrations, listening, shutdown.
const config = loadConfigOrExit();
const orm = await createOrm(config);
try {
  await orm.connect();
  await orm.em.getConnection().execute('select 1');
} catch (error) {
  process.stderr.write(`enerlink: ${describeError(error)}\n`);
  process.exit(1);
}

const redis = createRedis(config);
const app = await buildApp({ config, orm, redis });
redis.connect().catch(() => {
  // reported by the redis plugin; the service runs uncached until Redis is back
});

try {
  const applied = await migratorOf(orm).up();
  app.log.info({ migrations: applied.map(m => m.name) }, applied.length ? 'migrations applied' : 'schema is current');
} catch (error) {
  app.log.fatal({ err: error }, 'migration failed');
  process.stderr.write(`enerlink: ${describeError(error)}\n`);
  await app.close();
  process.exit(1);
}

await app.listen({ port: config.port, host: config.host });

let closing = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    await app.close();
    process.exit(0);
  });
}
