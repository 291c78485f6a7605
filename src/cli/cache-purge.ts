// npm run cache:purge [-- --namespace <name>]: deletes every cache entry of a namespace (by
// default CACHE_PREFIX), whatever its generation, and nothing else: SCAN MATCH + UNLINK in
// batches, never FLUSHALL. The service does this by itself after schema changes; this is for
// operators. Entries come back as they are read again.
import { parseArgs } from 'node:util';
import { purgeNamespace } from '../cache/cache-purge.ts';
import { describeBadNamespace, loadConfigOrExit } from '../config.ts';
import { createRedis } from '../db/redis.ts';
import { exitOnFailure } from './errors.ts';

const config = loadConfigOrExit();

let namespace: string;
try {
  const { values } = parseArgs({ options: { namespace: { type: 'string' } }, allowPositionals: false, strict: true });
  namespace = values.namespace ?? config.cachePrefix;
} catch (error) {
  process.stderr.write(`enerlink: ${(error as Error).message.split('\n')[0]}; usage: npm run cache:purge [-- --namespace <name>]\n`);
  process.exit(1);
}
const problem = describeBadNamespace(namespace);
if (problem) {
  process.stderr.write(`enerlink: Invalid --namespace: ${problem}, got ${JSON.stringify(namespace)}\n`);
  process.exit(1);
}

const redis = createRedis(config);
let connectionError: Error | undefined;
redis.on('error', error => void (connectionError ??= error));
try {
  await redis.connect();
} catch (error) {
  process.stderr.write(`enerlink: cannot reach Redis (${(connectionError ?? (error as Error)).message}); is Redis running and REDIS_URL right?\n`);
  process.exit(1);
}

await exitOnFailure(async () => {
  try {
    const started = performance.now();
    const { deleted } = await purgeNamespace(redis, namespace);
    console.log(`Purged ${deleted} key(s) of namespace ${namespace} in ${Math.round(performance.now() - started)} ms`);
  } finally {
    redis.disconnect();
  }
});
