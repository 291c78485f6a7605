import type { MigrateOptions, MikroORM } from '@mikro-orm/core';
import { SeedManager as BaseSeedManager } from '@mikro-orm/seeder';
import { EnerlinkMigrator, type DownOptions } from '../schema/enerlink-migrator.ts';

/**
 * Ends a failing command with a readable message and exit code 1 instead of a stack trace
 * and the command's help text. `ENERLINK_DEBUG=1` prints the stack too, for bug reports.
 */
export async function exitOnFailure<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    process.stderr.write(`enerlink: ${describeError(error)}\n`);
    if (process.env.ENERLINK_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    process.exit(1);
  }
}

/** A caller-facing description of an error: its message, with connection failures explained. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const text = [error.message, (error.cause as Error | undefined)?.message].join(' ');
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(text) || (error as { code?: string }).code === 'ECONNREFUSED') {
    return `cannot reach the database (${error.message.split('\n')[0]}); is PostgreSQL running and DATABASE_URL right?`;
  }
  return error.message;
}

/** EnerlinkMigrator for `npx mikro-orm migration:*`: every failure is one readable line. */
export const CliMigrator = class Migrator extends EnerlinkMigrator {
  static override register(orm: MikroORM): void {
    orm.config.registerExtension('@mikro-orm/migrator', () => new CliMigrator(orm.em as any));
  }

  override up(options?: string | string[] | MigrateOptions) {
    return exitOnFailure(() => super.up(options));
  }

  override down(options?: string | string[] | DownOptions) {
    return exitOnFailure(() => super.down(options));
  }

  override getExecuted(options?: { schema?: string }) {
    return exitOnFailure(() => super.getExecuted(options));
  }

  override getPending(options?: { schema?: string }) {
    return exitOnFailure(() => super.getPending(options));
  }

  override checkSchema() {
    return exitOnFailure(() => super.checkSchema());
  }

  override create(path?: string, blank?: boolean, initial?: boolean, name?: string) {
    return exitOnFailure(() => super.create(path, blank, initial, name));
  }
};

/**
 * SeedManager for `npx mikro-orm seeder:run`: a refusal or failure is one readable line. Named
 * SeedManager, as CliMigrator is named Migrator, so MikroORM does not register its own over it.
 */
export const CliSeedManager = class SeedManager extends BaseSeedManager {
  static override register(orm: MikroORM): void {
    orm.config.registerExtension('@mikro-orm/seeder', () => new CliSeedManager(orm.em));
  }

  override seedString(...classNames: string[]) {
    return exitOnFailure(() => super.seedString(...classNames));
  }
};
