// JSON schemas of the admin API: what each route takes and answers (also its OpenAPI document).
import { MAX_SEED } from '../config.ts';
import { SCENARIO_NAMES } from '../seeding/scenario-names.ts';
import { problemProperties, problemRequired, problemResponses } from '../http/problem-details.ts';
import { timestampSchema } from '../http/schemas.ts';

/** Largest fixture set the API seeds in one request; bigger ones belong to `npm run seed`. */
export const MAX_API_SEED_ROWS = 100_000;

const tags = ['admin'];
const security = [{ adminToken: [] }];
const noQuery = { type: 'object', properties: {}, additionalProperties: false } as const;

/** A migration name as the files name it, or its 14-digit version. */
const migrationName = {
  type: 'string',
  minLength: 1,
  maxLength: 200,
  pattern: '^[A-Za-z0-9_.-]+$',
  description: 'A migration name (Migration20241102000001_RenameProsumerToUser) or its 14-digit version (20241102000001)',
} as const;

const verification = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    checkedAt: timestampSchema,
    checks: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', enum: ['foreign keys', 'indexes', 'orphaned rows', 'row counts'] },
          ok: { type: 'boolean' },
          detail: { type: 'string' },
        },
        required: ['name', 'ok', 'detail'],
      },
    },
    scope: {
      type: 'string',
      enum: ['run', 'full'],
      description: "run: what the run itself could change, at a cost independent of the row count (counts are PostgreSQL's estimates); full: every check over every row (counts are exact)",
    },
    counts: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Row count of every table: exact for a full verification, estimated for a run' },
  },
  required: ['ok', 'checkedAt', 'scope', 'checks', 'counts'],
} as const;

const runReport = {
  type: 'object',
  description: 'What the run did (also recorded in enerlink_migration_run)',
  properties: {
    dryRun: { type: 'boolean', enum: [false] },
    method: { type: 'string', enum: ['up', 'down'] },
    origin: { type: 'string', description: 'Who started the run: admin-api here' },
    status: { type: 'string', enum: ['applied', 'nothing to do'] },
    startedAt: timestampSchema,
    durationMs: { type: 'number' },
    migrations: {
      type: 'array',
      items: { type: 'object', properties: { name: { type: 'string' }, durationMs: { type: 'number' } }, required: ['name', 'durationMs'] },
    },
    backupFile: { type: 'string' },
    verification,
  },
  required: ['dryRun', 'method', 'origin', 'status', 'startedAt', 'durationMs', 'migrations'],
} as const;

/** A lint finding (see src/schema/migration-lint.ts). */
const lintFinding = {
  type: 'object',
  properties: {
    rule: { type: 'string' },
    migration: { type: 'string' },
    file: { type: ['string', 'null'] },
    direction: { type: 'string', enum: ['up', 'down'] },
    statement: { type: ['string', 'null'] },
    message: { type: 'string', description: 'What is unsafe about it on a live database' },
    safe: { type: 'string', description: 'The safe alternative' },
    allowed: { type: ['string', 'null'], description: 'The reason of the lint-ignore annotation that allows it; null: not allowed' },
  },
  required: ['rule', 'migration', 'file', 'direction', 'statement', 'message', 'safe', 'allowed'],
} as const;

const dryRunReport = {
  type: 'object',
  description: 'What the run would do: nothing was applied and no lock was taken',
  properties: {
    dryRun: { type: 'boolean', enum: [true] },
    method: { type: 'string', enum: ['up', 'down'] },
    migrations: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          action: { type: 'string', enum: ['apply', 'revert', 'adopt'], description: 'adopt: a deployed legacy database, recorded as migrated without running anything' },
          transactional: { type: 'boolean' },
          sql: { type: 'array', items: { type: 'string' } },
          statements: {
            type: 'array',
            description: 'Each statement as PostgreSQL parses it: the locks it takes, whether it rewrites or scans, estimated rows',
            items: {
              type: 'object',
              properties: {
                sql: { type: 'string' },
                kind: { type: 'string', description: 'The parse tree statement type (AlterTableStmt, IndexStmt, ...), or unparsable' },
                note: { type: ['string', 'null'] },
                locks: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      table: { type: 'string' },
                      mode: { type: 'string', enum: ['ACCESS SHARE', 'ROW SHARE', 'ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'] },
                      blocks: { type: 'string', enum: ['reads and writes', 'writes', 'other schema changes', 'nothing'] },
                      rewrites: { type: 'boolean' },
                      scans: { type: 'boolean' },
                      created: { type: 'boolean' },
                      newTable: { type: 'boolean' },
                      estimatedRows: { type: ['integer', 'null'], description: "pg_class.reltuples; null when the table is not there or was never analysed" },
                    },
                    required: ['table', 'mode', 'blocks', 'rewrites', 'scans', 'created', 'newTable', 'estimatedRows'],
                  },
                },
              },
              required: ['sql', 'kind', 'note', 'locks'],
            },
          },
          findings: { type: 'array', description: 'The lint findings (see npm run migration:lint)', items: lintFinding },
        },
        required: ['name', 'action', 'transactional', 'sql', 'statements', 'findings'],
      },
    },
  },
  required: ['dryRun', 'method', 'migrations'],
} as const;

/** The 409 of a run refused because another one holds the fleet lock. */
const migrationRunning = {
  type: 'object',
  description: 'Problem details; `running` says what holds the migration lock',
  properties: {
    ...problemProperties,
    running: {
      type: 'object',
      properties: {
        backendPid: { type: 'integer' },
        applicationName: { type: ['string', 'null'] },
        clientAddress: { type: ['string', 'null'] },
        activity: {
          type: 'object',
          properties: {
            operation: { type: 'string' },
            origin: { type: 'string' },
            host: { type: 'string' },
            pid: { type: 'integer' },
            startedAt: timestampSchema,
            migrations: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
    differences: { type: 'array', items: { type: 'string' } },
    problems: {
      type: 'array',
      description: 'MIGRATION_INTEGRITY_FAILED: each applied migration edited or deleted since it ran',
      items: {
        type: 'object',
        properties: { migration: { type: 'string' }, state: { type: 'string', enum: ['edited', 'missing'] }, detail: { type: 'string' } },
        required: ['migration', 'state', 'detail'],
      },
    },
  },
  required: problemRequired,
} as const;

/** A run as the run log keeps it (GET /admin/migrations/runs). */
const recordedRun = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    method: { type: 'string', enum: ['up', 'down', 'repair'], description: 'repair: npm run migration:repair accepted an edited or deleted migration' },
    origin: { type: ['string', 'null'], description: 'startup, cli or admin-api; null for runs recorded before enerlink kept it' },
    status: {
      type: 'string',
      enum: ['running', 'applied', 'failed', 'interrupted'],
      description: 'running: in progress, or its process died and no run has started since; interrupted: its process died before it finished',
    },
    startedAt: timestampSchema,
    durationMs: { type: 'number' },
    migrations: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          durationMs: { type: 'number' },
          action: { type: 'string', description: 'Of a repair: accepted edit, or forgot missing' },
          previousChecksum: { type: ['string', 'null'] },
          checksum: { type: ['string', 'null'] },
        },
        required: ['name', 'durationMs'],
      },
    },
    backupFile: { type: ['string', 'null'] },
    verification: { anyOf: [verification, { type: 'null' }] },
    error: { type: ['string', 'null'] },
    host: { type: 'string' },
    pid: { type: 'integer' },
    actor: { type: ['string', 'null'], description: 'Of a repair: who (--by)' },
    reason: { type: ['string', 'null'], description: 'Of a repair: why (--reason)' },
  },
  required: ['id', 'method', 'origin', 'status', 'startedAt', 'durationMs', 'migrations', 'host', 'pid'],
} as const;

const namedDetail = { type: 'object', properties: { name: { type: 'string' }, detail: { type: ['string', 'null'] } }, required: ['name', 'detail'] } as const;

/** One migration's state (see MigrationState). */
const migrationState = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    state: { type: 'string', enum: ['applied', 'pending', 'edited', 'missing', 'unknown'] },
    appliedAt: { anyOf: [timestampSchema, { type: 'null' }] },
    durationMs: { type: ['number', 'null'] },
    appliedBy: {
      anyOf: [
        {
          type: 'object',
          properties: {
            origin: { type: ['string', 'null'] },
            host: { type: ['string', 'null'] },
            pid: { type: ['integer', 'null'] },
            runId: { type: ['string', 'null'] },
            how: { type: 'string', enum: ['run', 'adoption', 'unrecorded'] },
          },
          required: ['origin', 'host', 'pid', 'runId', 'how'],
        },
        { type: 'null' },
      ],
    },
    checksum: {
      anyOf: [
        {
          type: 'object',
          properties: { recorded: { type: 'string' }, source: { type: 'string', enum: ['run', 'adoption', 'backfill', 'repair'] }, recordedAt: timestampSchema },
          required: ['recorded', 'source', 'recordedAt'],
        },
        { type: 'null' },
      ],
    },
    detail: { type: ['string', 'null'] },
  },
  required: ['name', 'state', 'appliedAt', 'durationMs', 'appliedBy', 'checksum', 'detail'],
} as const;

const runResponses = { 200: { oneOf: [runReport, dryRunReport] }, 409: migrationRunning, ...problemResponses } as const;

export const statusSchema = {
  tags,
  security,
  summary: 'Every migration with its state (applied, pending, edited, missing, unknown), the last failed run, and whether a run is in progress',
  querystring: noQuery,
  response: {
    200: {
      type: 'object',
      properties: {
        executed: {
          type: 'array',
          items: { type: 'object', properties: { name: { type: 'string' }, executedAt: timestampSchema }, required: ['name', 'executedAt'] },
        },
        pending: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
        unknown: {
          type: 'array',
          description: 'Applied migrations this release does not know (a newer release applied them)',
          items: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        },
        edited: {
          type: 'array',
          description: 'Applied migrations whose file runs other SQL now (an up is refused until npm run migration:repair)',
          items: namedDetail,
        },
        missing: {
          type: 'array',
          description: 'Applied migrations whose file is gone from this release (an up is refused until npm run migration:repair)',
          items: namedDetail,
        },
        migrations: { type: 'array', description: 'Every migration with its state, as npm run migration:status lists them', items: migrationState },
        lastFailedRun: { anyOf: [recordedRun, { type: 'null' }], description: 'The newest failed (or refused) run, whether or not a later one succeeded' },
        clean: { type: 'boolean', description: 'Nothing pending, edited or missing (migration:status exits 0)' },
        migrating: { type: 'boolean', description: 'A migration run (or a restore) holds the fleet lock right now' },
        running: migrationRunning.properties.running,
      },
      required: ['executed', 'pending', 'unknown', 'edited', 'missing', 'migrations', 'lastFailedRun', 'clean', 'migrating'],
    },
    ...problemResponses,
  },
} as const;

/** A page of a newest-first list of `item`s (see keysetPage). */
function pageOf<T extends object>(item: T) {
  return {
    type: 'object',
    properties: { items: { type: 'array', items: item }, nextCursor: { type: ['string', 'null'] } },
    required: ['items', 'nextCursor'],
  } as const;
}

/** `?limit=&before=` of the admin API's newest-first lists. */
const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
  before: { type: 'string', pattern: '^[1-9][0-9]{0,17}$', description: 'nextCursor of the previous page' },
} as const;

export const runsSchema = {
  tags,
  security,
  summary: 'Every migration run of the database, newest first: startup, CLI and admin API alike',
  querystring: { type: 'object', properties: pageQuery, additionalProperties: false },
  response: {
    200: pageOf(recordedRun),
    ...problemResponses,
  },
} as const;

export const upSchema = {
  tags,
  security,
  summary: 'Apply pending migrations under the fleet lock (or, with dryRun, show the SQL)',
  description: 'Applies every pending migration, or those up to and including `to`. A run already in progress anywhere in the fleet: 409.',
  querystring: noQuery,
  body: {
    type: 'object',
    properties: {
      to: migrationName,
      dryRun: { type: 'boolean', default: false, description: 'Return the SQL it would run; apply nothing' },
    },
    additionalProperties: false,
  },
  response: runResponses,
} as const;

export const downSchema = {
  tags,
  security,
  summary: 'Revert migrations under the fleet lock (one by default)',
  description: 'Reverts the last `steps` migrations (default 1), or every migration applied after `to` (which stays applied).',
  querystring: noQuery,
  body: {
    type: 'object',
    properties: {
      to: migrationName,
      steps: { type: 'integer', minimum: 1, maximum: 10_000 },
      revertInitial: {
        type: 'boolean',
        default: false,
        description: 'Allow reverting the initial migration, which drops every table and its rows; without it such a request is refused (409 REVERT_NOT_CONFIRMED)',
      },
      dryRun: { type: 'boolean', default: false, description: 'Return the SQL it would run; revert nothing' },
    },
    additionalProperties: false,
  },
  response: runResponses,
} as const;

export const verifySchema = {
  tags,
  security,
  summary: 'Run the integrity checks now: foreign keys, indexes, orphaned rows',
  querystring: noQuery,
  response: { 200: verification, ...problemResponses },
} as const;

export const seedSchema = {
  tags,
  security,
  summary: 'Build the fixture set (users, each with a wallet and a smart meter); refused in production',
  description: `Idempotent: rows already there are kept. Up to ${MAX_API_SEED_ROWS.toLocaleString('en')} users or trades; more with npm run seed.`,
  querystring: noQuery,
  body: {
    type: 'object',
    properties: {
      users: { type: 'integer', minimum: 1, maximum: MAX_API_SEED_ROWS, description: 'Default: SEED_USERS' },
      trades: { type: 'integer', minimum: 0, maximum: MAX_API_SEED_ROWS, description: 'Default: SEED_TRADES' },
      seed: { type: 'integer', minimum: 0, maximum: MAX_SEED, description: 'Default: SEED; the same seed gives the same rows' },
      scenario: { type: 'string', enum: [...SCENARIO_NAMES], description: 'A named scenario (its own households, beside the base set) instead of the base set; takes only seed, except large-market, which takes users and trades too' },
    },
    additionalProperties: false,
  },
  response: {
    200: {
      anyOf: [
        {
          type: 'object',
          description: 'A scenario: its rows by table and the login that shows it',
          properties: {
            scenario: { type: 'string' },
            seed: { type: 'integer' },
            shows: { type: 'string' },
            tables: { type: 'array', items: { type: 'object', properties: { label: { type: 'string' }, rows: { type: 'integer' } }, required: ['label', 'rows'] } },
            rows: { type: 'integer' },
            inserted: { type: 'integer' },
            durationMs: { type: 'number' },
            login: { type: 'object', properties: { email: { type: 'string' }, password: { type: 'string' } }, required: ['email', 'password'] },
          },
          required: ['scenario', 'seed', 'shows', 'tables', 'rows', 'inserted', 'durationMs', 'login'],
        },
        {
      type: 'object',
      description: 'The base set',
      properties: {
        seed: { type: 'integer' },
        users: { type: 'integer' },
        wallets: { type: 'integer' },
        meters: { type: 'integer' },
        settlements: { type: 'integer' },
        conversions: { type: 'integer' },
        offers: { type: 'integer' },
        trades: { type: 'integer' },
        transactionLogs: { type: 'integer' },
        rows: { type: 'integer' },
        inserted: { type: 'integer', description: 'Rows this request added; 0 when the set was already there' },
        durationMs: { type: 'number' },
        rowsPerSecond: { type: 'number' },
        demo: { type: 'object', properties: { email: { type: 'string' }, password: { type: 'string' } }, required: ['email', 'password'] },
      },
      required: ['seed', 'users', 'wallets', 'meters', 'settlements', 'conversions', 'offers', 'trades', 'transactionLogs', 'rows', 'inserted', 'durationMs', 'rowsPerSecond', 'demo'],
        },
      ],
    },
    ...problemResponses,
  },
} as const;

export const purgeSchema = {
  tags,
  security,
  summary: 'Delete every cache entry of a namespace (SCAN + UNLINK, never FLUSH)',
  querystring: noQuery,
  body: {
    type: 'object',
    properties: {
      namespace: { type: 'string', minLength: 1, maxLength: 100, description: 'Default: CACHE_PREFIX, this service’s own entries' },
    },
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        namespace: { type: 'string' },
        matched: { type: 'integer' },
        deleted: { type: 'integer' },
        durationMs: { type: 'number' },
      },
      required: ['namespace', 'matched', 'deleted', 'durationMs'],
    },
    ...problemResponses,
  },
} as const;

export const auditSchema = {
  tags,
  security,
  summary: 'Who did what, when, with what result: newest first, a page at a time',
  querystring: {
    type: 'object',
    properties: {
      ...pageQuery,
      action: { type: 'string', minLength: 1, maxLength: 64 },
      outcome: { type: 'string', enum: ['succeeded', 'refused', 'failed'] },
    },
    additionalProperties: false,
  },
  response: {
    200: pageOf({
      type: 'object',
      properties: {
        id: { type: 'string' },
        action: { type: 'string' },
        method: { type: 'string' },
        path: { type: 'string' },
        params: { type: ['object', 'null'], additionalProperties: true },
        statusCode: { type: 'integer' },
        outcome: { type: 'string', enum: ['succeeded', 'refused', 'failed'] },
        result: { type: ['object', 'null'], additionalProperties: true },
        tokenFingerprint: { type: ['string', 'null'], description: 'First 16 hex digits of the SHA-256 of the presented token' },
        clientAddress: { type: ['string', 'null'] },
        userAgent: { type: ['string', 'null'] },
        requestId: { type: 'string' },
        startedAt: timestampSchema,
        durationMs: { type: 'number' },
      },
      required: ['id', 'action', 'method', 'path', 'statusCode', 'outcome', 'requestId', 'startedAt', 'durationMs'],
    }),
    ...problemResponses,
  },
} as const;
