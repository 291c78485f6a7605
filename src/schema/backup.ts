import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A backup could not be taken or read back; nothing was migrated. */
export class BackupError extends Error {
  override name = 'BackupError';
}

export interface BackupResult {
  file: string;
  bytes: number;
  /** Entries `pg_restore --list` found in the dump. */
  entries: number;
}

/**
 * Takes a `pg_dump` in custom format into `dir`, checks that `pg_restore --list` can read it,
 * and deletes the oldest dumps of this database beyond the newest `keep`.
 */
export async function backupDatabase(databaseUrl: string, dir: string, keep: number, label = 'manual'): Promise<BackupResult> {
  const database = new URL(databaseUrl).pathname.slice(1);
  const folder = resolve(dir);
  await mkdir(folder, { recursive: true });
  // sortable to the millisecond, so pruning keeps exactly the newest
  const stamp = new Date().toISOString().replace(/[-:.]/g, '');
  const file = join(folder, `${database}-${stamp}-${label.replace(/[^\w.-]+/g, '_')}.dump`);
  try {
    await run('pg_dump', ['--format=custom', '--no-password', `--file=${file}`, `--dbname=${databaseUrl}`], { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    await rm(file, { force: true });
    throw new BackupError(`pg_dump failed: ${firstLine(error)}`);
  }
  const entries = await listBackup(file);
  await pruneBackups(folder, database, keep);
  return { file, bytes: (await stat(file)).size, entries };
}

/** Reads a dump's table of contents; fails if it is not a readable custom-format dump. */
export async function listBackup(file: string): Promise<number> {
  try {
    const { stdout } = await run('pg_restore', ['--list', file], { maxBuffer: 64 * 1024 * 1024 });
    return stdout.split('\n').filter(line => line && !line.startsWith(';')).length;
  } catch (error) {
    throw new BackupError(`${file} is not a readable backup: ${firstLine(error)}`);
  }
}

/** Restores a dump over the database: objects in the dump are dropped and re-created, in one transaction. */
export async function restoreDatabase(databaseUrl: string, file: string): Promise<void> {
  await listBackup(file);
  try {
    await run('pg_restore', ['--clean', '--if-exists', '--single-transaction', '--no-owner', '--no-password', `--dbname=${databaseUrl}`, file], {
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    throw new BackupError(`pg_restore failed: ${firstLine(error)}`);
  }
}

async function pruneBackups(folder: string, database: string, keep: number): Promise<void> {
  const ours = (await readdir(folder)).filter(name => name.startsWith(`${database}-`) && name.endsWith('.dump')).sort();
  for (const name of ours.slice(0, Math.max(0, ours.length - keep))) {
    await rm(join(folder, name), { force: true });
  }
}

function firstLine(error: unknown): string {
  const { stderr, message } = error as { stderr?: string; message?: string };
  return (stderr?.trim() || message || String(error)).split('\n')[0];
}
