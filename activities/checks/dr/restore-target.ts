// Recovery over a real target (runbooks/recover.yaml). planRecovery checks the chosen backup and
// the target before anyone is asked to approve; restoreTarget replaces the target's database with
// the backup; putBackTarget, its compensation, replaces it with the run's safety backup when the
// recovery failed or was cancelled after the database was dropped. They open their own sessions
// (targetSession: false): the database they replace may be gone, and a pooled session on it would
// be terminated by the drop. Refusals come before anything is changed and are not retried; nor is
// a failed restore or proof, since trying again means dropping again.
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { findBackup, restoreRefusal, type BackupContext, type BackupRecord } from '../../backup/catalog.ts';
import { storeDir } from '../../backup/store.ts';
import { verifyBackup } from '../../backup/verify.ts';
import { withSession, type DrContext } from '../../dr/pg-tools.ts';
import { databaseOid, planReplacement, RecoveryRefused, replaceDatabase, type Replacement, type ReplacementPlan } from '../../dr/recover.ts';
import { MAINTENANCE_DATABASE } from '../../dr/restore.ts';
import { defineCheck, type ServerCheckContext, type StepResult } from '../define.ts';
import { withDrContext } from './backup-database.ts';

const recoveryArgs = z
  .object({
    /** The backup to restore (pggit-ops backups list); the runbook's default is empty, so a run without it is refused by its first step. */
    backup_id: z.string(),
    /** Restore a backup of another target (whose database has the same name). */
    allow_other_target: z.boolean().default(false),
    /** Parallel pg_restore jobs. */
    jobs: z.number().int().min(1).max(32).default(1),
  })
  .strict();
type RecoveryArgs = z.infer<typeof recoveryArgs>;

function backupFile(context: BackupContext, backup: BackupRecord) {
  return { path: path.join(storeDir(context.config, context.baseDir), backup.path), format: backup.format };
}

/**
 * Refuses, before anything is dropped, a role that cannot restore `plan`'s backup as it was taken:
 * pg_restore --create re-creates the backup's event triggers (pggit's DDL tracking), which only a
 * superuser may create. As anyone else the database would be dropped and come back without them
 * (and with its objects owned by that role), and putting a safety backup back would fail alike.
 */
async function assertCanRecreate(dr: DrContext, plan: ReplacementPlan): Promise<void> {
  const eventTriggers = plan.contents.entries.filter((entry) => /^\d+; \d+ \d+ EVENT TRIGGER /.test(entry)).length;
  if (eventTriggers === 0) return;
  const { role, superuser } = await withSession(dr.config, { target: plan.target, database: MAINTENANCE_DATABASE }, dr.signal, async (c) =>
    (await c.query<{ role: string; superuser: boolean }>(`SELECT current_user AS role, current_setting('is_superuser')::boolean AS superuser`)).rows[0]!,
  );
  if (!superuser) {
    throw new RecoveryRefused(
      `${plan.backup.path} holds ${eventTriggers} event trigger(s) (pggit's DDL tracking), which only a superuser can create, and target ${plan.target} is reached as ${role}, who is not one: ${plan.database} was not touched`,
    );
  }
}

/** The chosen backup and the plan to restore it over the target, or a refusal. */
async function recoveryPlan(ctx: ServerCheckContext, context: BackupContext & { dr: DrContext }, args: RecoveryArgs): Promise<{ backup: BackupRecord; plan: ReplacementPlan }> {
  if (args.backup_id === '') throw new RecoveryRefused('backup_id: required: the backup to restore (pggit-ops backups list)');
  const backup = await context.pools.withLedger((db) => findBackup(db, { backupId: args.backup_id }));
  const refusal = restoreRefusal(args.backup_id, backup, { target: ctx.target, verifiedOnly: true, allowOtherTarget: args.allow_other_target });
  if (refusal) throw new RecoveryRefused(`backup_id: ${refusal}`);
  const plan = await planReplacement(context.dr, context.pools, { target: ctx.target, backup: backupFile(context, backup!) });
  await assertCanRecreate(context.dr, plan);
  return { backup: backup!, plan };
}

/** The critical findings of a failed replacement, for the step's error (the ledger keeps only that of a failed step). */
function failures(replacement: Replacement): string {
  return replacement.findings.filter((f) => f.severity === 'critical').map((f) => f.message).join('; ');
}

function replacementData(replacement: Replacement, backup: BackupRecord) {
  return {
    backup_id: backup.backupId,
    terminated_sessions: replacement.terminatedSessions,
    rto_seconds: replacement.restore.restoreMs / 1000,
    restore: replacement.restore,
    pggit_resynced: replacement.resynced,
    proof: replacement.proof,
  };
}

export const planRecovery = defineCheck({
  name: 'planRecovery',
  description: 'Checks, changing nothing, that a chosen verified backup can replace the target database, and says what the recovery will do',
  kind: 'check',
  targetSession: false,
  args: recoveryArgs,
  run: (ctx, args) =>
    withDrContext(ctx, async (context) => {
      const { backup, plan } = await recoveryPlan(ctx, context, args);
      const size = backup.sizeBytes === null ? '' : `, ${(backup.sizeBytes / 1024 / 1024).toFixed(1)} MiB`;
      return {
        summary: `will replace database ${plan.database} of ${ctx.target} with backup ${backup.backupId} (data as of ${backup.startedAt}${size}), after a safety backup`,
        findings: [],
        data: { backup_id: backup.backupId, backup_target: backup.target, backup_started_at: backup.startedAt, database: plan.database },
      };
    }),
});

export const restoreTarget = defineCheck({
  name: 'restoreTarget',
  description: "Replaces the target's database with a verified full backup (sessions terminated, dropped, recreated by pg_restore), re-binds pggit, verifies it against the backup",
  kind: 'job',
  targetSession: false,
  args: recoveryArgs,
  run: (ctx, args) =>
    withDrContext(ctx, async (context) => {
      const { backup, plan } = await recoveryPlan(ctx, context, args);
      // Verified once is not enough: the file may have been damaged since, and the database is about
      // to be dropped. A failure here also marks the backup unverified in the catalog.
      const verification = await verifyBackup(context, { backupId: backup.backupId });
      if (!verification.ok) {
        throw new RecoveryRefused(`backup ${backup.backupId} failed verification just now (${verification.problems.join('; ')}): ${plan.database} was not touched`);
      }
      const replacement = await replaceDatabase(context.dr, plan, args.jobs);
      if (!replacement.ok) {
        throw ApplicationFailure.nonRetryable(`restoring ${backup.backupId} into ${plan.database} failed: ${failures(replacement)}`, 'RecoveryFailed');
      }
      return {
        summary: `${plan.database} replaced with ${backup.backupId} in ${(replacement.restore.restoreMs / 1000).toFixed(1)} s and verified against it (${replacement.terminatedSessions} sessions terminated)`,
        findings: replacement.findings,
        data: replacementData(replacement, backup),
      };
    }),
});

export const putBackTarget = defineCheck({
  name: 'putBackTarget',
  description: "Puts the target's database back from the run's safety backup, unless it is still the database that backup was taken of",
  kind: 'job',
  targetSession: false,
  args: z
    .object({
      /** The step of this run that took the safety backup (its idempotency key is the run and that step). */
      safety_step: z.string().min(1),
    })
    .strict(),
  run: (ctx, args) => withDrContext(ctx, (context) => putBack(ctx, context, args.safety_step, { unlessUntouched: true })),
});

/**
 * Replaces the target's database with the run's safety backup (taken by step `safetyStep`). With
 * `unlessUntouched`, not when it is still the very database that backup was taken of (a recovery
 * that failed before its drop); a rollback, which changes the database in place, puts it back anyway.
 */
export async function putBack(ctx: ServerCheckContext, context: BackupContext & { dr: DrContext }, safetyStep: string, options: { unlessUntouched: boolean }): Promise<StepResult> {
  const key = `${ctx.runId}/${safetyStep}`;
  const safety = await context.pools.withLedger((db) => findBackup(db, { idempotencyKey: key }));
  if (safety?.status !== 'succeeded' || !safety.verified) {
    const found = safety ? `: backup ${safety.backupId} is ${safety.status}${safety.verified ? '' : ', unverified'}` : '';
    throw new RecoveryRefused(`no verified safety backup of this run (idempotency key ${key}${found}): nothing to put the target back from`);
  }
  const plan = await planReplacement(context.dr, context.pools, { target: ctx.target, backup: backupFile(context, safety) });
  // The OID tells whether the recovery got as far as the drop: one refused or failed before it
  // leaves the very database the safety backup was taken of, and restoring that would only lose
  // what was written since.
  const current = options.unlessUntouched ? await databaseOid(context.dr, ctx.target, plan.database) : null;
  if (current !== null && current === plan.contents.database?.oid) {
    return {
      summary: `nothing to put back: ${plan.database} is still the database safety backup ${safety.backupId} was taken of`,
      findings: [{ code: 'target_untouched', severity: 'info', message: `${plan.database} was not dropped (OID ${current}, as when safety backup ${safety.backupId} was taken)` }],
      data: { backup_id: safety.backupId, put_back: false },
    };
  }
  await assertCanRecreate(context.dr, plan);
  const replacement = await replaceDatabase(context.dr, plan);
  if (!replacement.ok) {
    throw ApplicationFailure.nonRetryable(
      `putting ${plan.database} back from safety backup ${safety.backupId} failed: ${failures(replacement)}. Restore it by hand: pg_restore --create --dbname=postgres ${plan.backup.path}`,
      'RecoveryFailed',
    );
  }
  return {
    summary: `${plan.database} put back from safety backup ${safety.backupId} in ${(replacement.restore.restoreMs / 1000).toFixed(1)} s and verified against it`,
    findings: replacement.findings,
    data: { ...replacementData(replacement, safety), put_back: true },
  };
}
