import type { IntegrityReport } from './migration-integrity.ts';
import type { MigrationApplier, RecordedRun } from './migration-run-log.ts';

/**
 * A migration's state, as this release sees the database:
 * - `applied`: applied, and its file runs what was applied;
 * - `pending`: this release has it, the database does not;
 * - `edited`: applied, but its file runs other SQL now (an `up` is refused);
 * - `missing`: applied, and its file is gone from this release (an `up` is refused);
 * - `unknown`: applied by a newer release (named after every file of this one): not an error.
 */
export type MigrationStateName = 'applied' | 'pending' | 'edited' | 'missing' | 'unknown';

/** One migration with its state and, once applied, when, how long and by whom. */
export interface MigrationState {
  name: string;
  state: MigrationStateName;
  appliedAt: string | null;
  /** How long it ran; null when it was adopted, or applied before the run log kept it. */
  durationMs: number | null;
  /** The run that applied it (origin, host, pid), or how it came to be recorded otherwise. */
  appliedBy: { origin: string | null; host: string | null; pid: number | null; runId: string | null; how: 'run' | 'adoption' | 'unrecorded' } | null;
  /** The recorded checksum, and how it was recorded (`backfill`: applied before checksums were kept). */
  checksum: { recorded: string; source: string; recordedAt: string } | null;
  detail: string | null;
}

/** Every migration's state and the last failed run. */
export interface MigrationStates {
  migrations: MigrationState[];
  /** The newest failed run (a refused one included), whether or not a later run succeeded. */
  lastFailedRun: RecordedRun | null;
  /** `migration:status`'s exit code: 0 clean, 1 something pending, 2 something edited or missing. */
  exitCode: 0 | 1 | 2;
}

/** Puts together what the files, the migrations table, the checksums and the run log say. */
export function migrationStates(input: {
  known: string[];
  history: Array<{ name: string; executedAt: Date }>;
  integrity: IntegrityReport;
  appliers: Map<string, MigrationApplier>;
  lastFailedRun: RecordedRun | null;
}): MigrationStates {
  const { known, history, integrity, appliers } = input;
  const applied = new Map(history.map(row => [row.name, row.executedAt]));
  const edited = new Map(integrity.edited.map(problem => [problem.migration, problem.detail]));
  const missing = new Map(integrity.missing.map(problem => [problem.migration, problem.detail]));
  const unknown = new Set(integrity.unknown);
  const names = [...new Set([...known, ...history.map(row => row.name)])].sort();
  const migrations = names.map((name): MigrationState => {
    const appliedAt = applied.get(name);
    if (!appliedAt) return { name, state: 'pending', appliedAt: null, durationMs: null, appliedBy: null, checksum: null, detail: null };
    const run = appliers.get(name);
    const recorded = integrity.recorded.get(name);
    const state: MigrationStateName = edited.has(name) ? 'edited' : missing.has(name) ? 'missing' : unknown.has(name) ? 'unknown' : 'applied';
    return {
      name,
      state,
      appliedAt: appliedAt.toISOString(),
      durationMs: run?.durationMs ?? null,
      appliedBy: run
        ? { origin: run.origin, host: run.host, pid: run.pid, runId: run.runId, how: 'run' }
        : recorded?.source === 'adoption'
          ? { origin: recorded.recordedBy, host: null, pid: null, runId: null, how: 'adoption' }
          : { origin: null, host: null, pid: null, runId: null, how: 'unrecorded' },
      checksum: recorded ? { recorded: recorded.checksum, source: recorded.source, recordedAt: recorded.recordedAt.toISOString() } : null,
      detail:
        edited.get(name) ??
        missing.get(name) ??
        (state === 'unknown' ? 'applied by a newer release' : integrity.unrecorded.includes(name) ? 'applied before checksums were kept: recorded by the next up' : null),
    };
  });
  const states = new Set(migrations.map(m => m.state));
  const exitCode = states.has('edited') || states.has('missing') ? 2 : states.has('pending') ? 1 : 0;
  return { migrations, lastFailedRun: input.lastFailedRun, exitCode };
}
