// npm run bench:live-migration: a schema-change day, measured.
//
// For each size in BENCH_LIVE_USERS (default 10,000 and 1,000,000 users, each with a wallet and
// a meter, made with SQL in a temporary database):
// - the CLI's wall time, with no load, for the next release's migrations (a column added to
//   wallet, an index built CONCURRENTLY on transaction_log) up and down, and the rename down and
//   up (`npx mikro-orm migration:down|up --only ...`), each a process with only DATABASE_URL;
// - at the largest size, a running service (NODE_ENV=production) under steady open-loop load from
//   another process (BENCH_LIVE_RATE requests/s, half POST /trades, half cached GET /users/:id):
//   a window before, then for each DDL lock_timeout in BENCH_LIVE_LOCK_TIMEOUTS the next release
//   (buyers taking a little of each other's offers) up and down while a long transaction holds a row of wallet for 5 s (the hard case: the ALTER
//   must wait, and live requests must not queue behind it). Printed per window: req/s, p50/p99,
//   errors, and the longest wait of a live request on a lock (pg_stat_activity, every 10 ms).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { hashPassword } from '../src/auth/passwords.ts';
import { loadConfig } from '../src/config.ts';
import { createTestDatabase, createTestOrm, migrateTestDatabase, type TestDatabase } from '../test/helper.ts';
import { migrationSource, migrationsFolder, MIKRO_ORM_CLI } from '../test/processes.ts';

const SIZES = (process.env.BENCH_LIVE_USERS ?? '10000,1000000').split(',').map(Number);
const RATE = Number(process.env.BENCH_LIVE_RATE ?? 50);
const DEFAULT_LOCK_TIMEOUT = loadConfig({ NODE_ENV: 'development' }).migrationDdlLockTimeoutMs;
const LOCK_TIMEOUTS = (process.env.BENCH_LIVE_LOCK_TIMEOUTS ?? `3000,500,${DEFAULT_LOCK_TIMEOUT}`).split(',').map(Number);
const TRADERS = 20;
const PASSWORD = 'bench password';
const RENAME = 'Migration20241102000001_RenameProsumerToUser';
const ADMIN_TOKEN = 'bench-admin-token-bench-admin-token-bench';
const JWT_SECRET = 'bench-secret-bench-secret-bench-secret';
const PAYMENT_WEBHOOK_SECRET = 'bench-webhook-secret-bench-webhook-secret';
const root = new URL('..', import.meta.url).pathname;
const NEXT_COLUMN = 'Migration20991231000001_AddWalletNote';
const NEXT_INDEX = 'Migration20991231000002_IndexTransactionLogTimestamp';

const userId = (n: number) => `user_live_${String(n).padStart(7, '0')}`;
const walletOf = (n: number) => `0x${n.toString(16).padStart(40, '0')}`;

function nextRelease() {
  return migrationsFolder({
    [`${NEXT_COLUMN}.ts`]: migrationSource(NEXT_COLUMN, ['alter table wallet add column note text'], ['alter table wallet drop column note']),
    [`${NEXT_INDEX}.ts`]: `import { Migration } from '@mikro-orm/migrations';
export class ${NEXT_INDEX} extends Migration {
  override isTransactional(): boolean { return false; }
  override async up(): Promise<void> {
    this.addSql('drop index concurrently if exists idx_transactionlog_timestamp');
    this.addSql('create index concurrently idx_transactionlog_timestamp on transaction_log (transaction_timestamp)');
  }
  override async down(): Promise<void> { this.addSql('drop index concurrently if exists idx_transactionlog_timestamp'); }
}
`,
  });
}

async function fill(db: TestDatabase, users: number): Promise<void> {
  const hash = await hashPassword(PASSWORD, 4);
  await db.query(`insert into "user" (user_id, name, email, password_hash)
    select 'user_live_' || lpad(g::text, 7, '0'), 'Household ' || g, 'live' || g || '@example.test', $1 from generate_series(1, ${users}) g`, [hash]);
  await db.query(`insert into wallet (wallet_address, user_id, wallet_name, energy_balance, idrs_balance, is_active)
    select '0x' || lpad(to_hex(g), 40, '0'), 'user_live_' || lpad(g::text, 7, '0'), 'Main wallet', 1000000, 1000000000, true from generate_series(1, ${users}) g`);
  await db.query(`insert into smart_meter (meter_id, user_id, location, capacity_kw)
    select 'MTR-' || lpad(g::text, 10, '0'), 'user_live_' || lpad(g::text, 7, '0'), 'Jakarta', 5 from generate_series(1, ${users}) g`);
  await db.query('vacuum analyze');
}

/** Runs `node <args>` with only the database reachable; resolves with its wall time, or throws with its stderr. */
async function timed(args: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', chunk => (stderr += chunk));
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve));
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}: ${stderr}`);
  return performance.now() - started;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise(resolve => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise(resolve => server.close(resolve));
  return port;
}

interface Window {
  label: string;
  from: number;
  to: number;
}

function stats(results: Array<[number, number, number]>, window: Window, lockWaits: Array<[number, number]>) {
  const inside = results.filter(([due]) => due >= window.from && due < window.to);
  const latencies = inside.map(([, latency]) => latency).sort((a, b) => a - b);
  const quantile = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const failed = inside.filter(([, , status]) => status < 200 || status >= 300);
  const errors = failed.length;
  const errorStatuses = [...new Set(failed.map(([, , status]) => status))].join(' ');
  const longestLockWait = Math.max(0, ...lockWaits.filter(([at]) => at >= window.from && at < window.to).map(([, wait]) => wait));
  return { reqPerSec: inside.length / ((window.to - window.from) / 1000), p50: quantile(0.5), p99: quantile(0.99), errors, errorStatuses, longestLockWait };
}

const cliEnv = (db: TestDatabase) => ({ DATABASE_URL: db.url, REDIS_URL: 'redis://127.0.0.1:1', NODE_ENV: 'development', LOG_LEVEL: 'silent' });

const cliTimes: Array<{ users: number; nextUp: number; nextDown: number; renameDown: number; renameUp: number }> = [];
let traffic: Array<{ window: string } & ReturnType<typeof stats>> = [];
const folder = nextRelease();
try {
  for (const users of SIZES) {
    const db = await createTestDatabase(`bench_live_${users}`);
    try {
      const orm = await createTestOrm(db);
      await migrateTestDatabase(orm);
      await orm.close();
      const filled = performance.now();
      await fill(db, users);
      console.log(`${users.toLocaleString('en')} users filled in ${((performance.now() - filled) / 1000).toFixed(1)} s`);
      const env = cliEnv(db);
      const times = {
        users,
        nextUp: await timed(['bench/fixtures/next-release-cli.ts', folder.path, 'up'], env),
        nextDown: await timed(['bench/fixtures/next-release-cli.ts', folder.path, 'down', '2'], env),
        renameDown: await timed([MIKRO_ORM_CLI, 'migration:down', '--only', RENAME], env),
        renameUp: await timed([MIKRO_ORM_CLI, 'migration:up', '--only', RENAME], env),
      };
      cliTimes.push(times);
      if (users === Math.max(...SIZES)) traffic = await underLoad(db);
    } finally {
      await db.drop();
    }
  }
} finally {
  folder.remove();
}

console.log('\nCLI wall time (ms), no load; each a process with only DATABASE_URL');
console.table(cliTimes.map(t => Object.fromEntries(Object.entries(t).map(([key, value]) => [key, key === 'users' ? value : Math.round(value)]))));
if (cliTimes.length >= 2) {
  const [small, large] = [cliTimes[0], cliTimes.at(-1)!];
  const total = (t: (typeof cliTimes)[number]) => t.nextUp + t.nextDown + t.renameDown + t.renameUp;
  console.log(`ratio ${large.users.toLocaleString('en')}/${small.users.toLocaleString('en')} users: ${(total(large) / total(small)).toFixed(2)} (goal < 1.5)`);
}
console.log(`\nLive traffic (${RATE} req/s, half trades, half cached reads), by window`);
console.table(traffic.map(row => ({ ...row, reqPerSec: Math.round(row.reqPerSec), p50: +row.p50.toFixed(1), p99: +row.p99.toFixed(1), longestLockWait: Math.round(row.longestLockWait) })));
const before = traffic.find(row => row.window === 'before');
for (const row of traffic.filter(row => row !== before)) {
  console.log(`${row.window}: p99 ${(row.p99 / before!.p99).toFixed(2)}x before (goal <= 2), errors ${row.errors}, longest lock wait ${Math.round(row.longestLockWait)} ms (goal <= 100)`);
}
process.exit(0);

async function underLoad(db: TestDatabase): Promise<Array<{ window: string } & ReturnType<typeof stats>>> {
  const port = await freePort();
  const service = spawn(process.execPath, ['src/server.ts'], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'production', DATABASE_URL: db.url, PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN, JWT_SECRET, PAYMENT_WEBHOOK_SECRET, BACKUP_BEFORE_MIGRATE: 'false' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'enerlink-live-'));
  const watcher = new pg.Client({ connectionString: db.url });
  await watcher.connect();
  try {
    for (let waited = 0; ; waited += 100) {
      const ready = await fetch(`${base}/health/ready`).then(response => response.status, () => 0);
      if (ready === 200) break;
      if (waited > 60_000) throw new Error('the service did not get ready');
      await sleep(100);
    }
    const traders = [];
    for (let n = 1; n <= TRADERS; n++) {
      const reply = await fetch(`${base}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `live${n}@example.test`, password: PASSWORD }),
      });
      const { token } = (await reply.json()) as { token: string };
      // each trader publishes an offer, which the others take a little of
      const offer = await fetch(`${base}/offers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ energyKwh: '1000.000000', priceIdrsPerKwh: '1000.00', expiresAt: new Date(Date.now() + 86_400_000).toISOString() }),
      });
      if (offer.status !== 201) throw new Error(`offer: ${offer.status} ${await offer.text()}`);
      traders.push({ userId: userId(n), token, offerId: ((await offer.json()) as { offerId: string }).offerId });
    }
    const readIds = Array.from({ length: 200 }, (_, i) => userId(1 + i * 7));
    writeFileSync(join(dir, 'fixture.json'), JSON.stringify({ traders, readIds }));
    const output = join(dir, 'results.json');
    const load = spawn(process.execPath, ['bench/fixtures/live-load.ts', base, String(RATE), join(dir, 'fixture.json'), output], { cwd: root, stdio: 'inherit' });

    // the longest current wait of a live request on a table lock (one a waiting DDL makes it
    // queue for; trades waiting for each other's row locks are the market's own contention)
    const lockWaits: Array<[number, number]> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await watcher.query(
          `select coalesce(max(extract(epoch from clock_timestamp() - query_start) * 1000), 0) as wait from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'relation' and pid <> pg_backend_pid()
              and query !~* '^\\s*(alter|create|drop|set|select pg_advisory)' and application_name not like 'enerlink%'`,
        );
        lockWaits.push([Date.now(), Number(rows[0].wait)]);
        await sleep(10);
      }
    })();

    await sleep(3_000); // warm up
    const windows: Window[] = [];
    const start = Date.now();
    await sleep(5_000);
    windows.push({ label: 'before', from: start, to: Date.now() });
    const holdRow = walletOf(TRADERS + 1);
    for (const lockTimeout of LOCK_TIMEOUTS) {
      const env = { ...cliEnv(db), MIGRATION_DDL_LOCK_TIMEOUT_MS: String(lockTimeout), MIGRATION_DDL_RETRIES: '60' };
      const holder = new pg.Client({ connectionString: db.url, application_name: 'bench long transaction' });
      await holder.connect();
      await holder.query('begin');
      await holder.query('select * from wallet where wallet_address = $1 for update', [holdRow]);
      const from = Date.now();
      const release = sleep(5_000).then(() => holder.query('commit'));
      await timed(['bench/fixtures/next-release-cli.ts', folder.path, 'up'], env);
      await release;
      await holder.end();
      await timed(['bench/fixtures/next-release-cli.ts', folder.path, 'down', '2'], env);
      windows.push({ label: `during, lock_timeout ${lockTimeout} ms`, from, to: Date.now() });
      await sleep(1_000);
    }
    load.kill('SIGTERM');
    await new Promise(resolve => load.once('exit', resolve));
    sampling = false;
    await sampler;
    const results = JSON.parse(readFileSync(output, 'utf8')) as Array<[number, number, number]>;
    return windows.map(window => ({ window: window.label, ...stats(results, window, lockWaits) }));
  } finally {
    await watcher.end();
    service.kill('SIGTERM');
    await new Promise(resolve => service.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}
