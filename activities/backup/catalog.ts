// The backup catalog (pggit_ops.backups in the ledger database, sql/007) as plain records, and the
// context every backup activity takes. Records are JSON-serialisable, as activity results must be.
import type pg from 'pg';
import type { Config } from '../../worker/config.ts';
import type { TargetPools } from '../pools.ts';
import type { BackupFormat } from './store.ts';

export type BackupKind = 'full' | 'pggit';
export type BackupStatus = 'running' | 'succeeded' | 'failed' | 'deleted';

/** What a backup activity needs: the worker's config and pools, Temporal's heartbeat and cancellation. */
export interface BackupContext {
  config: Config;
  /** Folder relative paths of the config are resolved against (LoadedConfig.baseDir). */
  baseDir: string;
  pools: TargetPools;
  heartbeat(details?: unknown): void;
  signal: AbortSignal;
}

export interface BackupRecord {
  backupId: string;
  idempotencyKey: string;
  target: string;
  kind: BackupKind;
  format: BackupFormat;
  /** Relative to the backup store. */
  path: string;
  status: BackupStatus;
  startedAt: string;
  finishedAt: string | null;
  verified: boolean;
  verifiedAt: string | null;
  sha256: string | null;
  sizeBytes: number | null;
  durationMs: number | null;
  serverVersion: string | null;
  pgDumpVersion: string | null;
  error: string | null;
}

export const recordColumns = `backup_id, idempotency_key, target, kind, format, path, status, started_at, finished_at,
  verified, verified_at, sha256, size_bytes::float8 AS size_bytes, duration_ms::float8 AS duration_ms,
  server_version, pg_dump_version, error`;

export interface CatalogRow {
  backup_id: string;
  idempotency_key: string;
  target: string;
  kind: BackupKind;
  format: BackupFormat;
  path: string;
  status: BackupStatus;
  started_at: Date;
  finished_at: Date | null;
  verified: boolean;
  verified_at: Date | null;
  sha256: string | null;
  size_bytes: number | null;
  duration_ms: number | null;
  server_version: string | null;
  pg_dump_version: string | null;
  error: string | null;
}

export function toRecord(row: CatalogRow): BackupRecord {
  return {
    backupId: row.backup_id,
    idempotencyKey: row.idempotency_key,
    target: row.target,
    kind: row.kind,
    format: row.format,
    path: row.path,
    status: row.status,
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
    verified: row.verified,
    verifiedAt: row.verified_at?.toISOString() ?? null,
    sha256: row.sha256,
    sizeBytes: row.size_bytes,
    durationMs: row.duration_ms,
    serverVersion: row.server_version,
    pgDumpVersion: row.pg_dump_version,
    error: row.error,
  };
}

export async function findBackup(db: pg.ClientBase, by: { backupId: string } | { idempotencyKey: string }): Promise<BackupRecord | undefined> {
  const [column, value] = 'backupId' in by ? ['backup_id', by.backupId] : ['idempotency_key', by.idempotencyKey];
  const { rows } = await db.query<CatalogRow>(`SELECT ${recordColumns} FROM pggit_ops.backups WHERE ${column} = $1`, [value]);
  return rows[0] && toRecord(rows[0]);
}

/** The newest succeeded backup of a target (of one kind, verified only, when asked), for restore drills. */
export async function latestBackup(
  db: pg.ClientBase,
  target: string,
  options: { verifiedOnly?: boolean; kind?: BackupKind } = {},
): Promise<BackupRecord | undefined> {
  const { rows } = await db.query<CatalogRow>(
    `SELECT ${recordColumns} FROM pggit_ops.backups
      WHERE target = $1 AND status = 'succeeded' AND (verified OR NOT $2) AND kind = coalesce($3, kind)
      ORDER BY started_at DESC, id DESC
      LIMIT 1`,
    [target, options.verifiedOnly ?? false, options.kind ?? null],
  );
  return rows[0] && toRecord(rows[0]);
}

/** What a restore of a chosen backup requires of it. */
export interface RestoreRules {
  /** The target whose database the backup is to become (or, for a drill, be compared with). */
  target: string;
  /** Only a backup whose verification passed (a recovery replaces a real database with it). */
  verifiedOnly: boolean;
  /** A backup of another target: refused unless true; when false, the refusal says how to allow it. Undefined: never allowed. */
  allowOtherTarget?: boolean;
}

/**
 * Why the chosen backup `backupId` (`backup` as the catalog holds it) cannot be restored under
 * `rules`, or undefined when it can. The message names the backup and says what to do instead.
 */
export function restoreRefusal(backupId: string, backup: BackupRecord | undefined, rules: RestoreRules): string | undefined {
  if (!backup) return `no backup '${backupId}' in the catalog (pggit-ops backups list --db ${rules.target})`;
  if (backup.status !== 'succeeded') return `backup ${backupId} is ${backup.status}: only a succeeded backup has a file to restore`;
  if (backup.kind !== 'full') return `backup ${backupId} holds the pggit schema alone: only a full backup restores a whole database`;
  if (backup.target !== rules.target && rules.allowOtherTarget !== true) {
    return `backup ${backupId} is of target '${backup.target}', not '${rules.target}'${rules.allowOtherTarget === false ? ' (allow_other_target: true restores it anyway)' : ''}`;
  }
  if (rules.verifiedOnly && !backup.verified) {
    return `backup ${backupId} is not verified${backup.verifiedAt ? ` (its verification at ${backup.verifiedAt} failed)` : ''}: only a verified backup is restored over a target`;
  }
  return undefined;
}

/**
 * Heartbeats every second with what `details` reads, until the returned function is called:
 * Temporal declares an activity lost when its heartbeats stop, and a long dump or read is silent.
 */
export function heartbeatEvery(ctx: BackupContext, details: () => Promise<Record<string, unknown>>): () => void {
  const started = Date.now();
  const timer = setInterval(() => {
    void details().then(
      (d) => ctx.heartbeat({ ...d, elapsedMs: Date.now() - started }),
      // Progress is a nicety; liveness is not.
      () => ctx.heartbeat({ elapsedMs: Date.now() - started }),
    );
  }, 1000);
  return () => clearInterval(timer);
}
