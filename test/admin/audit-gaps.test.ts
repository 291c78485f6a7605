import { afterAll, describe, expect, it } from 'vitest';
import { expectProblem } from '../api.ts';
import { auditRows, newToken, startAdminApi, type AdminApi } from './admin-api.ts';

const apis: AdminApi[] = [];
afterAll(async () => {
  for (const api of apis) await api.close();
});

describe('every admin request leaves its audit row, whatever bytes it carries', () => {
  it('a wrong token with a NUL in the query string: 401, and the guess is on record', async () => {
    const api = await startAdminApi('audit_nul');
    apis.push(api);
    const wrong = newToken();
    const reply = await api.call('GET', '/admin/migrations?x=%00&y=a%00b', undefined, { authorization: `Bearer ${wrong}` });
    expectProblem(reply, 401, 'UNAUTHORIZED');
    const [entry] = await auditRows(api.db, 1);
    expect(entry).toMatchObject({ action: 'migrations.status', status_code: 401, outcome: 'refused', params: { query: { x: '\\u0000', y: 'a\\u0000b' } } });
    // with the right token the unknown parameter is refused, and recorded too
    expectProblem(await api.call('GET', '/admin/migrations?x=%00'), 400, 'VALIDATION_FAILED');
    expect((await auditRows(api.db, 1))[0]).toMatchObject({ status_code: 400, params: { query: { x: '\\u0000' } } });
  });

  it('unknown admin paths are answered after the token check and audited', async () => {
    const api = await startAdminApi('audit_unknown', { migrate: false });
    apis.push(api);
    const probe = await api.call('POST', '/admin/backdoor', { a: 1 }, { authorization: `Bearer ${newToken()}` });
    expectProblem(probe, 401, 'UNAUTHORIZED');
    expect((await auditRows(api.db, 1))[0]).toMatchObject({ action: 'unknown', method: 'POST', path: '/admin/backdoor', status_code: 401, outcome: 'refused' });
    const known = await api.call('GET', '/admin/no/such/thing');
    expectProblem(known, 404, 'ROUTE_NOT_FOUND');
    expect((await auditRows(api.db, 1))[0]).toMatchObject({ action: 'unknown', path: '/admin/no/such/thing', status_code: 404 });
  });
});
