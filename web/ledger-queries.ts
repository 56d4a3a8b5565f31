// Ledger reads that both a page and /metrics show, written once.

/** The restore drill steps that finished, with their result (data written by restoreDrill). */
export const drillResultsSql = `
  SELECT s.run_id, r.target, s.status, s.finished_at, (s.data->>'pass')::boolean AS pass,
         (s.data->>'rto_seconds')::float8 AS rto_seconds, (s.data->>'rpo_seconds')::float8 AS rpo_seconds,
         s.data->>'backup_id' AS backup_id, s.error
    FROM pggit_ops.steps s JOIN pggit_ops.runs r USING (run_id)
   WHERE s.activity = 'restoreDrill' AND s.status IN ('succeeded', 'failed')`;

export interface DrillRow {
  run_id: string;
  target: string;
  status: string;
  finished_at: Date;
  pass: boolean | null;
  rto_seconds: number | null;
  rpo_seconds: number | null;
  backup_id: string | null;
  error: string | null;
}

/** Per target, when its newest verified full backup finished. */
export const lastVerifiedBackupSql = `
  SELECT target, max(finished_at) AS finished_at FROM pggit_ops.backups
   WHERE kind = 'full' AND status = 'succeeded' AND verified GROUP BY target`;
