// `pggit-ops backups list`: the backup catalog (pggit_ops.backups in the ledger database).
import type { LoadedConfig } from '../worker/config.ts';
import { ExitCode } from './exit-codes.ts';
import { withLedger } from './runs.ts';

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
      for (const b of rows) {
        const size = b.size_bytes === null ? '' : `${(b.size_bytes / 1024 / 1024).toFixed(1)} MiB`;
        console.log(`${b.started_at.toISOString()}  ${b.status.padEnd(9)} ${b.verified ? 'verified  ' : 'unverified'} ${size.padStart(10)}  ${b.backup_id}`);
      }
    }
    return ExitCode.Ok;
  });
}
