// npm run bench:seed [-- --users 100000 --runs 3]: seeds N households (a user, a wallet, a smart
// meter, a settlement, a conversion, an offer and their ledger rows), through the seeder (orm.seeder + DatabaseSeeder) into a freshly migrated database, then
// COPYs the same number of equivalent rows straight into another freshly migrated database, in
// the same run. Runs alternate and medians are reported, with the ratio (goal: the seeder at
// least half as fast as COPY) and the seeder's peak memory, measured in a process of its own per
// run, plus one untimed run that collects garbage after every batch to measure what the seeder
// really holds. CPU seconds are printed too: on a shared machine they say more than wall-clock
// time. `--users 20000,100000` compares sizes. `--scenario large-market` measures that scenario's
// seed (the same streaming seed over the scenario's own households) instead of the base set's.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { MikroORM } from '@mikro-orm/postgresql';
import { from as copyFrom } from 'pg-copy-streams';
import { DatabaseSeeder } from '../seeders/DatabaseSeeder.ts';
import { migratorOf } from '../src/schema/enerlink-migrator.ts';
import { seedScenario } from '../src/lifecycle/schema-lifecycle.ts';
import { createFastRandomizer } from '../src/seeding/fixture-set.ts';
import type { SeedReporter } from '../src/seeding/seed-service.ts';
import { createTestDatabase, createTestOrm, type TestDatabase } from '../test/helper.ts';

const args = process.argv.slice(2);
if (args[0] === '--seeder-child') {
  process.stdout.write(JSON.stringify(await seederChild(Number(args[1]), args[2] === 'live-heap', args[3] === 'large-market')));
  process.exit(0);
}
const option = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] ? args[at + 1] : fallback;
};
const sizes = option('users', '100000').split(',').map(Number);
const runs = Number(option('runs', '3'));
const scenario = option('scenario', 'base');
if (!sizes.every(size => Number.isInteger(size) && size > 0) || !(Number.isInteger(runs) && runs > 0) || !['base', 'large-market'].includes(scenario)) {
  process.stderr.write('enerlink: usage: npm run bench:seed -- [--users N[,N...]] [--runs N] [--scenario base|large-market]\n');
  process.exit(1);
}

interface Measure {
  ms: number;
  nodeCpuMs: number;
  pgCpuMs: number | undefined;
  /** Peak resident memory of the process, and its resident memory when the run started. */
  peakRss: number;
  startRss: number;
  /** With `live-heap`: the largest heap left after a full garbage collection at each batch. */
  peakLiveHeap?: number;
  startLiveHeap?: number;
}

async function migrated(label: string): Promise<{ db: TestDatabase; orm: MikroORM }> {
  const db = await createTestDatabase(label);
  const orm = await createTestOrm(db);
  await migratorOf(orm).up();
  await db.query('checkpoint');
  return { db, orm };
}

/** CPU time of the database's server processes, when PostgreSQL runs on this machine. */
async function serverCpuMs(db: TestDatabase): Promise<number | undefined> {
  const sessions = await db.query('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
  try {
    let ticks = 0;
    for (const { pid } of sessions) {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks * 10; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

async function measure(db: TestDatabase, work: () => Promise<void>): Promise<Measure> {
  const startRss = process.memoryUsage.rss();
  const pgBefore = await serverCpuMs(db);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const pgAfter = await serverCpuMs(db);
  return {
    ms,
    nodeCpuMs: (cpu.user + cpu.system) / 1000,
    pgCpuMs: pgBefore === undefined || pgAfter === undefined ? undefined : pgAfter - pgBefore,
    peakRss: process.resourceUsage().maxRSS * 1024,
    startRss,
  };
}

/** One seeder run, in a fresh process so that its peak memory is its own. */
async function seederRun(users: number, liveHeap = false): Promise<Measure> {
  const script = [new URL(import.meta.url).pathname, '--seeder-child', String(users), liveHeap ? 'live-heap' : 'rss', scenario];
  const { stdout } = await promisify(execFile)(process.execPath, [...(liveHeap ? ['--expose-gc'] : []), ...script], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as Measure;
}

async function seederChild(users: number, liveHeap: boolean, largeMarket: boolean): Promise<Measure> {
  const { db, orm } = await migrated(`bench_seed_${users}`);
  try {
    const collect = (globalThis as { gc?: () => void }).gc;
    const heapNow = () => (collect?.(), process.memoryUsage().heapUsed);
    const startLiveHeap = liveHeap ? heapNow() : undefined;
    let peakLiveHeap = startLiveHeap;
    const reporter: SeedReporter = {
      warn() {},
      progress() {
        if (liveHeap) peakLiveHeap = Math.max(peakLiveHeap!, heapNow());
      },
      completed() {},
    };
    const options = { seed: 1, users, trades: 0, allowProduction: false, isProduction: false };
    // the scenario as its seeder class runs it (seedScenario), without the class's printed summary
    const work = largeMarket
      ? async () => void (await seedScenario(orm.em.fork(), 'large-market', options, { reporter }))
      : () => orm.seeder.seed(DatabaseSeeder.with(options, { reporter }));
    return { ...(await measure(db, work)), peakLiveHeap, startLiveHeap };
  } finally {
    await orm.close();
    await db.drop();
  }
}

/**
 * Rows shaped like the fixture set (same columns, widths and random keys), rendered as COPY text
 * before the clock starts, so the baseline is PostgreSQL's COPY alone.
 */
function copyData(users: number): Array<{ sql: string; text: string[] }> {
  const random = createFastRandomizer();
  random.seed(users);
  const hex = (length: number) => {
    let digits = '';
    while (digits.length < length) digits += Math.floor(random.next() * 2 ** 32).toString(16).padStart(8, '0');
    return digits.slice(0, length);
  };
  const hash = '$2b$12$h9kBVCcAQBHv5f4STiELj.Wye7mS0KOfsQ2VmJHv0noMXWslLKaii';
  const tables = {
    user: { sql: 'copy "user" (user_id, name, email, password_hash, created_at, updated_at) from stdin', text: [] as string[] },
    wallet: { sql: 'copy wallet (wallet_address, user_id, wallet_name, energy_balance, idrs_balance, is_active, created_at, updated_at) from stdin', text: [] as string[] },
    meter: {
      sql: 'copy smart_meter (meter_id, user_id, location, status, capacity_kw, created_at, updated_at, device_key, provisioned_at, claimed_at) from stdin',
      text: [] as string[],
    },
    settlement: { sql: 'copy energy_settlement (meter_id, period_start, period_end, net_kwh, status, created_at) from stdin', text: [] as string[] },
    conversion: {
      sql: 'copy idrs_conversion (user_id, wallet_address, conversion_type, idr_amount, idrs_amount, exchange_rate, status, created_at, payment_id, settled_by, settled_at) from stdin',
      text: [] as string[],
    },
    offer: { sql: 'copy market_offer (seller_user_id, energy_kwh, remaining_kwh, price_idrs_per_kwh, status, expires_at, created_at, updated_at) from stdin', text: [] as string[] },
    log: { sql: 'copy transaction_log (user_id, transaction_type, description, amount, currency, transaction_timestamp) from stdin', text: [] as string[] },
  };
  for (let i = 0; i < users; i++) {
    const joined = new Date(Date.UTC(2024, 10, 2) + i * 60_000).toISOString();
    const userId = `user_${Date.parse(joined)}_${hex(8)}`;
    tables.user.text.push(`${userId}\tUser Number ${i}\t${hex(8)}.user${i}@example.com\t${hash}\t${joined}\t${joined}\n`);
    tables.wallet.text.push(`0x${hex(40)}\t${userId}\tMain wallet\t${(i % 500) + 0.123456}\t${(i % 50_000) * 100 + 0.25}\tt\t${joined}\t${joined}\n`);
    const meterId = `MTR-${hex(10).toUpperCase()}`;
    const wallet = tables.wallet.text.at(-1)!.split('\t')[0];
    tables.meter.text.push(`${meterId}\t${userId}\tJl. Sudirman No. ${i % 250}, Jakarta\tACTIVE\t${(i % 9) + 1.3}\t${joined}\t${joined}\t${hex(43)}\t${joined}\t${joined}\n`);
    tables.settlement.text.push(`${meterId}\t${joined}\t${joined}\t1.234567\tSETTLED\t${joined}\n`);
    const payment = `fixture_${hex(24)}`;
    tables.conversion.text.push(`${userId}\t${wallet}\tON_RAMP\t100000.25\t100000.25\t1.00000000\tCOMPLETED\t${joined}\t${payment}\tgateway\t${joined}\n`);
    tables.offer.text.push(`${userId}\t12.345678\t12.345678\t1500.00\tOPEN\t2099-12-31T00:00:00Z\t${joined}\t${joined}\n`);
    tables.log.text.push(`${userId}\tENERGY_SETTLEMENT\tsettlement of meter ${meterId}: exported 1.234567 kWh from ${joined} to ${joined}\t1.234567\tKWH\t${joined}\n`);
    tables.log.text.push(`${userId}\tIDRS_ON_RAMP_REQUESTED\tconversion ${payment}: ON_RAMP of 100000.25 IDR on wallet ${wallet} awaits its payment\t0.00\tIDRS\t${joined}\n`);
    tables.log.text.push(`${userId}\tIDRS_ON_RAMP\tconversion ${payment}: ON_RAMP of 100000.25 IDR paid (payment ${payment}, confirmed by the gateway)\t100000.25\tIDRS\t${joined}\n`);
  }
  // about 1,000 rows a chunk, as a stream of a file would deliver them
  return Object.values(tables).map(({ sql, text }) => ({
    sql,
    text: Array.from({ length: Math.ceil(text.length / 1000) }, (_, chunk) => text.slice(chunk * 1000, (chunk + 1) * 1000).join('')),
  }));
}

async function copyRun(users: number): Promise<Measure> {
  const data = copyData(users);
  const { db, orm } = await migrated(`bench_copy_${users}`);
  try {
    const pool = await orm.em.getConnection().getNativeClient();
    const client = await pool.connect();
    try {
      return await measure(db, async () => {
        for (const { sql, text } of data) await pipeline(Readable.from(text, { objectMode: false }), client.query(copyFrom(sql)));
      });
    } finally {
      client.release();
    }
  } finally {
    await orm.close();
    await db.drop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const thousands = (value: number) => Math.round(value).toLocaleString('en');
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const megabytes = (bytes: number) => `${Math.round(bytes / 1_048_576)} MB`;

function describe(label: string, rows: number, measures: Measure[]): number {
  const ms = median(measures.map(m => m.ms));
  const pg = measures.every(m => m.pgCpuMs !== undefined) ? `, PostgreSQL CPU ${seconds(median(measures.map(m => m.pgCpuMs!)))}` : '';
  console.log(
    `  ${label} ${thousands(rows / (ms / 1000)).padStart(8)} rows/s  (median ${seconds(ms)} of ${measures.map(m => seconds(m.ms)).join(' / ')}; ` +
      `node CPU ${seconds(median(measures.map(m => m.nodeCpuMs)))}${pg})`,
  );
  return ms;
}

for (const users of sizes) {
  // a household is 9 rows: user, wallet, meter, settlement, conversion, offer and 3 ledger rows
  const rows = users * 9;
  const seeder: Measure[] = [];
  const copy: Measure[] = [];
  for (let run = 0; run < runs; run++) {
    seeder.push(await seederRun(users));
    copy.push(await copyRun(users));
  }
  console.log(`${scenario === 'base' ? '' : `scenario ${scenario}: `}${thousands(users)} users, ${thousands(rows)} rows (households: user, wallet, meter, settlement, conversion, offer, 3 ledger rows), ${runs} run(s) each:`);
  const seederMs = describe('seeder:', rows, seeder);
  const copyMs = describe('COPY:  ', rows, copy);
  console.log(`  ratio seeder/COPY: ${(copyMs / seederMs).toFixed(2)} (goal: at least 0.5)`);
  const peak = Math.max(...seeder.map(m => m.peakRss));
  const start = median(seeder.map(m => m.startRss));
  console.log(`  seeder peak RSS: ${megabytes(peak)}, ${megabytes(peak - start)} above the process before seeding (${megabytes(start)})`);
  const held = await seederRun(users, true);
  console.log(`  seeder live heap after GC, largest at any batch: ${megabytes(held.peakLiveHeap!)} (${megabytes(held.startLiveHeap!)} before seeding)`);
}
