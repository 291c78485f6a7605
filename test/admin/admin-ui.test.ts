// The operator page in a real browser: Debian's Chromium driven by playwright-core, against
// the service listening on a port of its own, on a database of the test's own.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATION_LOCK_KEY } from '../../src/schema/fleet-lock.ts';
import { migrationSource, migrationsFolder } from '../processes.ts';
import { auditRows, startAdminApi, type AdminApi } from './admin-api.ts';

const CHROMIUM = '/usr/bin/chromium';
const FIRMWARE = 'Migration20261201000001_AddMeterFirmware';
const OUTBOX = 'Migration20261121000001_CacheOutbox';
/** Where the screenshot goes; ADMIN_UI_SCREENSHOT=docs/admin-ui.png refreshes the README's. */
const SCREENSHOT = process.env.ADMIN_UI_SCREENSHOT ?? join(tmpdir(), 'enerlink-admin-ui.png');
// generous: a loaded two-core machine runs other test files beside this one
const WAIT = { timeout: 20_000 };

let api: AdminApi;
let folder: ReturnType<typeof migrationsFolder>;
let context: BrowserContext;
let page: Page;
let base: string;
let userDataDir: string;
const problems: string[] = [];
let holder: pg.Client | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  folder = migrationsFolder({
    [`${FIRMWARE}.ts`]: migrationSource(FIRMWARE, ['alter table smart_meter add column firmware varchar(32)'], ['alter table smart_meter drop column firmware']),
  });
  api = await startAdminApi('admin_ui', { migrate: false, migrationsPath: folder.path });
  // everything but the test's own migration, as a run the history and chart show
  await api.app.lifecycle.migrate('up', { to: OUTBOX }, { origin: 'cli' });
  base = await api.app.listen({ port: 0, host: '127.0.0.1' });
  userDataDir = mkdtempSync(join(tmpdir(), 'enerlink-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(WAIT.timeout);
  // a CSP violation or a script error is a broken page, whatever the assertions below see
  page.on('console', message => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('response', response => {
    // the wrong token's 401 is the one refusal this test provokes
    if (response.status() >= 400 && response.status() !== 401) problems.push(`${response.status()} ${response.url()}`);
  });
  page.on('pageerror', error => problems.push(error.message));
}, 120_000);

afterAll(async () => {
  await holder?.end().catch(() => {});
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await api?.close();
  folder?.remove();
});

const row = (name: string) => page.locator(`#migrations-table tr[data-migration="${name}"]`);

describe('the operator page at /admin/ui', () => {
  it('signs in, shows migrations, plans, a blocking session, the chart; applies and reverts behind confirmations', async () => {
    const response = await page.goto(`${base}/admin/ui`);
    expect(response?.status()).toBe(200);
    expect(page.url()).toBe(`${base}/admin/ui/`);
    expect(response?.headers()['content-security-policy']).toMatch(/script-src 'self'(;|$)/);

    // a wrong token: a clear message, and still signed out
    await page.fill('#token-input', 'not-the-admin-token-but-long-enough-to-try');
    await page.click('#sign-in-form button[type=submit]');
    await expect.poll(() => page.textContent('#sign-in-error'), WAIT).toMatch(/Wrong admin token/);
    expect(await page.isHidden('#main')).toBe(true);

    await page.fill('#token-input', api.token);
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForSelector('#main:not([hidden])');
    expect(page.url()).not.toContain(api.token);

    // the pending migration, and the applied ones with who ran them
    await expect.poll(() => row(FIRMWARE).locator('td').first().textContent(), WAIT).toBe('pending');
    await expect.poll(() => row(OUTBOX).textContent(), WAIT).toMatch(/applied.*cli on /);

    // its plan: the SQL, nothing changed
    await row(FIRMWARE).getByRole('button', { name: `Plan ${FIRMWARE}` }).click();
    await expect.poll(() => page.textContent('#plan-body'), WAIT).toContain('alter table smart_meter add column firmware varchar(32)');

    // a transaction the test holds open: at the top of the page and of the health view
    holder = new pg.Client({ connectionString: api.db.url, application_name: 'forgotten psql' });
    await holder.connect();
    const [{ pid }] = (await holder.query('select pg_backend_pid() as pid')).rows;
    await holder.query('begin');
    await holder.query('select * from wallet for update');
    await page.click('#health-refresh');
    await page.waitForSelector(`#blocking-table tr[data-pid="${pid}"]`, WAIT);
    expect(await page.textContent(`#blocking-table tr[data-pid="${pid}"]`)).toMatch(/idle in transaction.*forgotten psql.*wallet RowShareLock/);
    expect(await page.isVisible('#blocking-banner')).toBe(true);
    expect(await page.textContent('#blocking-banner')).toMatch(new RegExp(`pid ${pid} \\(forgotten psql\\)`));

    // another process's run, live: its holder while it holds the fleet lock, and no apply meanwhile
    const other = new pg.Client({ connectionString: api.db.url, application_name: 'enerlink migration up (cli)' });
    await other.connect();
    try {
      await other.query(`select pg_advisory_lock(${MIGRATION_LOCK_KEY[0]}, ${MIGRATION_LOCK_KEY[1]})`);
      const activity = { operation: 'migration up', origin: 'cli', host: 'web-9', pid: 4242, startedAt: new Date().toISOString(), migrations: [FIRMWARE] };
      await other.query(`/* enerlink-lock ${JSON.stringify(activity)} */ select 1`);
      await expect.poll(() => page.textContent('#live'), WAIT).toMatch(new RegExp(`Migrating now: migration up by cli on web-9 \\(pid 4242\\).*${FIRMWARE}`));
      expect(await row(FIRMWARE).getByRole('button', { name: `Apply ${FIRMWARE}` }).isDisabled()).toBe(true);
    } finally {
      await other.end();
    }
    await expect.poll(() => page.textContent('#live'), WAIT).toBe('No run in progress.');

    // apply: the confirmation names what it will do
    await row(FIRMWARE).getByRole('button', { name: `Apply ${FIRMWARE}` }).click();
    await page.waitForSelector('#confirm[open]');
    expect(await page.textContent('#confirm-text')).toContain(`applies ${FIRMWARE} to database ${api.db.name}`);
    await page.click('#confirm-ok');
    await expect.poll(() => row(FIRMWARE).locator('td').first().textContent(), WAIT).toBe('applied');
    expect(await page.textContent('#notice')).toMatch(new RegExp(`Applied ${FIRMWARE} in .*verification passed`));
    expect(await api.db.query(`select 1 from information_schema.columns where table_name = 'smart_meter' and column_name = 'firmware'`)).toHaveLength(1);

    // the runs: both in the history and as points of the chart
    await expect.poll(() => page.locator('#runs-table > tbody > tr').count(), WAIT).toBe(2);
    expect(await page.locator('#runs-chart canvas').count()).toBeGreaterThan(0);
    expect(await page.getAttribute('#runs-chart', 'aria-label')).toMatch(/2 runs/);
    await expect.poll(() => page.locator('#audit-table > tbody > tr').count(), WAIT).toBeGreaterThan(3);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // the audit log, filtered: the refused sign-in only
    await page.selectOption('#audit-outcome', 'refused');
    await page.click('#audit-filter button[type=submit]');
    await expect.poll(() => page.locator('#audit-table > tbody > tr').count(), WAIT).toBe(1);
    expect(await page.textContent('#audit-table > tbody > tr')).toMatch(/migrations\.status.*refused.*401.*Wrong admin token/);
    await page.selectOption('#audit-outcome', '');
    await page.click('#audit-filter button[type=submit]');

    // revert: nothing happens until the migration's name is typed
    await row(FIRMWARE).getByRole('button', { name: `Revert ${FIRMWARE}` }).click();
    await page.waitForSelector('#confirm[open]');
    expect(await page.textContent('#confirm-text')).toContain(`reverts ${FIRMWARE}`);
    expect(await page.isDisabled('#confirm-ok')).toBe(true);
    await page.fill('#confirm-input', 'Migration20261201000001');
    expect(await page.isDisabled('#confirm-ok')).toBe(true);
    await page.click('#confirm-cancel');
    await page.waitForSelector('#confirm:not([open])', { state: 'attached' });
    expect(await row(FIRMWARE).locator('td').first().textContent()).toBe('applied');

    await row(FIRMWARE).getByRole('button', { name: `Revert ${FIRMWARE}` }).click();
    await page.waitForSelector('#confirm[open]');
    await page.fill('#confirm-input', FIRMWARE);
    expect(await page.isDisabled('#confirm-ok')).toBe(false);
    await page.click('#confirm-ok');
    await expect.poll(() => row(FIRMWARE).locator('td').first().textContent(), WAIT).toBe('pending');
    expect(await api.db.query(`select 1 from information_schema.columns where table_name = 'smart_meter' and column_name = 'firmware'`)).toHaveLength(0);

    // the token stayed in this tab's session storage and off every URL and audit entry
    expect(await page.evaluate(() => [Object.keys(localStorage).length, Object.values(sessionStorage).length])).toEqual([0, 1]);
    const audit = await auditRows(api.db, 500);
    expect(audit.some(entry => entry.action === 'migrations.down' && entry.outcome === 'succeeded' && /HeadlessChrome/.test(entry.user_agent))).toBe(true);
    expect(audit.some(entry => entry.action === 'migrations.status' && entry.outcome === 'refused')).toBe(true);
    expect(JSON.stringify(audit)).not.toContain(api.token);
    expect(problems.filter(problem => !/status of 401/.test(problem))).toEqual([]);
  });
});
