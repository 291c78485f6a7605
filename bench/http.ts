// npm run bench:http: requests per second and p99 latency of GET /users/:userId, POST /trades (taking offers) and
// an admin read (GET /admin/migrations: token, rate limit, audit row) against a bare Fastify route returning a constant, in the same run, on a seeded database.
// Then, side by side, GET /users/me alone and while BENCH_HTTP_LOGIN_STORM (50) connections send
// wrong logins (bcrypt at cost 10 each): what a burst of password guesses costs everyone else.
//
// The dataset is made with SQL in a temporary database: BENCH_HTTP_USERS users (default 500),
// each with a funded wallet and a meter (funded far beyond what the seeder's fixtures hold, so
// trades never run dry). GET /users/:userId is measured on two servers of the same build: one
// with Redis (cached reads) and one whose REDIS_URL points at a closed port, so every read and
// every blacklist check goes to PostgreSQL (uncached).
//
// POST /trades is set next to pgbench (TPC-B-like, shipped with PostgreSQL) on a database of its
// own, with the same client count and duration, right after it: what this PostgreSQL does with
// that many clients of short write transactions, the ceiling a trade is compared with.
import { execFile, fork } from 'node:child_process';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { hashPassword } from '../src/auth/passwords.ts';
import { createTestDatabase, createTestOrm, migrateTestDatabase } from '../test/helper.ts';

const USERS = Number(process.env.BENCH_HTTP_USERS ?? 500);
const DURATION = Number(process.env.BENCH_HTTP_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_HTTP_CONNECTIONS ?? 20);
// Each scenario's warm-up: long enough for the server's JIT to settle. The CPU a trade costs the
// server fell for about 10 s after the first trades (from about 1.5 ms to 0.6 ms); the other
// scenarios settle within 2 s. pgbench gets the same warm-up.
const WARMUP = Number(process.env.BENCH_HTTP_WARMUP ?? 8);
const TRADERS = Math.min(USERS, 100);
const LOGIN_STORM = Number(process.env.BENCH_HTTP_LOGIN_STORM ?? 50);
const INTERLEAVED_TURNS = 5;
const INTERLEAVED_SECONDS = 2;
// unmeasured, before each turn's measured seconds: a server idle during the other's turn starts
// cold (the in-process tier's entries expire after CACHE_LOCAL_TTL_MS), and a turn should
// measure steady traffic, as the table's scenarios do after their warm-up
const INTERLEAVED_WARMUP_SECONDS = 1;
// the cost new accounts get by default (BCRYPT_ROUNDS): what a wrong guess costs the server
const PASSWORD_COST = 10;
const PASSWORD = 'bench password';
const ADMIN_TOKEN = 'bench-admin-token-bench-admin-token-bench';

const userId = (n: number) => `user_bench_${String(n).padStart(6, '0')}`;
const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)];

/** pgbench's tps on `url` (initialised at scale 10, the same warm-up first), or the one line saying pgbench is not on PATH. */
async function pgbench(url: string): Promise<{ tps: number; transactions: number } | { missing: string }> {
  const run = promisify(execFile);
  try {
    await run('pgbench', ['-i', '-q', '-s', '10', url]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { missing: 'pgbench is not on PATH (it ships with PostgreSQL): the trades ratio is not measured' };
    throw error;
  }
  const clients = ['-c', String(CONNECTIONS), '-j', '2'];
  await run('pgbench', [...clients, '-T', String(WARMUP), url]); // warm-up, as autocannon's
  const { stdout } = await run('pgbench', [...clients, '-T', String(DURATION), url]);
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  const transactions = /number of transactions actually processed: (\d+)/.exec(stdout);
  if (!tps || !transactions) throw new Error(`pgbench printed no tps: ${stdout}`);
  return { tps: Number(tps[1]), transactions: Number(transactions[1]) };
}

const db = await createTestDatabase('bench_http');
const pgbenchDb = await createTestDatabase('bench_pgbench');
const servers: Array<ReturnType<typeof fork>> = [];
try {
  const orm = await createTestOrm(db);
  await migrateTestDatabase(orm); // with the reference data, as a deployed database has
  await orm.close();
  const hash = await hashPassword(PASSWORD, PASSWORD_COST);
  await db.query(`insert into "user" (user_id, name, email, password_hash)
    select 'user_bench_' || lpad(g::text, 6, '0'), 'Bench User ' || g, 'bench' || g || '@example.test', $1
    from generate_series(1, ${USERS}) g`, [hash]);
  await db.query(`insert into wallet (wallet_address, user_id, wallet_name, energy_balance, idrs_balance, is_active)
    select '0x' || lpad(to_hex(g), 40, '0'), 'user_bench_' || lpad(g::text, 6, '0'), 'Main wallet', 1000000, 1000000000, true
    from generate_series(1, ${USERS}) g`);
  await db.query(`insert into smart_meter (meter_id, user_id, location, capacity_kw)
    select 'MTR-' || lpad(g::text, 10, '0'), 'user_bench_' || lpad(g::text, 6, '0'), 'Jakarta ' || (g % 50), 5
    from generate_series(1, ${USERS}) g`);
  await db.query('vacuum analyze');

  const startServer = async (env: Record<string, string>) => {
    // production, as deployed: its defaults, its logging (one line a request, written to stdout,
    // which goes to /dev/null here: the cost of writing the lines is measured, not of shipping them)
    // and the secrets it requires; it applies no migration itself (the bench did, above)
    const server = fork(new URL('./http-server.ts', import.meta.url), [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, NODE_ENV: 'production', DATABASE_URL: db.url, JWT_SECRET: 'bench-secret-bench-secret-bench-secret',
        PAYMENT_WEBHOOK_SECRET: 'bench-webhook-secret-bench-webhook-secret', MIGRATIONS_RUN: 'false',
        ADMIN_TOKEN, ADMIN_RATE_LIMIT_PER_MINUTE: '1000000',
        // the logins of the traders and the storm of wrong ones come from one address: measure the
        // hashing, not the login limits (which would answer most of the storm with 429)
        LOGIN_RATE_LIMIT_PER_ADDRESS: '1000000', LOGIN_RATE_LIMIT_PER_ACCOUNT: '1000000', ...env },
    });
    servers.push(server);
    return new Promise<{ app: number; bare: number }>((resolve, reject) => {
      server.once('message', message => resolve(message as { app: number; bare: number }));
      server.once('exit', code => reject(new Error(`bench server exited with ${code}`)));
    });
  };
  const ports = await startServer({});
  const uncachedPorts = await startServer({ REDIS_URL: 'redis://127.0.0.1:1' });
  const appUrl = `http://127.0.0.1:${ports.app}`;

  const tokens: string[] = [];
  for (let n = 1; n <= TRADERS; n++) {
    const reply = await fetch(`${appUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `bench${n}@example.test`, password: PASSWORD }),
    });
    if (reply.status !== 200) throw new Error(`login of bench user ${n} failed: ${reply.status} ${await reply.text()}`);
    tokens.push(((await reply.json()) as { token: string }).token);
  }

  const run = async (title: string, url: string, request: autocannon.Request, during?: () => Promise<unknown>) => {
    await autocannon({ url, connections: CONNECTIONS, duration: WARMUP, requests: [request] }); // warm-up
    const [result] = await Promise.all([autocannon({ url, connections: CONNECTIONS, duration: DURATION, requests: [request] }), during?.()]);
    const failed = result.non2xx + result.errors + result.timeouts;
    if (failed > 0) throw new Error(`${title}: ${failed} of ${result.requests.total} requests failed`);
    return { title, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total };
  };

  const bare = await run('bare Fastify GET /bare (constant)', `http://127.0.0.1:${ports.bare}`, { method: 'GET', path: '/bare' });
  const userRead: autocannon.Request = {
    method: 'GET',
    setupRequest: request => ({
      ...request,
      path: `/users/${userId(1 + Math.floor(Math.random() * USERS))}`,
      headers: { authorization: `Bearer ${pick(tokens)}` },
    }),
  };
  const uncached = await run('GET /users/:userId (uncached)', `http://127.0.0.1:${uncachedPorts.app}`, userRead);
  const cached = await run('GET /users/:userId (cached)', appUrl, userRead);
  // The same ratio, measured in alternation: bare and cached in turns of INTERLEAVED_SECONDS
  // (each after INTERLEAVED_WARMUP_SECONDS unmeasured), so
  // that a change in what else loads the machine weighs on both sides alike (the scenarios
  // above run one after the other, tens of seconds apart).
  const interleaved: Array<{ bare: number; cached: number }> = [];
  for (let turn = 0; turn < INTERLEAVED_TURNS; turn++) {
    const slice = async (url: string, request: autocannon.Request) => {
      await autocannon({ url, connections: CONNECTIONS, duration: INTERLEAVED_WARMUP_SECONDS, requests: [request] });
      const result = await autocannon({ url, connections: CONNECTIONS, duration: INTERLEAVED_SECONDS, requests: [request] });
      if (result.non2xx + result.errors + result.timeouts > 0) throw new Error(`interleaved ${url}: requests failed`);
      return result.requests.average;
    };
    interleaved.push({ bare: await slice(`http://127.0.0.1:${ports.bare}`, { method: 'GET', path: '/bare' }), cached: await slice(appUrl, userRead) });
  }
  const interleavedRatios = interleaved.map(turn => turn.cached / turn.bare).sort((a, b) => a - b);
  // Trades take offers: each trader offers 100,000 kWh (of its 1,000,000) at 1,500 IDRS/kWh, and
  // every request takes 0.001 kWh of another trader's offer.
  await db.query(`insert into market_offer (seller_user_id, energy_kwh, remaining_kwh, price_idrs_per_kwh, status, expires_at)
    select 'user_bench_' || lpad(g::text, 6, '0'), 100000, 100000, 1500, 'OPEN', now() + interval '1 day'
    from generate_series(1, ${TRADERS}) g order by g`);
  const offerOf = new Map((await db.query('select offer_id::text, seller_user_id from market_offer')).map(row => [row.seller_user_id, row.offer_id as string]));
  const trades = await run('POST /trades (taking offers)', appUrl, {
    method: 'POST',
    setupRequest: request => {
      const buyer = Math.floor(Math.random() * TRADERS);
      const seller = (buyer + 1 + Math.floor(Math.random() * (TRADERS - 1))) % TRADERS;
      return {
        ...request,
        path: '/trades',
        headers: { authorization: `Bearer ${tokens[buyer]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ offerId: offerOf.get(userId(seller + 1)), energyKwh: '0.001' }),
      };
    },
  });
  // the trade desk settles takes in batches: one transaction id (xmin) per batch
  const [{ transactions: tradeTransactions }] = await db.query(`select count(distinct xmin::text)::int as transactions from market_trade`);
  const tpcb = await pgbench(pgbenchDb.url);
  // what the offers gave up is what the trades took: no kWh taken twice
  const [offered] = await db.query(`select (select sum(energy_kwh - remaining_kwh) from market_offer)::text as taken,
    (select sum(traded_energy_kwh) from market_trade)::text as traded`);
  if (offered.taken !== offered.traded) throw new Error(`offers gave up ${offered.taken} kWh but trades took ${offered.traded}`);

  const admin = await run('GET /admin/migrations (+ audit row)', appUrl, {
    method: 'GET',
    path: '/admin/migrations',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const [{ audited }] = await db.query(`select count(*)::int as audited from enerlink_admin_audit`);

  const me: autocannon.Request = { method: 'GET', setupRequest: request => ({ ...request, path: '/users/me', headers: { authorization: `Bearer ${pick(tokens)}` } }) };
  const meAlone = await run('GET /users/me (cached)', appUrl, me);
  let storm: autocannon.Result | undefined;
  const meDuringStorm = await run('GET /users/me, 50 wrong logins', appUrl, me, async () => {
    storm = await autocannon({
      url: appUrl,
      connections: LOGIN_STORM,
      duration: DURATION,
      requests: [{
        method: 'POST',
        setupRequest: request => ({
          ...request,
          path: '/auth/login',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: `bench${1 + Math.floor(Math.random() * USERS)}@example.test`, password: 'wrong password' }),
        }),
      }],
    });
  });

  const [conservation] = await db.query(`select sum(energy_balance)::text as energy, sum(idrs_balance)::text as idrs,
    (select count(*) from market_trade)::int as trades, (select count(*) from transaction_log)::int as logs from wallet`);

  console.log(`enerlink bench:http: ${USERS} seeded users, ${CONNECTIONS} connections, ${DURATION} s per scenario after a ${WARMUP} s warm-up`);
  console.log(`${'scenario'.padEnd(36)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'req/s vs bare'.padStart(14)} ${'p99 vs bare'.padStart(12)}`);
  for (const row of [bare, uncached, cached, trades, admin, meAlone, meDuringStorm]) {
    console.log(
      `${row.title.padEnd(36)} ${row.rps.toFixed(0).padStart(9)} ${row.p50.toFixed(0).padStart(7)} ${row.p99.toFixed(0).padStart(7)} ` +
        `${(row.rps / bare.rps).toFixed(3).padStart(14)} ${(row.p99 / Math.max(bare.p99, 1)).toFixed(1).padStart(12)}`,
    );
  }
  console.log(
    `GET /users/:userId cached / bare, interleaved (${INTERLEAVED_TURNS} turns of ${INTERLEAVED_SECONDS} s each after ${INTERLEAVED_WARMUP_SECONDS} s unmeasured): median ` +
      `${interleavedRatios[Math.floor(INTERLEAVED_TURNS / 2)].toFixed(3)} (${interleavedRatios[0].toFixed(3)} to ${interleavedRatios.at(-1)!.toFixed(3)}); ` +
      `bare ${interleaved.map(turn => turn.bare.toFixed(0)).join(' ')}, cached ${interleaved.map(turn => turn.cached.toFixed(0)).join(' ')} req/s`,
  );
  console.log(
    `GET /users/:userId cached / uncached: ${(cached.rps / uncached.rps).toFixed(2)}x the requests per second, ` +
      `p99 ${cached.p99.toFixed(0)} ms against ${uncached.p99.toFixed(0)} ms`,
  );
  console.log(
    `POST /trades: ${trades.total} trades measured (${conservation.trades} market_trade rows with the warm-up, ${conservation.logs} log rows); ` +
      `total energy ${conservation.energy} kWh and IDRS ${conservation.idrs} (seeded ${USERS * 1_000_000}.000000 and ${USERS * 1_000_000_000}.00); ` +
      `offers gave up ${offered.taken} kWh, trades took ${offered.traded} kWh; ` +
      `settled in ${tradeTransactions} transactions, ${(conservation.trades / tradeTransactions).toFixed(1)} trades each (TRADE_BATCH_MAX ${process.env.TRADE_BATCH_MAX ?? 'default'})`,
  );
  console.log(
    'missing' in tpcb
      ? tpcb.missing
      : `POST /trades / pgbench (TPC-B-like, scale 10, ${CONNECTIONS} clients, -j 2, ${DURATION} s, on its own database): ` +
          `${trades.rps.toFixed(0)} trades/s against ${tpcb.tps.toFixed(0)} tps (${tpcb.transactions} transactions) = ${(trades.rps / tpcb.tps).toFixed(3)} (goal >= 0.5)`,
  );
  console.log(`GET /admin/migrations: ${admin.total} requests measured, ${audited} audit rows written (with the warm-up)`);
  console.log(
    `GET /users/me p99 ${meAlone.p99.toFixed(0)} ms alone, ${meDuringStorm.p99.toFixed(0)} ms during ${LOGIN_STORM} concurrent wrong logins ` +
      `(${storm!.requests.total} answered, ${storm!.statusCodeStats?.['401']?.count ?? 0} of them 401, p99 ${storm!.latency.p99.toFixed(0)} ms, bcrypt cost ${PASSWORD_COST})`,
  );
} finally {
  for (const server of servers) {
    if (server.exitCode !== null) continue;
    server.kill('SIGTERM');
    await new Promise(resolve => server.once('exit', resolve));
  }
  await db.drop();
  await pgbenchDb.drop();
}
