import { keysetPage, type KeysetPage } from '../db/keyset-page.ts';
import type { QueryRunner } from '../db/query-runner.ts';
import { ServiceTableGuard, type ServiceTable } from '../db/service-tables.ts';

/**
 * The admin API's audit log, a service table like the migration run log: it must exist before
 * the first migration is applied over HTTP, and survive every `down`.
 */
export const ADMIN_AUDIT_TABLE: ServiceTable = {
  name: 'enerlink_admin_audit',
  create: [
    `create table if not exists enerlink_admin_audit (
      id bigserial primary key,
      action varchar(64) not null,
      method varchar(10) not null,
      path text not null,
      params jsonb,
      status_code smallint not null,
      outcome varchar(10) not null,
      result jsonb,
      token_fingerprint char(16),
      client_address text,
      user_agent text,
      request_id text not null,
      started_at timestamptz not null,
      duration_ms numeric(12, 3) not null
    )`,
    'create index if not exists enerlink_admin_audit_action_idx on enerlink_admin_audit (action, id)',
  ],
};

/** How an action ended: done, refused (any 4xx: token, rate limit, input, conflict) or failed (5xx). */
export type AuditOutcome = 'succeeded' | 'refused' | 'failed';

/** One admin action, as recorded. */
export interface AuditEntry {
  action: string;
  method: string;
  path: string;
  /** Body, query and path parameters, with anything that looks like a secret redacted. */
  params: Record<string, unknown> | null;
  statusCode: number;
  outcome: AuditOutcome;
  /** What it did (a summary) or why it was refused. */
  result: Record<string, unknown> | null;
  /** tokenFingerprint() of the presented token; null when none was presented. */
  tokenFingerprint: string | null;
  clientAddress: string | null;
  userAgent: string | null;
  requestId: string;
  startedAt: Date;
  durationMs: number;
}

/** A recorded entry, with its id (the pagination cursor). */
export interface StoredAuditEntry extends Omit<AuditEntry, 'startedAt'> {
  id: string;
  startedAt: string;
}

/** A page of the log, newest first. */
export type AuditPage = KeysetPage<StoredAuditEntry>;

export interface AuditQuery {
  limit: number;
  /** Only entries older than this id. */
  before?: string;
  action?: string;
  outcome?: AuditOutcome;
}

const SECRET_KEY = /pass(word)?|token|secret|authori[sz]ation|api[-_]?key|cookie/i;
const MAX_PARAMS_CHARS = 4_000;

/** The outcome an HTTP status stands for. */
export function outcomeOf(statusCode: number): AuditOutcome {
  return statusCode >= 500 ? 'failed' : statusCode >= 400 ? 'refused' : 'succeeded';
}

/**
 * `value` fit to store: keys that look like secrets redacted at any depth, and, when it is
 * bigger than a few kilobytes (a fuzzer, a mistake), a truncated preview instead.
 */
export function auditParams(value: Record<string, unknown>): Record<string, unknown> | null {
  const redacted = redact(value);
  if (!redacted || Object.keys(redacted as object).length === 0) return null;
  const text = JSON.stringify(redacted);
  return text.length <= MAX_PARAMS_CHARS ? (redacted as Record<string, unknown>) : { truncated: true, chars: text.length, preview: text.slice(0, 500) };
}

// PostgreSQL's text and jsonb cannot hold U+0000; an audit row must be written whatever bytes
// the request carried (a guesser must not be able to hide a guess behind a NUL).
const NUL = /\u0000/g;
const storable = (text: string) => text.replace(NUL, '\\u0000');

function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[too deep]';
  if (typeof value === 'string') return storable(value);
  if (Array.isArray(value)) return value.map(item => redact(item, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [storable(key), SECRET_KEY.test(key) ? '[redacted]' : redact(item, depth + 1)]),
    );
  }
  return value;
}

/** Writes and reads the audit table, creating it on first use. */
export class AuditLog {
  readonly #execute: QueryRunner;
  readonly #table: ServiceTableGuard;

  constructor(execute: QueryRunner) {
    this.#execute = execute;
    this.#table = new ServiceTableGuard(execute, ADMIN_AUDIT_TABLE);
  }

  /** Creates the table if it is not there (once per process; again after a failure). */
  ensureTable(): Promise<void> {
    return this.#table.ready();
  }

  async record(entry: AuditEntry): Promise<void> {
    await this.ensureTable();
    await this.#execute(
      `insert into ${ADMIN_AUDIT_TABLE.name}
         (action, method, path, params, status_code, outcome, result, token_fingerprint, client_address, user_agent, request_id, started_at, duration_ms)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        entry.action,
        entry.method,
        storable(entry.path),
        entry.params === null ? null : JSON.stringify(redact(entry.params)),
        entry.statusCode,
        entry.outcome,
        entry.result === null ? null : JSON.stringify(redact(entry.result)),
        entry.tokenFingerprint,
        entry.clientAddress,
        entry.userAgent === null ? null : storable(entry.userAgent.slice(0, 500)),
        storable(entry.requestId),
        entry.startedAt,
        entry.durationMs,
      ],
    );
  }

  /** Newest first, `limit` at a time, after the cursor `before`, optionally of one action or outcome. */
  async list({ limit, before, action, outcome }: AuditQuery): Promise<AuditPage> {
    await this.ensureTable();
    const filters = [
      ['id < ?', before],
      ['action = ?', action],
      ['outcome = ?', outcome],
    ].filter(([, value]) => value !== undefined);
    const where = filters.map(([condition]) => condition);
    const params = filters.map(([, value]) => value);
    const rows = await this.#execute(
      `select id::text, action, method, path, params, status_code, outcome, result, token_fingerprint, client_address,
              user_agent, request_id, started_at, duration_ms::float8 as duration_ms
         from ${ADMIN_AUDIT_TABLE.name} ${where.length ? `where ${where.join(' and ')}` : ''}
        order by id desc limit ?`,
      [...params, limit + 1],
    );
    return keysetPage(
      rows,
      limit,
      (row): StoredAuditEntry => ({
        id: row.id,
        action: row.action,
        method: row.method,
        path: row.path,
        params: row.params,
        statusCode: row.status_code,
        outcome: row.outcome,
        result: row.result,
        tokenFingerprint: row.token_fingerprint,
        clientAddress: row.client_address,
        userAgent: row.user_agent,
        requestId: row.request_id,
        startedAt: new Date(row.started_at).toISOString(),
        durationMs: row.duration_ms,
      }),
    );
  }
}
