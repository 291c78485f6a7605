import type { MigrationInfo } from '@mikro-orm/core';
import type { EnerlinkMigrator } from '../schema/enerlink-migrator.ts';
import type { EventBus } from './event-bus.ts';

/**
 * Makes `migrator` a source of the bus: `migration.migrating` as each migration starts, then per
 * batch `schema.committing` (transaction still open), and once it has committed
 * `migration.migrated`/`migration.reverted` for each migration and `schema.changed`; or
 * `schema.failed`. Returns the function that stops it.
 */
export function publishMigratorEvents(migrator: EnerlinkMigrator, bus: EventBus): () => void {
  const migrating = (event: MigrationInfo) => bus.emit('migration.migrating', { name: event.name, method: 'up' });
  const reverting = (event: MigrationInfo) => bus.emit('migration.migrating', { name: event.name, method: 'down' });
  migrator.on('migrating', migrating);
  migrator.on('reverting', reverting);
  const removeBatchListener = migrator.pipeline.addBatchListener({
    beforeCommit: (batch, execute) => bus.emit('schema.committing', { ...batch, execute }),
    afterCommit: async batch => {
      for (const name of batch.migrations) {
        await bus.emit(batch.method === 'up' ? 'migration.migrated' : 'migration.reverted', { name });
      }
      await bus.emit('schema.changed', batch);
    },
    afterFailure: (batch, error) => bus.emit('schema.failed', { ...batch, error }),
  });
  return () => {
    migrator.off('migrating', migrating);
    migrator.off('reverting', reverting);
    removeBatchListener();
  };
}
