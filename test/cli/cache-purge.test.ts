import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.ts';
import { runCommand } from '../processes.ts';
import { countKeys, setKeys } from '../redis-keys.ts';

/** Runs `npm run cache:purge -- <args>` as an operator would. */
const cachePurge = (args: string[], env: Record<string, string> = {}) => runCommand(['src/cli/cache-purge.ts', ...args], env);

describe('npm run cache:purge', () => {
  const namespace = `enerlink_test_purgecli_${randomBytes(4).toString('hex')}`;
  const neighbours = [`${namespace}x:gen1:user:u1`, `other_${namespace}:gen1:user:u1`, namespace];
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(loadConfig({ ...process.env, NODE_ENV: 'test' }).redisUrl);
  });
  afterAll(async () => {
    await redis.del(...neighbours);
    redis.disconnect();
  });

  it('deletes every key of the namespace, of every generation, and nothing else', async () => {
    await setKeys(redis, [...Array.from({ length: 2500 }, (_, n) => `${namespace}:gen${n % 3}:user:u${n}`), ...neighbours]);
    const result = await cachePurge(['--namespace', namespace]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(new RegExp(`^Purged 2500 key\\(s\\) of namespace ${namespace} in \\d+ ms\\n$`));
    expect(await countKeys(redis, `${namespace}:*`)).toBe(0);
    expect(await redis.exists(...neighbours)).toBe(neighbours.length);
  });

  it('purges CACHE_PREFIX without --namespace', async () => {
    await redis.set(`${namespace}:gen1:wallet:0x1`, '{}', 'EX', 600);
    const result = await cachePurge([], { CACHE_PREFIX: namespace });
    expect(result.stdout).toMatch(`Purged 1 key(s) of namespace ${namespace}`);
  });

  it.each([
    [['--namespace', 'enerlink:*'], `enerlink: Invalid --namespace: expected letters, digits, '_', '.' or '-' (starting with a letter or digit), got "enerlink:*"`],
    [['--namespace'], `enerlink: Option '--namespace <value>' argument missing; usage: npm run cache:purge [-- --namespace <name>]`],
    [['--all'], `enerlink: Unknown option '--all'; usage: npm run cache:purge [-- --namespace <name>]`],
  ])('refuses %j with one line and exit code 1', async (args, message) => {
    const result = await cachePurge(args);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`${message}\n`);
  });

  it('an unreachable Redis is one line and exit code 1', async () => {
    const result = await cachePurge([], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('enerlink: cannot reach Redis (connect ECONNREFUSED 127.0.0.1:1); is Redis running and REDIS_URL right?\n');
  });
});
