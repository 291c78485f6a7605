import { randomBytes } from 'node:crypto';
import type { AbstractSqlConnection } from '@mikro-orm/sql';
import type { QueryRunner } from '../db/query-runner.ts';
import { SchemaContractError } from './migration-errors.ts';
import type { MigrationSource } from './migration-plan.ts';
import { diffSchemaFingerprints, readSchemaFingerprint, type SchemaFingerprint } from './schema-fingerprint.ts';

/** The migration that creates the deployed prosumer-era schema (the contract). */
export const INITIAL_MIGRATION = 'Migration20241102000000_InitialSchema';

/**
 * How a deployed database without migration history is taken over: which migrations to record
 * as applied (their schema is already there) and the SQL that brings what is there to exactly
 * what those migrations would have built. Both happen in one transaction.
 */
export interface AdoptionPlan {
  /** What the database was recognized as, for the log. */
  state: string;
  record: string[];
  reconcile: string[];
}

/**
 * Recognizes deployed databases that predate enerlink's migration history, by comparing their
 * schema with what the migrations build.
 */
export class LegacyAdoption {
  readonly #source: MigrationSource;
  readonly #connection: AbstractSqlConnection;
  readonly #schema: string;
  /** Tables that are enerlink's or MikroORM's own machinery, left out of every comparison. */
  readonly #serviceTables: readonly string[];

  constructor(source: MigrationSource, connection: AbstractSqlConnection, schema: string, serviceTables: readonly string[]) {
    this.#source = source;
    this.#connection = connection;
    this.#schema = schema;
    this.#serviceTables = serviceTables;
  }

  /**
   * How to adopt this database, or null when there is nothing to adopt (a history exists, or
   * the database is empty). Throws SchemaContractError when it is in no state enerlink knows.
   */
  async plan(executed: string[]): Promise<AdoptionPlan | null> {
    if (executed.length > 0) return null;
    const live = await this.liveFingerprint();
    const contract = await this.contractFingerprint();
    const relevant = new Set([...Object.keys(contract), 'user']);
    const ours = Object.fromEntries(Object.entries(live).filter(([table]) => relevant.has(table)));
    if (Object.keys(ours).length === 0) return null;
    const differences = diffSchemaFingerprints(contract, ours);
    if (differences.length > 0) throw new SchemaContractError(differences);
    return { state: 'the deployed legacy schema', record: [INITIAL_MIGRATION], reconcile: [] };
  }

  /** The shape of the live schema, without the bookkeeping tables. */
  liveFingerprint(): Promise<SchemaFingerprint> {
    return readSchemaFingerprint(this.#query, this.#schema, this.#serviceTables);
  }

  /** The schema the initial migration creates, read from a scratch schema that is rolled back. */
  async contractFingerprint(): Promise<SchemaFingerprint> {
    const migration = await this.#source.load(INITIAL_MIGRATION);
    migration.reset();
    await migration.up();
    const connection = this.#connection;
    const scratch = `enerlink_contract_${randomBytes(6).toString('hex')}`;
    const trx = await connection.begin();
    try {
      await connection.execute(`create schema ${scratch}`, [], 'run', trx);
      await connection.execute(`set local search_path to ${scratch}`, [], 'run', trx);
      for (const sql of migration.getQueries()) await connection.execute(sql as string, [], 'run', trx);
      return await readSchemaFingerprint((sql, params) => connection.execute(sql, params, 'all', trx), scratch);
    } finally {
      await connection.rollback(trx);
    }
  }

  #query: QueryRunner = (sql, params = []) => this.#connection.execute(sql, params);
}
