// `pggit-ops backups list`: the backup catalog (pggit_ops.backups in the ledger database); and the
// check of a backup chosen on the command line (`drill --backup`, `recover --backup`).
import { findBackup, restoreRefusal, type RestoreRules } from '../activities/backup/catalog.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { CliError, ExitCode } from './exit-codes.ts';
import { paint, statusPaint, table } from './terminal.ts';
import { assertTarget, withLedger } from './runs.ts';

/**
 * Refuses (exit 2, nothing started) a `--backup` the run would refuse anyway, so a typo or a wrong
 * target costs no run and no approvals. The run's step checks again: the catalog may change before it.
 */
export async function checkChosenBackup(loaded: LoadedConfig, backupId: string, rules: RestoreRules): Promise<void> {
  assertTarget(loaded, rules.target);
  const refusal = await withLedger(loaded, async (db) => restoreRefusal(backupId, await findBackup(db, { backupId }), rules));
  if (refusal) throw new CliError(ExitCode.BadInput, `--backup ${backupId}: ${refusal}`);
}

export async function listBackups(loaded: LoadedConfig, opts: { db?: string; json?: boolean }): Promise<ExitCode> {
  return withLedger(loaded, async (db) => {
    const { rows } = await db.query(
      `SELECT backup_id, target, kind, format, status, verified, started_at, finished_at, size_bytes::float8 AS size_bytes, duration_ms::float8 AS duration_ms, path
         FROM pggit_ops.backups WHERE ($1::text IS NULL OR target = $1) AND status <> 'deleted'
        ORDER BY started_at DESC LIMIT 200`,
      [opts.db ?? null],
    );
    if (opts.json) console.log(JSON.stringify(rows));
    else if (!rows.length) console.log('no backups');
    else {
      console.log(table(['started', 'status', 'verified', 'size', 'backup'], rows.map((b) => [
        b.started_at.toISOString(), statusPaint(b.status), b.verified ? 'verified' : paint.yellow('unverified'),
        b.size_bytes === null ? '' : `${(b.size_bytes / 1024 / 1024).toFixed(1)} MiB`, b.backup_id,
      ])));
    }
    return ExitCode.Ok;
  });
}
