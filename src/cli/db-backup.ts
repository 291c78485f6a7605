// npm run db:backup: a pg_dump (custom format) into BACKUP_DIR, read back with
// pg_restore --list, keeping the newest BACKUP_KEEP.
import { loadConfigOrExit } from '../config.ts';
import { backupDatabase } from '../schema/backup.ts';
import { exitOnFailure } from './errors.ts';

const config = loadConfigOrExit();
const backup = await exitOnFailure(() => backupDatabase(config.databaseUrl, config.backupDir, config.backupKeep));
console.log(`Backed up ${config.databaseName} to ${backup.file} (${backup.bytes} bytes, ${backup.entries} entries readable)`);
