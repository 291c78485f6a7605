import { resolve } from 'node:path';
import type { MigrateOptions, MikroORM } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { SeedManager as BaseSeedManager } from '@mikro-orm/seeder';
import type { AppConfig } from '../config.ts';
import { withCommandLifecycle } from '../lifecycle/schema-lifecycle.ts';
import { EnerlinkMigrator } from '../schema/enerlink-migrator.ts';
import type { DownOptions } from '../schema/migration-plan.ts';
import { exitOnFailure } from './errors.ts';
import { describeLint } from './migration-output.ts';

/**
 * The migrator of `npx mikro-orm migration:*`: each command runs in the schema lifecycle (so
 * its schema changes reach every running instance's cache through PostgreSQL), its runs say
 * they came from the CLI, and every failure is one readable line.
 */
export function cliMigrator(config: AppConfig): typeof EnerlinkMigrator {
  return class CliMigrator extends EnerlinkMigrator {
    protected override origin = 'cli';

    override up(options?: string | string[] | MigrateOptions) {
      return exitOnFailure(() => {
        checkSelectionFlags(process.argv.slice(2));
        return this.#inLifecycle(() => super.up(options));
      });
    }

    override down(options?: string | string[] | DownOptions) {
      return exitOnFailure(() => {
        checkSelectionFlags(process.argv.slice(2));
        return this.#inLifecycle(() => super.down(options));
      });
    }

    #inLifecycle<T>(work: () => Promise<T>): Promise<T> {
      return withCommandLifecycle({ em: this.em as EntityManager, migrator: this, config }, work);
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

    // prints the lint of the file it wrote, so its author sees the unsafe operations at once
    override create(path?: string, blank?: boolean, initial?: boolean, name?: string) {
      return exitOnFailure(async () => {
        const created = await super.create(path, blank, initial, name);
        if (created.fileName) {
          const file = resolve(this.config.get('baseDir'), path ?? this.config.get('migrations').path ?? 'migrations', created.fileName);
          const report = await this.review.lintFile(file, () => this.loadFile(file));
          process.stdout.write(`Lint of ${created.fileName}:\n${describeLint(report)}`);
        }
        return created;
      });
    }
  };
}

const SELECTION_FLAGS: Record<string, string> = { '-t': '--to', '--to': '--to', '-f': '--from', '--from': '--from', '-o': '--only', '--only': '--only' };

/**
 * MikroORM's CLI reads `--to` without a value (or `--to ""`) as no `--to` at all, i.e. "apply
 * everything", and a repeated `--to` as its last one. Both are mistakes worth stopping for.
 */
export function checkSelectionFlags(args: string[]): void {
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const name = SELECTION_FLAGS[flag];
    if (!name) continue;
    if (seen.has(name)) throw new Error(`${name} is given more than once`);
    seen.add(name);
    const value = inline ?? args[i + 1];
    if (value === undefined || value.trim() === '' || (inline === undefined && value.startsWith('-'))) {
      throw new Error(`${name} needs a value: a migration name or its 14-digit version${name === '--to' ? ' (0 for all)' : ''}`);
    }
  }
}

/**
 * SeedManager for `npx mikro-orm seeder:run`: a refusal or failure is one readable line. Named
 * SeedManager, as the migrator is named Migrator, so MikroORM does not register its own over it.
 */
export const CliSeedManager = class SeedManager extends BaseSeedManager {
  static override register(orm: MikroORM): void {
    orm.config.registerExtension('@mikro-orm/seeder', () => new CliSeedManager(orm.em));
  }

  override seedString(...classNames: string[]) {
    return exitOnFailure(() => super.seedString(...classNames));
  }
};
