// Restores a backup file with pg_restore, as an operator would in a disaster, into a drill's
// scratch database or, for a recovery, as the database itself recreated from the archive: owners
// and privileges as dumped (a drill that strips them proves less than the real thing), every error
// reported rather than stopping at the first, the time it took (the RTO) and the backup's own
// creation time from its header (the RPO of restoring it now).
import type { Finding } from '../checks/define.ts';
import { capped } from '../checks/shared.ts';
import { pgToolEnv, runPgTool, type DbRef, type DrContext, type ToolRun } from './pg-tools.ts';
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

/**
 * The database a recovery's `pg_restore --create` connects to first, to issue CREATE DATABASE, and
 * where a recovery's other statements on the target's server run (a database cannot drop itself).
 */
export const MAINTENANCE_DATABASE = 'postgres';

/**
 * Where a restore goes: an empty scratch database (a drill), or, for a recovery, `database` on the
 * target's server recreated by pg_restore from the archive's own entry (`--create`): encoding,
 * locale, owner, grants, settings and comment as they were backed up. The database must not exist.
 */
export type RestoreDestination = { scratch: ScratchDatabase } | { recreate: { target: string; database: string } };

/** What `pg_restore --list --create` says about an archive. */
export interface ArchiveContents {
  /** When pg_dump started (its data is as of then); null when the header does not say. */
  createdAt: Date | null;
  /** The dumped database: its name and its OID on the server it was dumped from. */
  database: { name: string; oid: number } | null;
  /** The table of contents, one line per entry (`ID; CLASS OID TYPE SCHEMA NAME OWNER`). */
  entries: string[];
}

/**
 * Reads an archive's table of contents (`--create` lists the database's own entry too), or the
 * run that failed to: a damaged header or a missing file shows here before anything is restored.
 * TZ=UTC makes pg_restore print the creation time in UTC.
 */
export async function readArchive(ctx: Pick<DrContext, 'config' | 'heartbeat' | 'signal'>, backup: BackupFile, ref: DbRef): Promise<{ contents: ArchiveContents } | { failed: ToolRun }> {
  const run = await runPgTool(ctx, 'pg_restore', ['--list', '--create', `--format=${backup.format}`, backup.path], { env: { ...pgToolEnv(ctx.config, ref), TZ: 'UTC' }, phase: 'read backup' });
  if (run.exitCode !== 0) return { failed: run };
  const created = /^; Archive created at (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC$/m.exec(run.stdout);
  const name = /^;\s+dbname: (.*)$/m.exec(run.stdout)?.[1];
  const oid = /^\d+; 1262 (\d+) DATABASE /m.exec(run.stdout)?.[1];
  return {
    contents: {
      createdAt: created ? new Date(`${created[1]}T${created[2]}Z`) : null,
      database: name !== undefined && oid !== undefined ? { name, oid: Number(oid) } : null,
      entries: run.stdout.split('\n').filter((line) => /^\d+;/.test(line)),
    },
  };
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
 * Errors only a superuser would not have had: giving an object an owner the restoring role is not
 * a member of, creating an event trigger (pggit's DDL tracking). They say the restoring role is
 * wrong, not that the backup is: one finding that says so, instead of a list of symptoms.
 */
const needsSuperuser = (e: RestoreError) => /must be member of role "|permission denied to create event trigger/.test(e.message);

/** What pg_restore connects to, how it is told, and the database the restore ends up in. */
function destinationOf(into: RestoreDestination): { ref: DbRef; args: string[]; database: string } {
  if ('scratch' in into) {
    // pg_restore runs what the archive holds: into a scratch database, never an existing real one.
    assertScratch(into.scratch.database);
    return { ref: into.scratch, args: [`--dbname=${into.scratch.database}`], database: into.scratch.database };
  }
  const { target, database } = into.recreate;
  return { ref: { target, database: MAINTENANCE_DATABASE }, args: ['--create', `--dbname=${MAINTENANCE_DATABASE}`], database };
}

/**
 * Restores `backup` into its destination with `jobs` parallel workers (default 1). Never throws
 * for a bad backup: an unreadable archive, SQL errors and an aborted restore are findings.
 * Throws the abort reason when ctx.signal aborts, after pg_restore has been killed.
 */
export async function restoreInto(ctx: DrContext, input: RestoreDestination & { backup: BackupFile; jobs?: number }): Promise<RestoreResult> {
  const { backup } = input;
  const jobs = input.jobs ?? 1;
  const destination = destinationOf(input);
  const env = pgToolEnv(ctx.config, destination.ref);
  const measurements: RestoreMeasurements = { restoreMs: 0, jobs, backupCreatedAt: null, backupAgeSeconds: null, errors: 0 };

  // The table of contents first: a damaged header or a missing file is reported before anything is
  // restored, and the header dates the data.
  const archive = await readArchive(ctx, backup, destination.ref);
  if ('failed' in archive) {
    const list = archive.failed;
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
  const created = archive.contents.createdAt;
  if (created) {
    measurements.backupCreatedAt = created.toISOString();
    measurements.backupAgeSeconds = Math.max(0, Math.round((Date.now() - created.getTime()) / 1000));
  }

  const run = await runPgTool(ctx, 'pg_restore', ['--verbose', `--format=${backup.format}`, `--jobs=${jobs}`, ...destination.args, backup.path], { env, phase: 'restore' });
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
  const privileged = errors.filter(needsSuperuser);
  if (privileged.length > 0) {
    const shown = capped(privileged, 10);
    findings.push({
      code: 'restore_needs_superuser',
      severity: 'critical',
      message: `pg_restore ran on ${destination.database} as ${env.PGUSER ?? 'its default user'}, who is not a superuser: ${privileged.length} statements of the backup (owners, event triggers) failed, so the copy is not what the backup holds; restore as a superuser (docs/least-privilege.md)`,
      details: { role: env.PGUSER ?? null, statements: shown.items.map((e) => e.command ?? e.message), statements_omitted: shown.omitted },
    });
  }
  const other = errors.filter((e) => missingRole(e) === undefined && !needsSuperuser(e));
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
      message: `restored ${backup.path} into ${destination.database} in ${(run.ms / 1000).toFixed(1)} s`,
      details: { ...measurements, database: destination.database },
    });
  }
  return { ok, findings, measurements };
}
