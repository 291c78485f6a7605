// The operator page: renders what the admin API answers, and asks before anything changes.
import { AdminError, api, loadPlan, token } from './admin-client.js';

// Every poll is an audited admin request and counts against ADMIN_RATE_LIMIT_PER_MINUTE (60 by
// default): about 20 a minute leaves room for the actions and a second tab.
const POLL_MS = 5000;
const POLL_MIGRATING_MS = 2000;
const HEALTH_POLL_MS = 15000;

const $ = id => document.getElementById(id);
/** uPlot's global (vendor/uplot/uPlot.iife.min.js, loaded before this module). */
const { uPlot } = window;

/** An element with attributes and children; text is always text (never parsed as HTML). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
  return node;
}

const when = value => (value ? new Date(value).toLocaleString() : '—');
const took = ms => (ms === undefined || ms === null ? '—' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);
const bytes = count => {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
};
const plural = (count, word) => `${count} ${word}${count === 1 ? '' : 's'}`;
const holderText = running => {
  const activity = running?.activity;
  if (!activity) return `backend ${running?.backendPid ?? '?'} (${running?.applicationName ?? 'not an enerlink process'})`;
  return `${activity.operation} by ${activity.origin} on ${activity.host} (pid ${activity.pid}), started ${when(activity.startedAt)}${
    activity.migrations?.length ? `: ${activity.migrations.join(', ')}` : ''
  }`;
};

const state = { status: undefined, runs: [], runsCursor: null, database: '', auditCursors: [], auditBefore: undefined, timers: [], signedIn: false };

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function notify(message, { failed = false } = {}) {
  const notice = $('notice');
  notice.className = failed ? 'failed' : '';
  notice.textContent = message;
}

/** Turns an API failure into what the operator reads; a rejected token ends the session. */
function report(error, doing) {
  if (error instanceof AdminError && error.status === 401) {
    signOut(`The service refused the token while ${doing}: ${error.message}. Sign in again.`);
    return;
  }
  if (error instanceof AdminError && error.status === 429) {
    notify(`Rate limited while ${doing}: ${error.message}`, { failed: true });
    return;
  }
  const code = error instanceof AdminError && error.problem.code ? ` (${error.status} ${error.problem.code})` : '';
  notify(`Failed while ${doing}${code}: ${error.message}`, { failed: true });
}

// ---------------------------------------------------------------- sign in and out

async function signIn(value) {
  token.set(value);
  $('sign-in-error').textContent = '';
  try {
    state.status = await api.migrations();
  } catch (error) {
    token.clear();
    $('sign-in-error').textContent =
      error instanceof AdminError && error.status === 401
        ? `Wrong admin token: the service refused it (${error.message}).`
        : `Could not reach the admin API: ${error.message}`;
    $('token-input').focus();
    return;
  }
  state.signedIn = true;
  $('sign-in').hidden = true;
  $('main').hidden = false;
  $('sign-out').hidden = false;
  $('token-input').value = '';
  await refreshAll();
  schedule();
}

function signOut(message = '') {
  token.clear();
  state.signedIn = false;
  for (const timer of state.timers.splice(0)) clearTimeout(timer);
  $('main').hidden = true;
  $('sign-out').hidden = true;
  $('whoami').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  $('token-input').focus();
}

function schedule() {
  const loop = (work, interval) => {
    const tick = async () => {
      if (!state.signedIn) return;
      if (document.visibilityState === 'visible') await work().catch(() => {});
      state.timers.push(setTimeout(tick, interval()));
    };
    state.timers.push(setTimeout(tick, interval()));
  };
  loop(pollMigrations, () => (state.status?.migrating ? POLL_MIGRATING_MS : POLL_MS));
  loop(() => Promise.all([loadHealth(), loadCache()]), () => HEALTH_POLL_MS);
}

async function refreshAll() {
  await Promise.all([loadRuns(), loadHealth(), loadCache(), loadAudit()]);
  renderMigrations();
}

// ---------------------------------------------------------------- migrations and the live run

async function pollMigrations() {
  const before = state.status;
  try {
    state.status = await api.migrations();
  } catch (error) {
    report(error, 'reading the migrations');
    return;
  }
  const changed = !before || before.migrating !== state.status.migrating || before.executed.length !== state.status.executed.length;
  if (changed) await loadRuns();
  renderMigrations();
}

function renderLive() {
  const { migrating, running } = state.status;
  $('live').textContent = migrating ? `Migrating now: ${holderText(running)}` : 'No run in progress.';
}

/** The recorded run that applied `name` last, and that migration's own duration in it. */
function appliedBy(name) {
  for (const run of state.runs) {
    if (run.method !== 'up' || run.status !== 'applied') continue;
    const migration = run.migrations.find(m => m.name === name);
    if (migration) return { run, durationMs: migration.durationMs };
  }
  return undefined;
}

function renderMigrations() {
  if (!state.status) return;
  renderLive();
  const { executed, pending, unknown, migrating } = state.status;
  $('apply-all').disabled = pending.length === 0 || migrating;
  const rows = [];
  executed.forEach((migration, index) => {
    const applied = appliedBy(migration.name);
    const reverting = executed.slice(index).map(m => m.name).reverse();
    const isUnknown = unknown.some(m => m.name === migration.name);
    rows.push(
      el(
        'tr',
        { 'data-migration': migration.name },
        el('th', { scope: 'row' }, el('code', {}, migration.name)),
        el('td', { class: isUnknown ? 'state-unknown' : 'state-applied' }, isUnknown ? 'applied (unknown to this release)' : 'applied'),
        el('td', {}, when(migration.executedAt)),
        el('td', { class: 'num' }, took(applied?.durationMs)),
        el('td', {}, applied ? `${applied.run.origin ?? 'unrecorded'} on ${applied.run.host} (pid ${applied.run.pid})` : '—'),
        el(
          'td',
          {},
          el('button', { type: 'button', onclick: () => showPlan('down', { steps: reverting.length }, `revert ${reverting.join(', ')}`), 'aria-label': `Plan the revert of ${migration.name}` }, 'Plan revert'),
          ' ',
          el('button', { type: 'button', disabled: migrating || isUnknown, onclick: () => revert(migration.name, reverting), 'aria-label': `Revert ${migration.name}` }, 'Revert…'),
        ),
      ),
    );
  });
  pending.forEach(({ name }, index) => {
    const applying = pending.slice(0, index + 1).map(m => m.name);
    rows.push(
      el(
        'tr',
        { 'data-migration': name },
        el('th', { scope: 'row' }, el('code', {}, name)),
        el('td', { class: 'state-pending' }, 'pending'),
        el('td', {}, '—'),
        el('td', {}, '—'),
        el('td', {}, '—'),
        el(
          'td',
          {},
          el('button', { type: 'button', onclick: () => showPlan('up', { to: name }, `apply ${applying.join(', ')}`), 'aria-label': `Plan ${name}` }, 'Plan'),
          ' ',
          el('button', { type: 'button', disabled: migrating, onclick: () => apply(applying, name), 'aria-label': `Apply ${name}` }, 'Apply…'),
        ),
      ),
    );
  });
  fill($('migrations-table').tBodies[0], rows);
}

async function showPlan(method, selection, what) {
  const section = $('plan');
  section.hidden = false;
  $('plan-summary').textContent = `Loading the plan to ${what}…`;
  $('plan-body').replaceChildren();
  try {
    const plan = await loadPlan(method, selection);
    $('plan-summary').textContent = plan.migrations.length
      ? `To ${what}: ${plural(plan.migrations.length, 'migration')} would run (${method}). Nothing was changed and no lock was taken.`
      : 'Nothing to do.';
    $('plan-body').replaceChildren(
      ...plan.migrations.map(migration =>
        el(
          'article',
          { class: 'plan-step' },
          el('h4', {}, el('code', {}, migration.name), ` — ${migration.action}, ${migration.transactional ? 'in one transaction' : 'outside a transaction (CONCURRENTLY)'}`),
          migration.locks ? el('p', {}, `Locks: ${migration.locks.map(lock => (typeof lock === 'string' ? lock : `${lock.table ?? lock.relation} ${lock.mode}`)).join(', ') || 'none'}`) : null,
          migration.lint ? el('ul', {}, migration.lint.map(finding => el('li', {}, typeof finding === 'string' ? finding : finding.message ?? JSON.stringify(finding)))) : null,
          el('pre', { 'aria-label': `SQL of ${migration.name}` }, migration.sql.length ? migration.sql.join(';\n\n') + ';' : '-- no SQL: recorded as applied'),
        ),
      ),
    );
  } catch (error) {
    $('plan-summary').textContent = `No plan: ${error.message}`;
    report(error, 'planning');
  }
  section.scrollIntoView({ block: 'nearest' });
}

/** Asks in a modal dialog; with `typed`, only that exact text enables the confirm button. */
function confirmAction({ title, text, action, typed }) {
  const dialog = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = action;
  const input = $('confirm-input');
  $('confirm-typed').hidden = !typed;
  input.value = '';
  $('confirm-expected').textContent = typed ?? '';
  $('confirm-ok').disabled = Boolean(typed);
  input.oninput = () => {
    $('confirm-ok').disabled = input.value.trim() !== typed;
  };
  dialog.returnValue = '';
  dialog.showModal();
  (typed ? input : $('confirm-cancel')).focus();
  return new Promise(resolve => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm' && (!typed || input.value.trim() === typed)), { once: true });
  });
}

async function act(doing, work, describe) {
  notify(`${doing}…`);
  try {
    const result = await work();
    notify(describe(result));
  } catch (error) {
    const reportOf = error instanceof AdminError ? error.problem.report : undefined;
    report(error, doing.toLowerCase());
    if (reportOf) notify(`${$('notice').textContent} Run report: ${reportOf.status ?? ''} ${reportOf.migrations?.map(m => m.name).join(', ') ?? ''}`, { failed: true });
  }
  await pollMigrations();
  await refreshAll();
}

const runSummary = run =>
  run.status === 'nothing to do'
    ? 'Nothing to do.'
    : `${run.method === 'up' ? 'Applied' : 'Reverted'} ${run.migrations.map(m => m.name).join(', ')} in ${took(run.durationMs)}` +
      `${run.verification ? `; verification ${run.verification.ok ? 'passed' : 'FAILED'}` : ''}${run.backupFile ? `; backup ${run.backupFile}` : ''}.`;

async function apply(names, to) {
  const confirmed = await confirmAction({
    title: `Apply ${plural(names.length, 'migration')}`,
    text: `This applies ${names.join(', ')} to database ${state.database}, under the fleet lock, with backup and verification as configured.`,
    action: `Apply ${plural(names.length, 'migration')}`,
  });
  if (confirmed) await act(`Applying ${names.join(', ')}`, () => api.up(to), runSummary);
}

async function revert(name, names) {
  const confirmed = await confirmAction({
    title: `Revert ${plural(names.length, 'migration')}`,
    text: `This reverts ${names.join(', ')} (newest first) on database ${state.database}: their down() runs under the fleet lock. Data that only the newer schema holds may be lost.`,
    action: `Revert ${plural(names.length, 'migration')}`,
    typed: name,
  });
  if (confirmed) await act(`Reverting ${names.join(', ')}`, () => api.down({ steps: names.length }), runSummary);
}

async function applyAll() {
  const names = state.status.pending.map(m => m.name);
  await apply(names, undefined);
}

async function verify() {
  const confirmed = await confirmAction({
    title: 'Verify the schema',
    text: `This runs every integrity check over every row of ${state.database} (foreign keys, indexes, orphaned rows, exact counts). It takes no lock, but reads every row: seconds on millions.`,
    action: 'Verify now',
  });
  if (!confirmed) return;
  notify('Verifying…');
  try {
    const result = await api.verify();
    notify(`Verification ${result.ok ? 'passed' : 'FAILED'} at ${when(result.checkedAt)}.`, { failed: !result.ok });
    $('verification').hidden = false;
    $('verification-body').replaceChildren(verificationTable(result));
  } catch (error) {
    report(error, 'verifying');
  }
}

function verificationTable(verification) {
  return el(
    'table',
    {},
    el('caption', {}, `${verification.scope === 'full' ? 'Full verification' : 'Verification of the run'} at ${when(verification.checkedAt)}`),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Check'), el('th', { scope: 'col' }, 'Result'), el('th', { scope: 'col' }, 'Detail'))),
    el(
      'tbody',
      {},
      verification.checks.map(check =>
        el('tr', {}, el('th', { scope: 'row' }, check.name), el('td', { class: check.ok ? 'state-applied' : 'state-failed' }, check.ok ? 'ok' : 'FAILED'), el('td', {}, check.detail)),
      ),
    ),
  );
}

// ---------------------------------------------------------------- runs

async function loadRuns({ more = false } = {}) {
  try {
    const page = await api.runs(more ? state.runsCursor : undefined);
    state.runs = more ? [...state.runs, ...page.items] : page.items;
    state.runsCursor = page.nextCursor;
  } catch (error) {
    report(error, 'reading the runs');
    return;
  }
  renderRuns();
}

function renderRuns() {
  fill(
    $('runs-table').tBodies[0],
    state.runs.map(run =>
      el(
        'tr',
        {},
        el('td', {}, when(run.startedAt)),
        el('td', {}, run.method),
        el('td', { class: run.status === 'failed' ? 'state-failed' : 'state-applied' }, run.status, run.error ? el('div', { class: 'muted' }, run.error) : null),
        el('td', { class: 'num' }, took(run.durationMs)),
        el('td', {}, `${run.origin ?? 'unrecorded'} on ${run.host} (pid ${run.pid})`),
        el('td', {}, run.migrations.length ? run.migrations.map(m => el('div', {}, el('code', {}, m.name), ` ${took(m.durationMs)}`)) : '—'),
        el(
          'td',
          {},
          run.verification
            ? el('details', {}, el('summary', {}, run.verification.ok ? 'passed' : 'FAILED'), verificationTable(run.verification))
            : '—',
        ),
        el('td', {}, run.backupFile ? el('code', {}, run.backupFile) : '—'),
      ),
    ),
  );
  $('runs-more').hidden = !state.runsCursor;
  renderChart();
}

let chart;
function renderChart() {
  const container = $('runs-chart');
  const points = state.runs
    .map(run => [Date.parse(run.startedAt) / 1000, run.durationMs])
    .sort((a, b) => a[0] - b[0]);
  chart?.destroy();
  chart = undefined;
  container.replaceChildren();
  if (points.length === 0) {
    container.append(el('p', { class: 'muted' }, 'No runs recorded yet.'));
    return;
  }
  container.setAttribute('aria-label', `Run durations over time: ${plural(points.length, 'run')}, longest ${took(Math.max(...points.map(p => p[1])))}`);
  chart = new uPlot(
    {
      width: Math.max(300, container.clientWidth - 2),
      height: 220,
      scales: { x: { time: true } },
      series: [{}, { label: 'duration (ms)', stroke: '#0a5cc2', width: 2, points: { show: true, size: 7, fill: '#0a5cc2' } }],
      axes: [{}, { label: 'ms' }],
    },
    [points.map(p => p[0]), points.map(p => p[1])],
    container,
  );
}

// ---------------------------------------------------------------- cache

async function loadCache() {
  let cache;
  try {
    cache = await api.cache();
  } catch (error) {
    report(error, 'reading the cache');
    return;
  }
  state.cachePrefix = cache.prefix;
  const { outbox } = cache;
  const facts = [
    ['Namespace', cache.prefix],
    ['Generation', cache.generation ?? 'unknown: reads go to PostgreSQL'],
    ['Serving from Redis', cache.active ? 'yes' : 'no'],
    ['Redis', cache.redis],
    ['Outbox backlog', outbox.present ? `${plural(outbox.pending, 'purge')} owed${outbox.claimed ? `, ${outbox.claimed} being carried out` : ''}` : 'no outbox yet (its migration is pending)'],
    ['Oldest owed since', when(outbox.oldestPendingAt)],
    ['Purges carried out', `${outbox.purged} (${outbox.purgedKeys} keys), last ${when(outbox.lastPurgedAt)}`],
  ];
  $('cache').replaceChildren(...facts.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
}

async function purge() {
  const confirmed = await confirmAction({
    title: 'Purge the cache',
    text: `This deletes every cache entry of namespace ${state.cachePrefix} (SCAN + UNLINK), whatever its generation. Reads go to PostgreSQL until they are cached again.`,
    action: 'Purge the cache',
  });
  if (confirmed) await act('Purging the cache', () => api.purgeCache(), r => `Purged ${r.deleted} key(s) of ${r.namespace} in ${took(r.durationMs)}.`);
}

// ---------------------------------------------------------------- database health

async function loadHealth() {
  let health;
  try {
    health = await api.health();
  } catch (error) {
    report(error, 'reading the database health');
    return;
  }
  state.database = health.database;
  $('whoami').hidden = false;
  $('whoami').textContent = `database ${health.database}, checked ${when(health.checkedAt)}`;
  renderBlocking(health.blocking);
  const { connections } = health;
  $('connections').textContent = `${connections.server} of max_connections ${connections.maxConnections} on the server; to ${health.database}: ${
    connections.byState.map(c => `${c.count} ${c.state}`).join(', ') || 'none'
  }.`;
  fill(
    $('tables-table').tBodies[0],
    health.tables.map(t =>
      el(
        'tr',
        {},
        el('th', { scope: 'row' }, t.table),
        el('td', { class: 'num' }, t.rowEstimate.toLocaleString()),
        el('td', { class: 'num' }, bytes(t.totalBytes)),
        el('td', { class: 'num' }, bytes(t.tableBytes)),
        el('td', { class: 'num' }, bytes(t.indexBytes)),
        el('td', { class: 'num' }, t.sequentialScans.toLocaleString()),
        el('td', { class: 'num' }, t.indexScans.toLocaleString()),
      ),
    ),
  );
  $('unused-indexes').textContent = health.unusedIndexes.length
    ? `Never scanned since ${health.statisticsSince ? when(health.statisticsSince) : 'the database was created'} and enforcing nothing: ${health.unusedIndexes.join(', ')}.`
    : 'Every index is used or enforces a constraint.';
  fill(
    $('indexes-table').tBodies[0],
    health.indexes.map(i =>
      el(
        'tr',
        { class: i.unused ? 'unused' : undefined },
        el('th', { scope: 'row' }, i.index),
        el('td', {}, i.table),
        el('td', { class: 'num' }, bytes(i.bytes)),
        el('td', { class: 'num' }, i.scans.toLocaleString()),
        el('td', {}, i.unused ? 'unused' : i.unique ? 'unique' : ''),
      ),
    ),
  );
  const statements = health.slowStatements;
  $('statements').replaceChildren(
    statements.available
      ? statements.statements.length
        ? el(
            'table',
            {},
            el('caption', {}, 'Highest mean execution time first (pg_stat_statements)'),
            el('thead', {}, el('tr', {}, ['Mean', 'Max', 'Calls', 'Total', 'Query'].map(h => el('th', { scope: 'col' }, h)))),
            el(
              'tbody',
              {},
              statements.statements.map(s =>
                el('tr', {}, el('td', { class: 'num' }, took(s.meanMs)), el('td', { class: 'num' }, took(s.maxMs)), el('td', { class: 'num' }, s.calls), el('td', { class: 'num' }, took(s.totalMs)), el('td', {}, el('code', {}, s.query))),
              ),
            ),
          )
        : el('p', {}, 'No statements recorded yet.')
      : el('p', {}, `Not available: ${statements.reason}. To enable it: ${statements.howToEnable}.`),
  );
}

function renderBlocking(blocking) {
  const { sessions, olderThanMs } = blocking;
  const banner = $('blocking-banner');
  $('blocking-table').hidden = sessions.length === 0;
  if (sessions.length === 0) {
    $('blocking-summary').textContent = `Nothing: no transaction open longer than ${took(olderThanMs)}, no session idle in transaction.`;
    banner.hidden = true;
    fill($('blocking-table').tBodies[0], []);
    return;
  }
  const oldest = sessions[0];
  const text = `${plural(sessions.length, 'session')} would block a migration now; the oldest, pid ${oldest.pid} (${oldest.application ?? 'no application name'}), is ${oldest.state} in a transaction open for ${took(oldest.transactionAgeMs)}${
    oldest.locks.length ? ` holding ${oldest.locks.map(lock => lock.table).join(', ')}` : ''
  }.`;
  $('blocking-summary').textContent = text;
  banner.hidden = false;
  banner.replaceChildren(text, ' ', el('a', { href: '#blocking-title' }, 'See the sessions'));
  fill(
    $('blocking-table').tBodies[0],
    sessions.map(s =>
      el(
        'tr',
        { class: 'blocking', 'data-pid': s.pid },
        el('th', { scope: 'row' }, s.pid),
        el('td', {}, s.state ?? '—'),
        el('td', { class: 'num' }, took(s.transactionAgeMs)),
        el('td', {}, s.application ?? '—'),
        el('td', {}, s.clientAddress ?? 'local socket'),
        el('td', {}, s.locks.length ? s.locks.map(lock => el('div', {}, `${lock.table} ${lock.mode}${lock.granted ? '' : ' (waiting)'}`)) : '—'),
        el('td', {}, s.waitingFor.length ? s.waitingFor.join(', ') : '—'),
        el('td', {}, el('code', {}, s.query)),
      ),
    ),
  );
}

// ---------------------------------------------------------------- audit log

async function loadAudit(before = state.auditBefore) {
  let page;
  try {
    page = await api.audit({ before, action: $('audit-action').value.trim(), outcome: $('audit-outcome').value });
  } catch (error) {
    report(error, 'reading the audit log');
    return;
  }
  state.auditBefore = before;
  state.auditNext = page.nextCursor;
  $('audit-older').disabled = !page.nextCursor;
  $('audit-newer').disabled = state.auditCursors.length === 0;
  fill(
    $('audit-table').tBodies[0],
    page.items.map(entry =>
      el(
        'tr',
        {},
        el('td', {}, when(entry.startedAt)),
        el('td', {}, el('code', {}, entry.action)),
        el('td', { class: entry.outcome === 'succeeded' ? 'state-applied' : 'state-failed' }, entry.outcome),
        el('td', { class: 'num' }, entry.statusCode),
        el('td', {}, entry.clientAddress ?? '—'),
        el('td', {}, el('code', {}, entry.tokenFingerprint ?? 'none')),
        el('td', {}, el('code', {}, entry.result ? JSON.stringify(entry.result).slice(0, 200) : '—')),
      ),
    ),
  );
}

// ---------------------------------------------------------------- wiring

$('sign-in-form').addEventListener('submit', event => {
  event.preventDefault();
  const value = $('token-input').value.trim();
  if (value) signIn(value);
});
$('sign-out').addEventListener('click', () => signOut('Signed out.'));
$('apply-all').addEventListener('click', applyAll);
$('verify').addEventListener('click', verify);
$('refresh').addEventListener('click', async () => {
  await pollMigrations();
  await refreshAll();
});
$('runs-more').addEventListener('click', () => loadRuns({ more: true }));
$('purge').addEventListener('click', purge);
$('health-refresh').addEventListener('click', () => loadHealth());
$('audit-filter').addEventListener('submit', event => {
  event.preventDefault();
  state.auditCursors = [];
  loadAudit(undefined);
});
$('audit-older').addEventListener('click', () => {
  state.auditCursors.push(state.auditBefore);
  loadAudit(state.auditNext);
});
$('audit-newer').addEventListener('click', () => loadAudit(state.auditCursors.pop()));
window.addEventListener('resize', () => chart?.setSize({ width: Math.max(300, $('runs-chart').clientWidth - 2), height: 220 }));

const saved = token.get();
if (saved) signIn(saved);
else $('token-input').focus();
