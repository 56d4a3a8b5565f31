// Staged rollback over a real target (runbooks/rollback.yaml), on the SQL of sql/008. The preview
// fixes the plan and the moment it was made; every later step reads that from the preview step's
// result in the ledger, so approvers approve exactly what is applied: the apply refuses when any
// tracked DDL but its own was recorded since. Stages are applied one transaction each, so a failure
// leaves whole stages, each recorded in pggit_ops.rollback_stages as it commits (sql/011); the revert
// undoes the committed ones by rolling back to the preview's moment (the rollback's own DDL is
// tracked, and none of anyone else's may precede it, so that plan is their inverse), or else puts
// the safety backup back. The apply can be retried (its worker died, its session was lost): the
// retry ends what the earlier attempt left running, then finishes the same plan (sql/012) from the
// first stage not recorded as committed.
// The steps open their own sessions (targetSession: false): they set lock_timeout and run their
// own transactions, which a pooled session must not carry over.
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { storeDir } from '../../backup/store.ts';
import { databaseName, dbnameOption, pgToolEnv, runPgTool, withSession } from '../../dr/pg-tools.ts';
import {
  applyStages, changesSince, committedStages, droppedTables, inTransaction, planningMark, rollbackMismatches, rollbackPlan, rollbackPoint, RollbackInputError, runPlan, StageFailed, stagesOf,
  takeOverRun, type PlanStep, type RollbackPoint,
} from '../../rollback/plan.ts';
import { defineCheck, type Finding, type ServerCheckContext } from '../define.ts';
import { withDrContext } from '../dr/backup-database.ts';
import { putBack } from '../dr/restore-target.ts';

/** Approvals a rollback needs: a second person once data would be lost. */
export function approversNeeded(plan: readonly PlanStep[]): 1 | 2 {
  return plan.some((s) => s.loses_data) ? 2 : 1;
}

/** What the preview step records; the later steps read it back from the ledger. */
interface PreviewData {
  point: string;
  scope: string[] | null;
  label: string;
  /** The database's clock when the plan was made: no tracked DDL may follow before the apply. */
  planned_at: string;
  /** What tells DDL the plan did not see (activities/rollback/plan.ts); absent in previews recorded before it was kept. */
  planned_snapshot?: string;
  planned_horizon?: string;
  statements: number;
  stages: Array<{ stage: number; name: string; statements: number }>;
  data_lost: string[];
  approvers_needed: 1 | 2;
  dropped_tables: Array<{ table: string; dropped_at: string | null; backup_id: string | null; backup_path: string | null; backup_format: string | null }>;
  steps: Array<Pick<PlanStep, 'step' | 'stage' | 'object_type' | 'object_name' | 'action' | 'loses_data' | 'needs_backup_data'>>;
}

const lockTimeout = z.string().regex(/^\d+(ms|s|min)?$/, "must be a PostgreSQL duration such as '5s' or '500ms'");
const previewStep = z.string().min(1).default('preview').describe('The step of this run that previewed the rollback.');

async function previewOf(ctx: ServerCheckContext, stepId: string): Promise<PreviewData> {
  const { rows } = await ctx.ledger.query<{ status: string; data: PreviewData | null }>('SELECT status, data FROM pggit_ops.steps WHERE run_id = $1 AND step_id = $2', [ctx.runId, stepId]);
  if (rows[0]?.status !== 'succeeded' || !rows[0].data) {
    throw ApplicationFailure.nonRetryable(`preview_step: step ${stepId} of this run has no successful preview (${rows[0]?.status ?? 'no such step'})`, 'InvalidArgs');
  }
  return rows[0].data;
}

const pointOf = (p: PreviewData): RollbackPoint => ({ point: p.point, scope: p.scope, label: p.label });

export const previewRollback = defineCheck({
  name: 'previewRollback',
  description: 'Plans a rollback of the target to a point in time (or of one object to a version), changing nothing: stages, locks, data at risk, the backup dropped tables can be refilled from, approvals needed',
  kind: 'check',
  targetSession: false,
  args: z
    .object({
      /** A timestamp to roll back to; or `object` and `version`. The runbook's defaults are empty. */
      to: z.string().default(''),
      object: z.string().default(''),
      version: z.string().default(''),
    })
    .strict(),
  run: (ctx, args) =>
    withDrContext(ctx, ({ config }) =>
      withSession(config, { target: ctx.target }, ctx.signal, async (db) => {
        const refused = (err: unknown): never => {
          if (err instanceof RollbackInputError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidArgs');
          throw err;
        };
        const at = await rollbackPoint(db, args).catch(refused);
        const mark = await planningMark(db);
        const plan = await rollbackPlan(db, at).catch(refused);
        const blocked = plan.filter((s) => s.sql === null);
        if (blocked.length) {
          throw ApplicationFailure.nonRetryable(`the plan ${at.label} has changes rollback cannot undo: ${blocked.map((s) => `${s.object_type} ${s.object_name} (${s.note})`).join('; ')}`, 'RollbackUnsupported');
        }
        const dropped = await droppedTables(db, ctx.ledger, ctx.target, plan);
        const dataLost = [...new Set(plan.filter((s) => s.loses_data).map((s) => s.object_name))];
        const stages = stagesOf(plan);
        const findings: Finding[] = [];
        if (dataLost.length) {
          findings.push({ code: 'rollback_loses_data', severity: 'warning', message: `the rollback drops ${dataLost.join(', ')} with their data (created after the point); the safety backup keeps it`, details: { objects: dataLost } });
        }
        for (const d of dropped) {
          findings.push(d.backup
            ? { code: 'dropped_table_restorable', severity: 'info', message: `${d.table} comes back empty; its rows are restored from backup ${d.backup.backupId} (taken ${d.backup.startedAt}, before its drop at ${d.droppedAt})`, details: { table: d.table, backup_id: d.backup.backupId } }
            : { code: 'dropped_table_data_lost', severity: 'warning', message: `${d.table} comes back empty: no verified full backup of ${ctx.target} was taken before its drop at ${d.droppedAt ?? '?'}, so its rows cannot be restored`, details: { table: d.table } });
        }
        const data: PreviewData = {
          point: at.point, scope: at.scope, label: at.label, planned_at: mark.at, planned_snapshot: mark.snapshot, planned_horizon: mark.horizon,
          statements: plan.length,
          stages: stages.map((s) => ({ stage: s.stage, name: s.name, statements: s.steps.length })),
          data_lost: dataLost,
          approvers_needed: approversNeeded(plan),
          dropped_tables: dropped.map((d) => ({ table: d.table, dropped_at: d.droppedAt, backup_id: d.backup?.backupId ?? null, backup_path: d.backup?.path ?? null, backup_format: d.backup?.format ?? null })),
          steps: plan.map(({ step, stage, object_type, object_name, action, loses_data, needs_backup_data }) => ({ step, stage, object_type, object_name, action, loses_data, needs_backup_data })),
        };
        return {
          summary: plan.length
            ? `${at.label}: ${plan.length} statements in ${stages.length} stages${dataLost.length ? `, drops data (${dataLost.join(', ')})` : ', no data lost'}; ${data.approvers_needed} approval${data.approvers_needed > 1 ? 's' : ''} needed`
            : `${at.label}: nothing to roll back`,
          findings,
          data: { ...data },
        };
      }),
    ),
});

/** "stage 1", "stages 1, 2". */
const stageList = (stages: readonly number[]) => `stage${stages.length > 1 ? 's' : ''} ${stages.join(', ')}`;

/** Why a plan is refused as stale; `resumed` are the stages an earlier attempt committed. */
function staleMessage(changes: number, plannedAt: string, resumed: readonly number[]): string {
  if (!resumed.length) return `nothing done: ${changes} schema changes were recorded since the preview at ${plannedAt}, so the approved plan is stale; preview again`;
  return `stopped after ${stageList(resumed)} (committed by an earlier attempt): ${changes} schema changes not made by this rollback were recorded since the preview at ${plannedAt}, so the approved plan is stale; the revert takes the schema back to the preview`;
}

export const applyRollback = defineCheck({
  name: 'applyRollback',
  description: 'Applies the previewed rollback stage by stage, each stage one transaction under lock_timeout, checked against the recorded definitions after it commits; a retry resumes after the stages already committed',
  kind: 'job',
  targetSession: false,
  args: z.object({ preview_step: previewStep, lock_timeout: lockTimeout.default('5s') }).strict(),
  run: (ctx, args) =>
    withDrContext(ctx, async ({ config, dr }) => {
      const preview = await previewOf(ctx, args.preview_step);
      return withSession(config, { target: ctx.target }, ctx.signal, async (db) => {
        // Before anything is read: a session an earlier attempt left may still commit or hold locks.
        await takeOverRun(db, ctx.runId);
        const resumed = await committedStages(db, ctx.runId);
        const since = await changesSince(db, { at: preview.planned_at, snapshot: preview.planned_snapshot, horizon: preview.planned_horizon }, ctx.runId);
        if (since) throw ApplicationFailure.nonRetryable(staleMessage(since, preview.planned_at, resumed), 'RollbackStale');
        const plan = await runPlan(db, ctx.runId, () => rollbackPlan(db, pointOf(preview)));
        const stages = await applyStages(db, plan, {
          lockTimeout: args.lock_timeout,
          runId: ctx.runId,
          committed: resumed,
          onStage: (stage, committed) => dr.heartbeat({ phase: `stage ${stage.stage} (${stage.name})`, committed }),
        }).catch((err: unknown) => {
          ctx.signal.throwIfAborted();
          if (err instanceof StageFailed) throw ApplicationFailure.nonRetryable(err.message, 'RollbackStageFailed');
          throw err;
        });
        return {
          summary: `${preview.label}: ${stages.length} stages applied (${stages.reduce((n, s) => n + s.steps.length, 0)} statements), each verified${resumed.length ? `; ${stageList(resumed)} committed by an earlier attempt` : ''}`,
          findings: [],
          data: { stages: stages.map((s) => ({ stage: s.stage, name: s.name, statements: s.steps.length })), resumed },
        };
      });
    }),
});

export const restoreDroppedTableData = defineCheck({
  name: 'restoreDroppedTableData',
  description: 'Refills the tables the rollback re-created empty from the newest verified full backup taken before each was dropped (pg_restore --data-only --table)',
  kind: 'job',
  targetSession: false,
  args: z.object({ preview_step: previewStep }).strict(),
  run: (ctx, args) =>
    withDrContext(ctx, async ({ config, baseDir, dr }) => {
      const preview = await previewOf(ctx, args.preview_step);
      const findings: Finding[] = [];
      const restored: Array<{ table: string; backup_id: string; rows: number }> = [];
      for (const dropped of preview.dropped_tables) {
        if (!dropped.backup_id) {
          findings.push({ code: 'dropped_table_data_lost', severity: 'warning', message: `${dropped.table} is back without its rows: no backup taken before its drop`, details: { table: dropped.table } });
          continue;
        }
        // pggit's name is as SQL writes it (quoted where needed); pg_restore wants the plain names.
        const count = () => withSession(config, { target: ctx.target }, ctx.signal, async (db) =>
          (await db.query<{ n: number; schema: string; table: string }>(
            `SELECT (SELECT count(*)::int FROM ${dropped.table}) AS n, n.nspname AS schema, c.relname AS table
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass`,
            [dropped.table],
          )).rows[0]!);
        const { n: rows, schema, table } = await count();
        // Rows written since the rollback re-created it would be mixed with the backup's: never.
        if (rows > 0) {
          findings.push({ code: 'dropped_table_not_empty', severity: 'warning', message: `${dropped.table} already has rows: not refilled from backup ${dropped.backup_id}`, details: { table: dropped.table } });
          continue;
        }
        const file = path.join(storeDir(config, baseDir), dropped.backup_path!);
        const run = await runPgTool(dr, 'pg_restore', [
          '--data-only', '--single-transaction', '--exit-on-error', `--format=${dropped.backup_format}`,
          `--schema=${schema}`, `--table=${table}`, dbnameOption(databaseName(config, ctx.target)), file,
        ], { env: pgToolEnv(config, { target: ctx.target }), phase: `restoring the rows of ${dropped.table}` });
        if (run.exitCode !== 0) {
          throw ApplicationFailure.nonRetryable(`pg_restore of ${dropped.table}'s rows from backup ${dropped.backup_id} failed: ${run.stderr.trim().split('\n').at(-1)}`, 'RollbackRestoreFailed');
        }
        restored.push({ table: dropped.table, backup_id: dropped.backup_id, rows: (await count()).n });
      }
      for (const r of restored) findings.push({ code: 'dropped_table_restored', severity: 'info', message: `${r.table}: ${r.rows} rows restored from backup ${r.backup_id}`, details: r });
      return {
        summary: preview.dropped_tables.length ? `${restored.length} of ${preview.dropped_tables.length} re-created tables refilled (${restored.map((r) => `${r.table}: ${r.rows} rows`).join(', ') || 'none'})` : 'no table came back empty',
        findings,
        data: { restored },
      };
    }),
});

export const verifyRollback = defineCheck({
  name: 'verifyRollback',
  description: 'Checks that every tracked object in the rollback\'s scope is as recorded at its point (pggit.verify_rollback)',
  kind: 'check',
  targetSession: false,
  args: z.object({ preview_step: previewStep }).strict(),
  run: (ctx, args) =>
    withDrContext(ctx, async ({ config }) => {
      const preview = await previewOf(ctx, args.preview_step);
      const differ = await withSession(config, { target: ctx.target }, ctx.signal, (db) => rollbackMismatches(db, pointOf(preview)));
      if (differ.length) {
        throw ApplicationFailure.nonRetryable(`after the rollback ${differ.length} objects still differ from their recorded definitions: ${differ.map((d) => `${d.object_type} ${d.object_name}`).join(', ')}`, 'RollbackIncomplete');
      }
      return { summary: `${preview.label}: every object is as recorded`, findings: [], data: { mismatches: 0 } };
    }),
});

export const revertRollback = defineCheck({
  name: 'revertRollback',
  description: "Undoes a failed rollback's committed stages by rolling back to the moment of its preview; if that cannot be done, puts the target back from the safety backup",
  kind: 'job',
  targetSession: false,
  args: z.object({ preview_step: previewStep, safety_step: z.string().min(1), lock_timeout: lockTimeout.default('30s') }).strict(),
  run: (ctx, args) =>
    withDrContext(ctx, async (context) => {
      const preview = await previewOf(ctx, args.preview_step);
      const before: RollbackPoint = { point: preview.planned_at, scope: null, label: `back to ${preview.planned_at}` };
      const inverse = await withSession(context.config, { target: ctx.target }, ctx.signal, async (db) => {
        // An apply attempt whose worker died may have left its session running a stage.
        await takeOverRun(db, ctx.runId);
        // Only what this run's stages did is undone: when none committed (the apply refused a stale
        // plan, or failed in its first stage), later DDL is someone else's.
        if (!(await committedStages(db, ctx.runId)).length) return { statements: 0 };
        let plan: PlanStep[] = [];
        try {
          plan = await rollbackPlan(db, before);
          if (!plan.length) return { statements: 0 };
          if (plan.some((s) => s.sql === null)) return { statements: plan.length, error: 'its inverse has changes rollback cannot undo' };
          // One transaction: the target is either as before the rollback or as the failure left it.
          await inTransaction(db, args.lock_timeout, async () => {
            for (const step of plan) await db.query(step.sql!);
            const differ = await rollbackMismatches(db, before);
            if (differ.length) throw new Error(`${differ.map((d) => d.object_name).join(', ')} still differ`);
          });
          return { statements: plan.length };
        } catch (err) {
          ctx.signal.throwIfAborted();
          return { statements: plan.length, error: (err as Error).message };
        }
      });
      if (!inverse.error) {
        return {
          summary: inverse.statements ? `committed stages undone: ${inverse.statements} statements back to ${preview.planned_at}` : 'nothing to undo: no stage had committed',
          findings: [],
          data: { reverted_statements: inverse.statements, put_back: false },
        };
      }
      const putBackResult = await putBack(ctx, context, args.safety_step, { unlessUntouched: false });
      return {
        ...putBackResult,
        summary: `undoing the committed stages failed (${inverse.error}); ${putBackResult.summary}`,
      };
    }),
});

export const rollbackChecks = [previewRollback, applyRollback, restoreDroppedTableData, verifyRollback, revertRollback] as const;
