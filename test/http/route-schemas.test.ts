import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import inputPolicy from '../../src/http/input-policy.ts';
import problemDetails from '../../src/http/problem-details.ts';
import { describeInvalidRouteSchemas } from '../../src/http/strict-validation.ts';
import { startApi, type Api } from '../api.ts';

// The validators skip Ajv's check of each schema against the meta-schema at run time (it cost
// the first request of every process tens of ms): it is made here, over every route of the app.
describe('every route schema', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi('route_schemas');
    await api.app.ready();
  });
  afterAll(async () => {
    await api.close();
  });

  it('is a valid JSON schema (draft-07 meta-schema), as the validator sees it', () => {
    expect(describeInvalidRouteSchemas()).toEqual([]);
  });

  it('is checked: a schema the meta-schema refuses is reported', async () => {
    const app = Fastify();
    await app.register(problemDetails);
    await app.register(inputPolicy);
    app.get('/n', { schema: { querystring: { type: 'object', properties: { n: { type: 'integer', minimum: 'one' } } } } }, async () => ({}));
    await app.ready();
    expect(describeInvalidRouteSchemas()).toEqual([expect.objectContaining({ errors: expect.stringContaining('minimum must be number') })]);
    await app.close();
  });
});
