// Restores a backup file into a drill's scratch database with pg_restore, as an operator would in a
// disaster: owners and privileges as dumped (a drill that strips them proves less than the real
// thing), every error reported rather than stopping at the first, the time it took (the RTO) and
// the backup's own creation time from its header (the RPO of restoring it now).
import type { Finding } from '../checks/define.ts';
import { capped } from '../checks/shared.ts';
import { pgToolEnv, runPgTool, type DrContext } from './pg-tools.ts';
import { assertScratch, type ScratchDatabase } from './scratch.ts';

export interface BackupFile {
  path: string;
  format: 'custom' | 'directory';
}

export interface RestoreMeasurements {
  /** Wall time of pg_restore: the recovery time this backup needs on the drill server. */
  restoreMs: number;
  jobs: number;
  /** When pg_dump started (its data is as of then), from the archive's header. */
  backupCreatedAt: string | null;
  /** Age of that data now: what a restore of this backup would lose. */
  backupAgeSeconds: number | null;
  /** Errors pg_restore reported (ownership ones included). */
  errors: number;
}

export interface RestoreResult {
  /** The backup restored completely (warnings allowed, nothing critical). */
  ok: boolean;
  findings: Finding[];
  measurements: RestoreMeasurements;
}

/** One error of pg_restore: its message and the lines after it (usually "Command was: ..."). */
interface RestoreError {
  message: string;
  command?: string;
}

function restoreErrors(stderr: string): RestoreError[] {
  const errors: RestoreError[] = [];
  for (const line of stderr.split('\n')) {
    const error = /^pg_restore: error: (.*)$/.exec(line);
    if (error) errors.push({ message: error[1]! });
    else if (line.startsWith('Command was: ') && errors.length > 0) errors.at(-1)!.command = line.slice('Command was: '.length);
  }
  return errors;
}

const missingRole = (e: RestoreError) => /role "(.+)" does not exist/.exec(e.message)?.[1];

/**
 * Restores `backup` into the scratch database with `jobs` parallel workers (default 1). Never
 * throws for a bad backup: an unreadable archive, SQL errors and an aborted restore are findings.
 * Throws the abort reason when ctx.signal aborts, after pg_restore has been killed.
 */
export async function restoreInto(ctx: DrContext, input: { scratch: ScratchDatabase; backup: BackupFile; jobs?: number }): Promise<RestoreResult> {
  const { scratch, backup } = input;
  const jobs = input.jobs ?? 1;
  // pg_restore runs what the archive holds: only ever into a scratch database.
  assertScratch(scratch.database);
  const env = pgToolEnv(ctx.config, scratch);
  const format = `--format=${backup.format}`;
  const measurements: RestoreMeasurements = { restoreMs: 0, jobs, backupCreatedAt: null, backupAgeSeconds: null, errors: 0 };

  // The table of contents first: a damaged header or a missing file is reported before anything is
  // restored, and the header dates the data. TZ=UTC makes pg_restore print that date in UTC.
  const list = await runPgTool(ctx, 'pg_restore', ['--list', format, backup.path], { env: { ...env, TZ: 'UTC' }, phase: 'read backup' });
  if (list.exitCode !== 0) {
    const errors = restoreErrors(list.stderr);
    return {
      ok: false,
      findings: [
        {
          code: 'backup_unreadable',
          severity: 'critical',
          message: `pg_restore cannot read the backup ${backup.path}: ${errors[0]?.message ?? list.stderr.trim()}`,
          details: { path: backup.path, format: backup.format, exit_code: list.exitCode, errors: errors.map((e) => e.message) },
        },
      ],
      measurements,
    };
  }
  const created = /^; Archive created at (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC$/m.exec(list.stdout);
  if (created) {
    const at = new Date(`${created[1]}T${created[2]}Z`);
    measurements.backupCreatedAt = at.toISOString();
    measurements.backupAgeSeconds = Math.max(0, Math.round((Date.now() - at.getTime()) / 1000));
  }

  const run = await runPgTool(ctx, 'pg_restore', ['--verbose', format, `--jobs=${jobs}`, `--dbname=${scratch.database}`, backup.path], { env, phase: 'restore' });
  measurements.restoreMs = run.ms;
  const errors = restoreErrors(run.stderr);
  measurements.errors = errors.length;
  // Without --exit-on-error pg_restore carries on after SQL errors and says so at the end; an exit
  // without that line is a restore that stopped (damaged data, lost connection).
  const completed = run.exitCode === 0 || /^pg_restore: warning: errors ignored on restore: \d+$/m.test(run.stderr);
  const findings: Finding[] = [];

  const ownership = errors.filter((e) => missingRole(e) !== undefined);
  if (ownership.length > 0) {
    const roles = [...new Set(ownership.map((e) => missingRole(e)!))].sort();
    const shown = capped(ownership, 10);
    findings.push({
      code: 'restore_missing_roles',
      severity: 'warning',
      message: `${ownership.length} statements of the backup name roles the drill server lacks (${roles.join(', ')}): those objects keep the restoring role as owner or lose the grants; restore the roles (pg_dumpall --globals-only) before the data`,
      details: { roles, statements: shown.items.map((e) => e.command ?? e.message), statements_omitted: shown.omitted },
    });
  }
  const other = errors.filter((e) => missingRole(e) === undefined);
  if (!completed) {
    // What stopped it is the last thing it said (or runPgTool's note of the signal that killed it).
    const fatal = run.stderr.trim().split('\n').at(-1)?.replace(/^pg_restore: error: /, '') || `exit code ${run.exitCode}`;
    findings.push({
      code: 'restore_failed',
      severity: 'critical',
      message: `restore of ${backup.path} stopped: ${fatal}`,
      details: { path: backup.path, format: backup.format, exit_code: run.exitCode, errors: capped(other, 10).items, restore_ms: run.ms },
    });
  } else if (other.length > 0) {
    const shown = capped(other, 10);
    findings.push({
      code: 'restore_errors',
      severity: 'critical',
      message: `restore of ${backup.path} finished with ${other.length} errors, the first: ${other[0]!.message}`,
      details: { path: backup.path, errors: shown.items, errors_omitted: shown.omitted },
    });
  }
  const ok = !findings.some((f) => f.severity === 'critical');
  if (ok) {
    findings.push({
      code: 'restore_completed',
      severity: 'info',
      message: `restored ${backup.path} into ${scratch.database} in ${(run.ms / 1000).toFixed(1)} s`,
      details: { ...measurements, scratch },
    });
  }
  return { ok, findings, measurements };
}
