import { setTimeout as sleep } from 'node:timers/promises';
import { Decimal } from 'decimal.js';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { ownMeter, settle, type Account, type ProvisionedMeter } from '../api.ts';
import type { TestDatabase } from '../helper.ts';

type Kind = 'trade' | 'settlement' | 'login' | 'read';

/** What the traffic met. */
export interface TrafficSummary {
  /** Every request that did not get the answer it should have. */
  failures: Array<{ kind: Kind; status: number; body: string }>;
  /** Readiness probes of the serving instance that were not 200. */
  notReady: Array<{ status: number; body: string }>;
  byKind: Record<Kind, number>;
}

const WORKERS = 4;
const PASSWORD = 'correct horse battery';
const TRADE_KWH = '0.010000';
const OFFER = { energyKwh: '500.000000', priceIdrsPerKwh: '1000.00' };
// a minute of a 5 kW meter can export at most 0.083 kWh
const SETTLED_KWH = '0.050';

/**
 * Live traffic against a serving instance, as a market has it while its schema changes:
 * households taking each other's offers, meters sending signed settlements, logins and cached profile reads, with
 * a readiness probe every 50 ms, until stopped. Every request must succeed; energy enters only
 * through settlements and IDRS only moves, so the totals can be checked afterwards.
 */
export class TrafficHarness {
  readonly #app: FastifyInstance;
  readonly #db: TestDatabase;
  readonly #users: Account[];
  readonly #summary: TrafficSummary = { failures: [], notReady: [], byKind: { trade: 0, settlement: 0, login: 0, read: 0 } };
  #initial = { energy: new Decimal(0), idrs: new Decimal(0) };
  #settled = new Decimal(0);
  #nextPeriod = 0;
  #meters: ProvisionedMeter[] = [];
  #offers: string[] = [];
  #running: Promise<unknown> | undefined;
  #stopping = false;
  #done = 0;

  constructor(app: FastifyInstance, db: TestDatabase, users: Account[]) {
    this.#app = app;
    this.#db = db;
    this.#users = users;
  }

  /** Gives every household a provisioned meter it claimed and an open offer, and records the totals before the traffic. */
  async prepare(): Promise<void> {
    const api = { app: this.#app, db: this.#db, close: async () => {} };
    for (const [i, user] of this.#users.entries()) {
      this.#meters.push(await ownMeter(api, user, this.#meterId(i), '5', 60));
      const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
      const reply = await this.#app.inject({ method: 'POST', url: '/offers', headers: user.headers, payload: { ...OFFER, expiresAt } });
      if (reply.statusCode !== 201) throw new Error(`offer: ${reply.statusCode} ${reply.body}`);
      this.#offers.push(reply.json().offerId);
    }
    const totals = await this.totals();
    this.#initial = { energy: new Decimal(totals.energy), idrs: new Decimal(totals.idrs) };
  }

  start(): void {
    this.#stopping = false;
    this.#running = Promise.all([...Array.from({ length: WORKERS }, (_, worker) => this.#work(worker)), this.#probe()]);
  }

  async stop(): Promise<TrafficSummary> {
    this.#stopping = true;
    await this.#running;
    this.#running = undefined;
    return this.#summary;
  }

  /** Resolves once `count` more requests have been answered. */
  async waitForRequests(count: number): Promise<void> {
    const target = this.#done + count;
    for (let waited = 0; this.#done < target; waited += 10) {
      if (waited > 30_000) throw new Error(`traffic stalled at ${this.#done} of ${target} requests`);
      await sleep(10);
    }
  }

  /** Caches a profile, then changes it behind the cache's back: that entry is stale from now on. */
  async makeStaleEntry(name: string): Promise<{ userId: string; name: string }> {
    const { userId } = this.#users[0];
    await this.profileName(userId);
    await this.#db.query(`update "user" set name = ? where user_id = ?`, [name, userId]);
    return { userId, name };
  }

  async profileName(userId: string): Promise<string> {
    const reply = await this.#app.inject({ url: `/users/${userId}`, headers: this.#users[1].headers });
    return reply.json().name;
  }

  async totals(): Promise<{ energy: string; idrs: string }> {
    const [row] = await this.#db.query(`select sum(energy_balance)::text as energy, sum(idrs_balance)::text as idrs from wallet`);
    return row as { energy: string; idrs: string };
  }

  expectedTotals(): { energy: string; idrs: string } {
    return { energy: this.#initial.energy.plus(this.#settled).toFixed(6), idrs: this.#initial.idrs.toFixed(2) };
  }

  #meterId(i: number): string {
    return `MTR-LIVE-${i}`;
  }

  async #work(worker: number): Promise<void> {
    for (let n = worker; !this.#stopping; n += WORKERS) {
      const kind = (['trade', 'settlement', 'login', 'read'] as const)[n % 4];
      const user = this.#users[n % this.#users.length];
      const other = this.#users[(n + 1 + (n % (this.#users.length - 1))) % this.#users.length];
      if (kind === 'trade') {
        const offerId = this.#offers[this.#users.indexOf(other)];
        await this.#expect(kind, 201, { method: 'POST', url: '/trades', headers: user.headers, payload: { offerId, energyKwh: TRADE_KWH } });
      } else if (kind === 'settlement') {
        // one minute each, a month ago, never overlapping; one worker sends them all, so each
        // meter's signed timestamps arrive in order
        const start = Date.now() - 30 * 86_400_000 + this.#nextPeriod++ * 60_000;
        const meter = this.#meters[this.#users.indexOf(user)];
        const payload = { periodStart: new Date(start).toISOString(), periodEnd: new Date(start + 60_000).toISOString(), netKwh: SETTLED_KWH };
        const ok = await this.#record(kind, 201, await settle({ app: this.#app, db: this.#db, close: async () => {} }, meter, payload));
        if (ok) this.#settled = this.#settled.plus(SETTLED_KWH);
      } else if (kind === 'login') {
        await this.#expect(kind, 200, { method: 'POST', url: '/auth/login', payload: { email: user.email, password: PASSWORD } });
      } else {
        await this.#expect(kind, 200, { url: `/users/${other.userId}`, headers: user.headers });
      }
    }
  }

  async #expect(kind: Kind, status: number, request: InjectOptions): Promise<boolean> {
    return this.#record(kind, status, await this.#app.inject(request));
  }

  #record(kind: Kind, status: number, reply: { statusCode: number; body: string }): boolean {
    this.#done++;
    this.#summary.byKind[kind]++;
    if (reply.statusCode === status) return true;
    this.#summary.failures.push({ kind, status: reply.statusCode, body: reply.body.slice(0, 300) });
    return false;
  }

  async #probe(): Promise<void> {
    while (!this.#stopping) {
      const reply = await this.#app.inject('/health/ready');
      if (reply.statusCode !== 200) this.#summary.notReady.push({ status: reply.statusCode, body: reply.body.slice(0, 300) });
      await sleep(50);
    }
  }
}
