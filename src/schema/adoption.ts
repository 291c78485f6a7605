import { randomBytes } from 'node:crypto';
import type { AbstractSqlConnection } from '@mikro-orm/sql';
import type { QueryRunner } from '../db/query-runner.ts';
import { COMPOSITE_INDEXES_MIGRATION, differencesAfterAdoption, recognizeDeployedState, RENAME_MIGRATION, type AdoptedMigration } from './legacy-adoption.ts';
import { SchemaContractError } from './migration-errors.ts';
import type { MigrationSource } from './migration-plan.ts';
import { readSchemaFingerprint, type SchemaFingerprint } from './schema-fingerprint.ts';

/** The migration that creates the deployed prosumer-era schema (the contract). */
export const INITIAL_MIGRATION = 'Migration20241102000000_InitialSchema';

/**
 * How a deployed database without migration history is taken over: the migrations to record as
 * applied (their schema is already there), each with the SQL that brings what the database has
 * to exactly what that migration would have built, and a check of the result. All of it runs
 * in one transaction.
 */
export interface AdoptionPlan {
  /** What the database was recognized as, for the log. */
  state: string;
  adopt: AdoptedMigration[];
  /** After the SQL ran, in its transaction: how the schema still differs (empty: as expected). */
  differences: (query: QueryRunner) => Promise<string[]>;
}

/**
 * Recognizes deployed databases that predate enerlink's migration history (the legacy contract,
 * or what the previous backend's rename script left, see legacy-adoption.ts) by comparing their
 * schema with what the migrations build, each read from a scratch schema that is rolled back.
 */
export class LegacyAdoption {
  readonly #source: MigrationSource;
  readonly #connection: AbstractSqlConnection;
  readonly #schema: string;
  /** Tables outside the schema the migrations build, left out of every comparison. */
  readonly #serviceTables: readonly string[];

  constructor(source: MigrationSource, connection: AbstractSqlConnection, schema: string, serviceTables: readonly string[]) {
    this.#source = source;
    this.#connection = connection;
    this.#schema = schema;
    this.#serviceTables = serviceTables;
  }

  /**
   * How to adopt this database, or null when there is nothing to adopt (a history exists, or
   * the database has no tables). Throws SchemaContractError when it is in no state enerlink knows.
   */
  async plan(executed: string[]): Promise<AdoptionPlan | null> {
    if (executed.length > 0) return null;
    const live = await readSchemaFingerprint(this.#query, this.#schema, this.#serviceTables);
    if (Object.keys(live).length === 0) return null;
    const { fingerprints: [contract, renamed, indexed], sql } = await this.#scratch([INITIAL_MIGRATION, RENAME_MIGRATION, COMPOSITE_INDEXES_MIGRATION]);
    const deployed = recognizeDeployedState(live, {
      contract,
      renamed,
      indexed,
      renameSql: sql[1],
      migrations: { initial: INITIAL_MIGRATION, rename: RENAME_MIGRATION, compositeIndexes: COMPOSITE_INDEXES_MIGRATION },
    });
    if (deployed.state === 'unrecognized') throw new SchemaContractError(deployed.differences);
    if (deployed.state === 'nothing to adopt') return null;
    const { expected } = deployed;
    return {
      state: deployed.state === 'legacy' ? 'the deployed legacy schema' : 'a database the previous backend renamed',
      adopt: deployed.adopt,
      differences: query => differencesAfterAdoption(query, this.#schema, this.#serviceTables, expected),
    };
  }

  /** The schema the initial migration creates (the contract). */
  async contractFingerprint(): Promise<SchemaFingerprint> {
    return (await this.#scratch([INITIAL_MIGRATION])).fingerprints[0];
  }

  /**
   * Runs `names` in order from nothing in a scratch schema, in a transaction that is rolled
   * back: the schema after each, and each one's `up` SQL. CONCURRENTLY is left out of
   * non-transactional migrations: it matters only on tables others write to, and cannot run in
   * the scratch's transaction.
   */
  async #scratch(names: string[]): Promise<{ fingerprints: SchemaFingerprint[]; sql: string[][] }> {
    const connection = this.#connection;
    const scratch = `enerlink_contract_${randomBytes(6).toString('hex')}`;
    const fingerprints: SchemaFingerprint[] = [];
    const sql: string[][] = [];
    const trx = await connection.begin();
    try {
      await connection.execute(`create schema ${scratch}`, [], 'run', trx);
      await connection.execute(`set local search_path to ${scratch}`, [], 'run', trx);
      for (const name of names) {
        const migration = await this.#source.load(name);
        migration.reset();
        await migration.up();
        const statements = migration.getQueries() as string[];
        sql.push(statements);
        for (const statement of statements) {
          await connection.execute(migration.isTransactional() ? statement : statement.replace(/\bCONCURRENTLY\b/gi, ''), [], 'run', trx);
        }
        fingerprints.push(await readSchemaFingerprint((text, params) => connection.execute(text, params, 'all', trx), scratch));
      }
      return { fingerprints, sql };
    } finally {
      await connection.rollback(trx);
    }
  }

  #query: QueryRunner = (sql, params = []) => this.#connection.execute(sql, params);
}
