// Point-in-time recovery readiness: whether the server keeps every WAL segment somewhere a restore
// can replay it from, whether the archive can be trusted (a command that overwrites an existing
// file can replace a good segment with another timeline's), and how far behind the archive is, the
// data a restore from it would lose now (the RPO). The archive command itself is never reported:
// it may carry credentials (docs/guide-corrections.md, generate_contribution_metrics).
import type pg from 'pg';
import type { Finding, Severity } from '../checks/define.ts';

export interface ArchiveCommandVerdict {
  kind: 'not_archiving' | 'overwrites' | 'skips_existing' | 'ok' | 'unknown';
  severity: Severity;
  /** The archiver or copy program recognised, if any. */
  tool?: string;
  /** Why, in one sentence an operator can act on. */
  reason: string;
}

/** Archivers that manage the repository themselves and refuse or verify an existing segment. */
const archivers: Array<{ tool: string; pattern: RegExp; note?: string }> = [
  { tool: 'pgBackRest', pattern: /\bpgbackrest\b.*\barchive-push\b/ },
  { tool: 'WAL-G', pattern: /\bwal-g\b.*\bwal-push\b/, note: ' (set WALG_PREVENT_WAL_OVERWRITE so it refuses a different file under an existing name)' },
  { tool: 'WAL-E', pattern: /\bwal-e\b.*\bwal-push\b/ },
  { tool: 'Barman', pattern: /\bbarman-(cloud-)?wal-archive\b/ },
  { tool: 'pg_probackup', pattern: /\bpg_probackup(-\d+)?\b.*\barchive-push\b/ },
];

/** Programs that copy a file to a destination, replacing what is there. */
const copiers = /(?:^|[\s;&|(/])(cp|copy|rsync|scp|install|mv|dd|gsutil\s+cp|aws\s+s3\s+cp|rclone\s+copy(?:to)?|azcopy\s+(?:copy|cp))(?=\s)/;
/** A shell test that the archived file does not exist yet, as in the PostgreSQL documentation. */
const existenceGuard = /(?:\btest|\[)\s+!\s+-[ef]\s+[^;&|]*%f/;
/** cp -n (rsync's -n is a dry run, so only cp's short flag counts), --no-clobber, rsync --ignore-existing. */
const noClobber = /\bcp\s+(?:-\w+\s+)*-\w*n\w*\s|\s--no-clobber\b|\s--ignore-existing\b/;

/**
 * What an archive_command does with WAL, read from its text. A command must store each segment
 * durably and must fail, not overwrite, when the archive already holds a file of that name
 * (PostgreSQL documentation, "Setting Up WAL Archiving").
 */
export function classifyArchiveCommand(command: string): ArchiveCommandVerdict {
  const text = command.trim();
  if (text === '' || text === '(disabled)') {
    return { kind: 'not_archiving', severity: 'critical', reason: 'archive_command is empty: no WAL segment is archived (and they pile up in pg_wal while archive_mode is on)' };
  }
  if (/^(\/(usr\/)?bin\/)?(true|:)$|^exit\s+0$/.test(text)) {
    return { kind: 'not_archiving', severity: 'critical', reason: 'archive_command reports success without storing anything: every WAL segment is discarded' };
  }
  const archiver = archivers.find((a) => a.pattern.test(text));
  if (archiver) {
    return { kind: 'ok', severity: 'info', tool: archiver.tool, reason: `archived by ${archiver.tool}, which manages and checks its repository${archiver.note ?? ''}` };
  }
  const copier = copiers.exec(text)?.[1]?.replace(/\s+/g, ' ');
  if (copier && existenceGuard.test(text)) {
    return { kind: 'ok', severity: 'info', tool: copier, reason: `${copier} runs only after a test that the archived file does not exist yet` };
  }
  if (copier && noClobber.test(text)) {
    return {
      kind: 'skips_existing',
      severity: 'warning',
      tool: copier,
      reason: `${copier} skips an existing file yet reports success: a different segment of the same name is silently not archived; guard it with test ! -f <archive>/%f && ... so it fails instead`,
    };
  }
  if (copier) {
    return {
      kind: 'overwrites',
      severity: 'warning',
      tool: copier,
      reason: `${copier} replaces an existing archive file without a check: a segment of the same name (another server or timeline) overwrites a good one; use test ! -f <archive>/%f && ${copier} ... or an archiver such as pgBackRest`,
    };
  }
  return {
    kind: 'unknown',
    severity: 'info',
    reason: 'a custom command: make sure it fails (non-zero exit) when the archive already holds a file of that name, and only succeeds once the file is stored durably',
  };
}

export interface PitrMeasurements {
  walLevel: string;
  archiveMode: string;
  /** The archive module in use (PostgreSQL 15+), instead of archive_command. */
  archiveLibrary: string | null;
  archiveCommand: Pick<ArchiveCommandVerdict, 'kind' | 'tool'> | null;
  archiveTimeoutSeconds: number;
  inRecovery: boolean;
  archivedCount: number;
  lastArchivedWal: string | null;
  lastArchivedAt: string | null;
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedAt: string | null;
  statsReset: string | null;
  /** Age of the newest archived WAL: changes newer than that exist only on this server. */
  rpoSeconds: number | null;
}

export interface PitrAssessment {
  findings: Finding[];
  measurements: PitrMeasurements;
}

interface Facts {
  wal_level: string;
  archive_mode: string;
  archive_command: string | null;
  archive_library: string | null;
  archive_timeout: number;
  in_recovery: boolean;
  archived_count: string;
  last_archived_wal: string | null;
  last_archived_time: Date | null;
  failed_count: string;
  last_failed_wal: string | null;
  last_failed_time: Date | null;
  stats_reset: Date | null;
  archive_age: number | null;
}

/**
 * Reads the server's WAL archiving settings and pg_stat_archiver through `db` and judges them.
 * `maxArchiveAgeSeconds`: the newest archived WAL may be at most this old.
 */
export async function assessPitr(db: pg.ClientBase, options: { maxArchiveAgeSeconds: number }): Promise<PitrAssessment> {
  // pg_settings rather than current_setting: a setting this server lacks (archive_library before
  // 15) or the role may not read is a NULL, not an error.
  const f = (
    await db.query<Facts>(
      `SELECT current_setting('wal_level') AS wal_level, current_setting('archive_mode') AS archive_mode,
              (SELECT setting FROM pg_settings WHERE name = 'archive_command') AS archive_command,
              (SELECT nullif(setting, '') FROM pg_settings WHERE name = 'archive_library') AS archive_library,
              (SELECT setting::int FROM pg_settings WHERE name = 'archive_timeout') AS archive_timeout,
              pg_is_in_recovery() AS in_recovery,
              a.archived_count, a.last_archived_wal, a.last_archived_time, a.failed_count, a.last_failed_wal, a.last_failed_time, a.stats_reset,
              extract(epoch FROM now() - a.last_archived_time)::float8 AS archive_age
         FROM pg_stat_archiver a`,
    )
  ).rows[0]!;
  const archiving = f.archive_mode === 'on' || f.archive_mode === 'always';
  const verdict = archiving && !f.archive_library && f.archive_command !== null ? classifyArchiveCommand(f.archive_command) : undefined;
  const rpoSeconds = f.archive_age === null ? null : Math.round(f.archive_age);
  const measurements: PitrMeasurements = {
    walLevel: f.wal_level,
    archiveMode: f.archive_mode,
    archiveLibrary: f.archive_library,
    archiveCommand: verdict ? { kind: verdict.kind, ...(verdict.tool ? { tool: verdict.tool } : {}) } : null,
    archiveTimeoutSeconds: f.archive_timeout,
    inRecovery: f.in_recovery,
    archivedCount: Number(f.archived_count),
    lastArchivedWal: f.last_archived_wal,
    lastArchivedAt: f.last_archived_time?.toISOString() ?? null,
    failedCount: Number(f.failed_count),
    lastFailedWal: f.last_failed_wal,
    lastFailedAt: f.last_failed_time?.toISOString() ?? null,
    statsReset: f.stats_reset?.toISOString() ?? null,
    rpoSeconds,
  };

  const findings: Finding[] = [];
  if (f.wal_level === 'minimal') {
    findings.push({
      code: 'wal_level_minimal',
      severity: 'critical',
      message: 'wal_level is minimal: the WAL cannot rebuild the database from a base backup, so point-in-time recovery is impossible (set wal_level = replica and restart)',
      details: { wal_level: f.wal_level },
    });
  }
  if (!archiving) {
    findings.push({
      code: 'archive_mode_off',
      severity: 'critical',
      message: `archive_mode is ${f.archive_mode}: no WAL is archived, so a restore can only return to the last backup and loses every change since (no point-in-time recovery; RPO = time since that backup). Set archive_mode = on (restart) with an archive_command that refuses to overwrite`,
      details: { archive_mode: f.archive_mode, wal_level: f.wal_level },
    });
  } else {
    if (f.in_recovery && f.archive_mode === 'on') {
      findings.push({
        code: 'standby_not_archiving',
        severity: 'info',
        message: 'this server is a standby: archive_mode = on archives only on the primary (archive_mode = always archives here too)',
      });
    }
    if (f.archive_library) {
      findings.push({
        code: 'archive_library',
        severity: 'info',
        message: `WAL is archived by the module ${f.archive_library} (archive_command is not used): check that it refuses to overwrite an existing file`,
        details: { archive_library: f.archive_library },
      });
    } else if (verdict) {
      findings.push({
        code: `archive_command_${verdict.kind}`,
        severity: verdict.severity,
        message: verdict.reason,
        details: { kind: verdict.kind, tool: verdict.tool ?? null },
      });
    } else {
      findings.push({ code: 'archive_command_unreadable', severity: 'info', message: 'archive_command is not visible to this role (needs pg_read_all_settings): not judged' });
    }
    findings.push(...archiverFindings(measurements, options.maxArchiveAgeSeconds));
  }
  if (!findings.some((x) => x.severity !== 'info')) {
    findings.push({
      code: 'pitr_ready',
      severity: 'info',
      message: `WAL is archived; the newest archived segment is ${rpoSeconds} s old (the RPO of a restore now)`,
      details: { rpo_seconds: rpoSeconds, last_archived_wal: f.last_archived_wal },
    });
  }
  return { findings, measurements };
}

/** pg_stat_archiver: failing now, failed before, never archived, or archived too long ago. */
function archiverFindings(m: PitrMeasurements, maxAgeSeconds: number): Finding[] {
  const evidence = { archived_count: m.archivedCount, last_archived_wal: m.lastArchivedWal, last_archived_at: m.lastArchivedAt, failed_count: m.failedCount, last_failed_wal: m.lastFailedWal, last_failed_at: m.lastFailedAt, stats_reset: m.statsReset };
  const findings: Finding[] = [];
  if (m.failedCount > 0) {
    const failingNow = m.lastFailedAt !== null && (m.lastArchivedAt === null || m.lastFailedAt > m.lastArchivedAt);
    findings.push(
      failingNow
        ? { code: 'archive_failing', severity: 'critical', message: `WAL archiving is failing: ${m.lastFailedWal} failed at ${m.lastFailedAt} and nothing was archived since (${m.failedCount} failures since ${m.statsReset ?? 'the statistics reset'}); WAL piles up in pg_wal`, details: evidence }
        : { code: 'archive_failed_before', severity: 'info', message: `WAL archiving failed ${m.failedCount} times since ${m.statsReset ?? 'the statistics reset'} (last ${m.lastFailedAt}) and has succeeded since`, details: evidence },
    );
  }
  if (m.lastArchivedAt === null) {
    if (m.failedCount === 0) {
      findings.push({ code: 'archive_never_succeeded', severity: 'warning', message: `no WAL segment has been archived since ${m.statsReset ?? 'the statistics reset'}: point-in-time recovery has nothing to replay yet`, details: evidence });
    }
  } else if (m.rpoSeconds !== null && m.rpoSeconds > maxAgeSeconds) {
    findings.push({
      code: 'archive_stale',
      severity: 'warning',
      message: `the newest archived WAL segment is ${Math.round(m.rpoSeconds / 60)} min old (limit ${Math.round(maxAgeSeconds / 60)} min): changes since exist only on this server${m.archiveTimeoutSeconds === 0 ? '; archive_timeout is 0, so a quiet server keeps a partly filled segment indefinitely' : ''}`,
      details: { ...evidence, rpo_seconds: m.rpoSeconds, max_age_seconds: maxAgeSeconds, archive_timeout_seconds: m.archiveTimeoutSeconds },
    });
  }
  return findings;
}
