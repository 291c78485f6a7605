import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { TestDatabase } from './helper.ts';

// The previous backend's rename guide, run exactly as written: its SQL is read from the
// customer's document, not copied into the tests.
const GUIDE = readFileSync(new URL('./fixtures/customer/previous-backend-guide.txt', import.meta.url), 'utf8');

function sqlBlocks(text: string): string[] {
  return [...text.matchAll(/```sql\n([\s\S]*?)```/g)].map(match => match[1]);
}

function section(from: string, to: string): string {
  const start = GUIDE.indexOf(from);
  const end = GUIDE.indexOf(to, start);
  if (start < 0 || end < 0) throw new Error(`the guide has no section from "${from}" to "${to}"`);
  return GUIDE.slice(start, end);
}

/** "Complete Migration Script (All-in-One)": one transaction; leaves token_blacklist, the primary key and the unique constraint of "user" in their legacy form, no comments, no composite indexes. */
export const ALL_IN_ONE_SCRIPT = sqlBlocks(section('## Complete Migration Script (All-in-One)', '## Rollback Script'))[0];

/** "Rollback Script (Emergency Only)": back to prosumer, but its foreign keys lose ON DELETE CASCADE and two indexes are not restored. */
export const ROLLBACK_SCRIPT = sqlBlocks(section('## Rollback Script', '## Post-Migration Checklist'))[0];

/** The step-by-step guide's SQL blocks (Step 1 to Step 6, without the verification queries), by heading. */
export const GUIDE_STEPS: Array<{ heading: string; sql: string }> = (() => {
  const steps = section('## Migration Steps', '### Step 7: Verify Migration');
  const parts = steps.split(/^(#{3,4} .*)$/m).slice(1);
  const result: Array<{ heading: string; sql: string }> = [];
  for (let i = 0; i < parts.length; i += 2) {
    for (const sql of sqlBlocks(parts[i + 1])) result.push({ heading: parts[i].replace(/^#+ /, ''), sql });
  }
  return result;
})();

/**
 * Runs SQL the way an operator ran the guide with psql: on a session of its own (the guide
 * sets `session_replication_role`, which must not leak into the test's pool), statements in
 * autocommit unless the script itself says BEGIN.
 */
export async function runAsOperator(db: Pick<TestDatabase, 'url'>, sql: string | string[]): Promise<void> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    for (const script of [sql].flat()) await client.query(script);
  } finally {
    await client.end();
  }
}

/** TypeORM's migrations table as the previous backend left it (its exact DDL), with its history. */
export async function createTypeOrmMigrationsTable(db: Pick<TestDatabase, 'query'>): Promise<void> {
  await db.query(`CREATE TABLE "migrations" ("id" SERIAL NOT NULL, "timestamp" bigint NOT NULL, "name" character varying NOT NULL,
    CONSTRAINT "PK_8c82d7f526340ab734260ea46be" PRIMARY KEY ("id"))`);
  await db.query(`INSERT INTO "migrations" ("timestamp", "name") VALUES
    (1698796800000, 'InitialSchema1698796800000'), (1709251200000, 'AddTokenBlacklist1709251200000')`);
}
