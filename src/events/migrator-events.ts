import type { EnerlinkMigrator } from '../schema/enerlink-migrator.ts';
import type { EventBus } from './event-bus.ts';

/**
 * Makes `migrator` a source of the bus, per batch: `schema.committing` (its transaction still
 * open), then `schema.changed` once it has committed, or `schema.failed`. Returns the function
 * that stops it.
 */
export function publishMigratorEvents(migrator: EnerlinkMigrator, bus: EventBus): () => void {
  return migrator.pipeline.addBatchListener({
    beforeCommit: (batch, execute) => bus.emit('schema.committing', { ...batch, execute }),
    afterCommit: batch => bus.emit('schema.changed', batch),
    afterFailure: (batch, error) => bus.emit('schema.failed', { ...batch, error }),
  });
}
