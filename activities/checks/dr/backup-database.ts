// "Verify backup completion" needs backups to verify: this step takes one (pg_dump into the backup
// store, activities/backup/) and verifies it at once (checksum, and pg_restore reads it whole).
// The idempotency key is the run and step: a retry after a worker crash finds the backup its
// first attempt made instead of dumping again.
import { z } from 'zod';
import { runBackup } from '../../backup/dump.ts';
import { applyRetention } from '../../backup/retention.ts';
import { verifyBackup } from '../../backup/verify.ts';
import type { BackupContext } from '../../backup/catalog.ts';
import type { DrContext } from '../../dr/pg-tools.ts';
import { defineCheck, type ServerCheckContext } from '../define.ts';

export function backupContext(ctx: ServerCheckContext): BackupContext {
  if (!ctx.worker) throw new Error(`step ${ctx.stepId} needs the worker's config and pools (run it from a worker)`);
  return { config: ctx.worker.loaded.config, baseDir: ctx.worker.loaded.baseDir, pools: ctx.worker.pools, heartbeat: ctx.heartbeat, signal: ctx.signal };
}

/**
 * Runs a restore step (drill, recovery) with the backup context and a DrContext whose progress is
 * repeated to Temporal every second: one long table checksum, catalog query or DROP can outlast a
 * short heartbeat timeout, and while this process is alive it says so.
 */
export async function withDrContext<T>(ctx: ServerCheckContext, fn: (context: BackupContext & { dr: DrContext }) => Promise<T>): Promise<T> {
  const backup = backupContext(ctx);
  let progress: unknown = { phase: 'starting' };
  const ticker = setInterval(() => ctx.heartbeat(progress), 1000);
  const dr = { config: backup.config, heartbeat: (details?: unknown) => ctx.heartbeat((progress = details)), signal: ctx.signal };
  try {
    return await fn({ ...backup, dr });
  } finally {
    clearInterval(ticker);
  }
}

export const backupDatabase = defineCheck({
  name: 'backupDatabase',
  description: 'pg_dump of the target (whole database, or the pggit schema alone) into the backup store, then verified',
  kind: 'job',
  args: z
    .object({
      kind: z.enum(['full', 'pggit']).default('full'),
      format: z.enum(['custom', 'directory']).default('custom'),
      /** Parallel dump workers (directory format only). */
      jobs: z.number().int().min(1).max(32).optional(),
    })
    .strict(),
  async run(ctx, args) {
    const backup = backupContext(ctx);
    const record = await runBackup(backup, { target: ctx.target, ...args, idempotencyKey: `${ctx.runId}/${ctx.stepId}` });
    const verification = await verifyBackup(backup, { backupId: record.backupId });
    const size = record.sizeBytes === null ? '?' : `${(record.sizeBytes / 1024 / 1024).toFixed(1)} MiB`;
    return {
      summary: `${record.backupId}: ${size} in ${record.durationMs} ms, ${verification.ok ? 'verified' : 'VERIFICATION FAILED'}`,
      findings: verification.ok
        ? [{ code: 'backup_verified', severity: 'info', message: `backup ${record.backupId} taken and verified (${verification.tocEntries} archive entries)`, details: { ...record } }]
        : [{ code: 'backup_verification_failed', severity: 'critical', message: `backup ${record.backupId} failed verification: ${verification.problems.join('; ')}`, details: { backupId: record.backupId, problems: verification.problems } }],
      data: { backup: { ...record, verified: verification.ok }, verification: { ...verification } },
    };
  },
});

export const applyBackupRetention = defineCheck({
  name: 'applyBackupRetention',
  description: "Deletes the target's backups beyond the configured retention, never the newest verified one",
  kind: 'job',
  args: z.object({}).strict(),
  async run(ctx) {
    const result = await applyRetention(backupContext(ctx), { target: ctx.target });
    return {
      summary: `kept ${result.kept.length}, deleted ${result.deleted.length}`,
      findings: result.deleted.length ? [{ code: 'backups_deleted', severity: 'info', message: `deleted ${result.deleted.length} backups beyond the retention`, details: result }] : [],
      data: { ...result },
    };
  },
});
