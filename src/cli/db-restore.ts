// npm run db:restore -- <file>: restores a db:backup dump over the database (objects in the
// dump are dropped and re-created) in one transaction, under the migration lock so no
// migration runs meanwhile.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { loadConfigOrExit } from '../config.ts';
import { restoreDatabase } from '../schema/backup.ts';
import { acquireMigrationLock } from '../schema/fleet-lock.ts';
import { exitOnFailure } from './errors.ts';

const config = loadConfigOrExit();
const [file, ...extra] = process.argv.slice(2);
if (!file || extra.length > 0) {
  process.stderr.write('enerlink: usage: npm run db:restore -- <backup file>\n');
  process.exit(1);
}
if (!existsSync(file)) {
  process.stderr.write(`enerlink: no such backup file: ${file}\n`);
  process.exit(1);
}
await exitOnFailure(async () => {
  const lock = await acquireMigrationLock(config.databaseUrl, config.migrationLockTimeoutMs, {
    operation: `db:restore of ${basename(file)}`,
    origin: 'cli',
    onWait: holder => console.log(`Waiting for the migration lock: ${holder}`),
  });
  try {
    await restoreDatabase(config.databaseUrl, file);
  } finally {
    await lock.release();
  }
});
console.log(`Restored ${config.databaseName} from ${file}`);
