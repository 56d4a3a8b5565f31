// "Test disaster recovery procedures", for real: restore the newest verified full backup of the
// target (or a chosen one) into a scratch database, prove it (pggit integrity, the guide's
// dependency query, pg_amcheck, schema / row count / checksum comparison with the source), measure
// RTO and RPO, and drop the scratch database whatever happens. A retried attempt (the worker died)
// first drops what an earlier attempt of the same step left; dropOrphanedScratch sweeps older
// leftovers.
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { findBackup, latestBackup, restoreRefusal, type BackupContext } from '../../backup/catalog.ts';
import { storeDir } from '../../backup/store.ts';
import { proveRestore } from '../../dr/prove.ts';
import { restoreInto } from '../../dr/restore.ts';
import { createScratch, drillServer, dropOrphanedScratch, dropScratch, scratchName } from '../../dr/scratch.ts';
import { defineCheck, type CheckContext, type StepResult } from '../define.ts';
import type { DrContext } from '../../dr/pg-tools.ts';
import { withDrContext } from './backup-database.ts';

export const restoreDrill = defineCheck({
  name: 'restoreDrill',
  description: 'Restores the newest verified backup (or a chosen one) into a scratch database, proves it, reports RTO and RPO, drops the scratch database',
  kind: 'job',
  args: z
    .object({
      /** A chosen full backup of the target instead of the newest verified one; empty means the newest (the drill runbook's default). */
      backup_id: z.string().optional(),
      /** Parallel pg_restore jobs (1 measures the most conservative RTO). */
      jobs: z.number().int().min(1).max(32).default(1),
      /** Scratch databases older than this, left by crashed drills, are dropped first. */
      orphan_minutes: z.number().int().min(1).default(60),
    })
    .strict(),
  run: (ctx, args) => withDrContext(ctx, (context) => drill(ctx, args, context)),
});

async function drill(
  ctx: CheckContext,
  args: { backup_id?: string; jobs: number; orphan_minutes: number },
  { config, baseDir, pools, dr }: BackupContext & { dr: DrContext },
): Promise<StepResult> {
  const backup = await pools.withLedger(async (ledger) => {
    if (!args.backup_id) return latestBackup(ledger, ctx.target, { verifiedOnly: true, kind: 'full' });
    const chosen = await findBackup(ledger, { backupId: args.backup_id });
    // The proof compares the copy with this target, so only its own full backups can be drilled;
    // an unverified one may be (finding out whether it restores is what a drill is for).
    const refusal = restoreRefusal(args.backup_id, chosen, { target: ctx.target, verifiedOnly: false });
    if (refusal) throw ApplicationFailure.nonRetryable(`backup_id: ${refusal}`, 'InvalidArgs');
    return chosen;
  });
  if (!backup) {
    return {
      summary: 'no verified full backup to restore: DR test NOT performed',
      findings: [{ code: 'no_backup_to_drill', severity: 'critical', message: `no verified full backup of ${ctx.target} to restore (pggit-ops backup --db ${ctx.target})`, details: { target: ctx.target } }],
      data: { pass: false, performed: false },
    };
  }
  const server = drillServer(config, ctx.target);
  const swept = await dropOrphanedScratch(config, server, args.orphan_minutes * 60_000);
  const id = `${ctx.runId}/${ctx.stepId}`;
  await dropScratch(config, { target: server, database: scratchName(id) }); // an earlier attempt's
  const scratch = await createScratch(config, { id, source: ctx.target });
  try {
    const restored = await restoreInto(dr, { scratch, backup: { path: path.join(storeDir(config, baseDir), backup.path), format: backup.format }, jobs: args.jobs });
    const proof = restored.ok ? await proveRestore(dr, { source: ctx.target, scratch }) : undefined;
    const pass = restored.ok && proof!.pass;
    const rto = restored.measurements.restoreMs / 1000;
    const rpo = restored.measurements.backupAgeSeconds;
    return {
      summary: `${pass ? 'PASS' : 'FAIL'}: restored ${backup.backupId} in ${rto.toFixed(1)} s (RTO); backup age ${rpo === null ? '?' : `${Math.round(rpo)} s`} (RPO)`,
      findings: [...restored.findings, ...(proof?.findings ?? [])],
      data: { pass, performed: true, rto_seconds: rto, rpo_seconds: rpo, backup_id: backup.backupId, scratch: scratch.database,
              orphans_dropped: swept.dropped, restore: restored.measurements, proof: proof?.measurements ?? null },
    };
  } finally {
    await dropScratch(config, scratch);
  }
}
