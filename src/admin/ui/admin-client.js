// The operator page's only way to the admin API. The token lives in sessionStorage (gone when
// the browser tab closes), travels only in the Authorization header, never in a URL, and is
// never written anywhere else.

const TOKEN_KEY = 'enerlink.adminToken';

/** A refused or failed admin call, with the problem+json the API answered. */
export class AdminError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem ?? {};
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: value => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

async function call(method, path, body) {
  const headers = { authorization: `Bearer ${token.get() ?? ''}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  const text = await response.text();
  let payload;
  try {
    payload = text ? JSON.parse(text) : undefined;
  } catch {
    payload = { detail: text.slice(0, 300) };
  }
  if (!response.ok) throw new AdminError(response.status, payload);
  return payload;
}

const query = params => {
  const search = new URLSearchParams(Object.entries(params).filter(([, value]) => value !== undefined && value !== ''));
  const text = search.toString();
  return text ? `?${text}` : '';
};

export const api = {
  migrations: () => call('GET', '/admin/migrations'),
  runs: (before, limit = 50) => call('GET', `/admin/migrations/runs${query({ before, limit })}`),
  up: to => call('POST', '/admin/migrations/up', to === undefined ? {} : { to }),
  down: selection => call('POST', '/admin/migrations/down', selection),
  verify: () => call('GET', '/admin/schema/verify'),
  purgeCache: () => call('POST', '/admin/cache/purge', {}),
  cache: () => call('GET', '/admin/cache'),
  health: () => call('GET', '/admin/db/health'),
  audit: ({ before, action, outcome, limit = 25 }) => call('GET', `/admin/audit${query({ before, action, outcome, limit })}`),
};

/**
 * The plan of a target: what `up` to it (or `down` to it) would run, as
 * `{ method, migrations: [{ name, action, transactional, sql, locks?, lint? }] }`.
 * Today it is the dry run; once the API has `migration:plan` (locks and lint findings
 * too) this is the one function to point at it.
 */
export async function loadPlan(method, selection) {
  return call('POST', `/admin/migrations/${method}`, { ...selection, dryRun: true });
}
