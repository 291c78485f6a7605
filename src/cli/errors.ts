import type { MigrateOptions, MikroORM } from '@mikro-orm/core';
import { SeedManager as BaseSeedManager } from '@mikro-orm/seeder';
import { loadConfigOrExit } from '../config.ts';
import { EnerlinkMigrator, type DownOptions } from '../schema/enerlink-migrator.ts';
import { withCacheAnnouncements } from './cache-announcements.ts';

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
    const hint = 'is PostgreSQL running and DATABASE_URL right?';
    // startup errors already say what they were doing
    if (error.name === 'StartupError') return `${error.message}; ${hint}`;
    return `cannot reach the database (${error.message.split('\n')[0]}); ${hint}`;
  }
  return error.message;
}

/**
 * EnerlinkMigrator for `npx mikro-orm migration:*`: every failure is one readable line, and
 * schema changes reach the cache of the running instances.
 */
export class CliMigrator extends EnerlinkMigrator {
  override origin = 'cli';

  override up(options?: string | string[] | MigrateOptions) {
    return exitOnFailure(() => this.announcingToCache(() => super.up(options)));
  }

  override down(options?: string | string[] | DownOptions) {
    return exitOnFailure(() => this.announcingToCache(() => super.down(options)));
  }

  private announcingToCache<T>(work: () => Promise<T>): Promise<T> {
    const connection = this.driver.getConnection();
    return withCacheAnnouncements(this, (sql, params) => connection.execute(sql, params), loadConfigOrExit(), work);
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
}

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
