// `pggit-ops backups list`: the backup catalog (pggit_ops.backups in the ledger database).
import pg from 'pg';
import { connectionConfig } from '../activities/targets.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { CliError, ExitCode } from './exit-codes.ts';

export async function listBackups(loaded: LoadedConfig, opts: { db?: string; json?: boolean }): Promise<ExitCode> {
  const db = new pg.Client(connectionConfig(loaded.config, loaded.config.ledger.target));
  try {
    await db.connect();
  } catch (err) {
    throw new CliError(ExitCode.Unavailable, `cannot reach the ledger (target ${loaded.config.ledger.target}): ${(err as Error).message}`);
  }
  try {
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
  } finally {
    await db.end();
  }
}
