// The server side of `npm run bench:http`, in its own process so that the load generator does
// not share its event loop: the enerlink app and a bare Fastify app, both on 127.0.0.1.
import Fastify, { type FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createOrm } from '../src/orm.ts';
import { createRedis } from '../src/db/redis.ts';

// the environment's own settings (bench/http.ts runs it in production, with its logging)
const config = loadConfig({ ...process.env, HOST: '127.0.0.1', PORT: '0' });
const orm = await createOrm(config, { migrations: { silent: true } });
await orm.connect();
const redis = createRedis(config);
await redis.connect().catch(() => {});
const app = await buildApp({ config, orm, redis });
await app.listen({ host: '127.0.0.1', port: 0 });

const bare = Fastify({ logger: false });
bare.get('/bare', { schema: { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => ({ ok: true }));
await bare.listen({ host: '127.0.0.1', port: 0 });

const portOf = (server: FastifyInstance) => (server.server.address() as { port: number }).port;
process.send!({ app: portOf(app), bare: portOf(bare) });

process.on('SIGTERM', async () => {
  await Promise.all([app.close(), bare.close()]);
  process.exit(0);
});
