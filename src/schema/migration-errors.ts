/** A migration name (or 14-digit version) that no migration file has. */
export class UnknownMigrationError extends Error {
  override name = 'UnknownMigrationError';
  readonly migration: string;
  constructor(migration: string) {
    super(`Unknown migration: ${migration}`);
    this.migration = migration;
  }
}

/** A `down` to a migration that exists but is not applied: there is nothing to revert to. */
export class MigrationNotAppliedError extends Error {
  override name = 'MigrationNotAppliedError';
  readonly migration: string;
  constructor(migration: string) {
    super(`Migration ${migration} is not applied: cannot revert to it`);
    this.migration = migration;
  }
}

/** A `down` that would revert the initial migration, which drops every table, without being asked to. */
export class InitialRevertNotConfirmedError extends Error {
  override name = 'InitialRevertNotConfirmedError';
  readonly migration: string;
  constructor(migration: string) {
    super(`Reverting ${migration} drops every table of the schema and its rows; ask for it explicitly (--to 0 on the command line, revertInitial: true over HTTP), after a backup`);
    this.migration = migration;
  }
}

/** The database has tables but no migration history, and they are in no state enerlink can adopt. */
export class SchemaContractError extends Error {
  override name = 'SchemaContractError';
  readonly differences: string[];
  constructor(differences: string[]) {
    super(
      `Refusing to adopt this database: it has no migration history and its schema differs from the legacy contract ` +
        `in ${differences.length} place(s):\n  ${differences.join('\n  ')}`,
    );
    this.differences = differences;
  }
}

/** A migration failed; nothing of its batch was kept. */
export class MigrationFailedError extends Error {
  override name = 'MigrationFailedError';
  readonly migration: string;
  readonly method: 'up' | 'down';
  constructor(migration: string, method: 'up' | 'down', cause: unknown) {
    super(`Migration ${migration} (${method}) failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.migration = migration;
    this.method = method;
  }
}

/** PostgreSQL's lock_not_available: a `lock_timeout` expired. */
export function isLockTimeout(error: unknown): boolean {
  for (let e = error as { code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === '55P03') return true;
  }
  return false;
}
