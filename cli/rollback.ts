// `pggit-ops rollback`: a staged schema rollback of a target (runbooks/rollback.yaml), or with
// --preview only its plan, read straight from the target with the same SQL the run's preview step
// uses. Either way the input is checked against the target first, so a bad timestamp, an unknown
// object or a version never recorded is exit 2 and starts nothing.
import pg from 'pg';
import { approversNeeded } from '../activities/checks/rollback/index.ts';
import { droppedTables, rollbackPlan, rollbackPoint, RollbackInputError, stagesOf, type RollbackRequest } from '../activities/rollback/plan.ts';
import { connectionConfig } from '../activities/targets.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { CliError, ExitCode } from './exit-codes.ts';
import { assertTarget, runCommand, withLedger } from './runs.ts';
import { paint, table } from './terminal.ts';

export interface RollbackOptions {
  db: string;
  to?: string;
  object?: string;
  version?: string;
  lockTimeout: string;
  preview?: boolean;
  wait?: boolean;
  json?: boolean;
}

async function withTarget<T>(loaded: LoadedConfig, target: string, fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client(connectionConfig(loaded.config, target));
  try {
    await db.connect();
  } catch (err) {
    throw new CliError(ExitCode.Unavailable, `cannot reach target ${target}: ${(err as Error).message}`);
  }
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

export async function rollbackCommand(loaded: LoadedConfig, opts: RollbackOptions): Promise<ExitCode> {
  assertTarget(loaded, opts.db);
  const request: RollbackRequest = { to: opts.to ?? '', object: opts.object ?? '', version: opts.version ?? '' };
  const { at, plan, dropped } = await withLedger(loaded, (ledger) =>
    withTarget(loaded, opts.db, async (db) => {
      const refused = (err: unknown): never => {
        if (err instanceof RollbackInputError) throw new CliError(ExitCode.BadInput, `rollback of ${opts.db}: ${err.message}`);
        throw err;
      };
      const at = await rollbackPoint(db, request).catch(refused);
      const plan = await rollbackPlan(db, at).catch(refused);
      return { at, plan, dropped: await droppedTables(db, ledger, opts.db, plan) };
    }),
  );
  // An empty plan starts no run; `--preview --json` still prints the (empty) plan.
  if (!plan.length && !(opts.preview && opts.json)) {
    console.log(opts.json ? JSON.stringify({ status: 'nothing to roll back', point: at.point }) : `nothing to roll back: every tracked object of ${opts.db} in scope is as recorded ${at.label}`);
    return ExitCode.Ok;
  }
  if (!opts.preview) {
    const param = [`to=${request.to}`, `object=${request.object}`, `version=${request.version}`, `lock_timeout=${opts.lockTimeout}`];
    return runCommand(loaded, 'rollback', { db: opts.db, param, wait: opts.wait, json: opts.json, exclusive: 'a rollback' });
  }

  const dataLost = [...new Set(plan.filter((s) => s.loses_data).map((s) => s.object_name))];
  const blocked = plan.filter((s) => s.sql === null);
  const stages = stagesOf(plan);
  if (opts.json) {
    console.log(JSON.stringify({
      target: opts.db, point: at.point, scope: at.scope, statements: plan.length, stages: stages.map((s) => ({ stage: s.stage, name: s.name, statements: s.steps.length })),
      data_lost: dataLost, approvers_needed: approversNeeded(plan), unsupported: blocked.map((s) => s.object_name),
      dropped_tables: dropped.map((d) => ({ table: d.table, dropped_at: d.droppedAt, backup_id: d.backup?.backupId ?? null })),
      steps: plan,
    }));
    return ExitCode.Ok;
  }
  console.log(`rollback of ${opts.db} ${at.label}: ${plan.length} statements in ${stages.length} stages; ${approversNeeded(plan)} approval(s) needed\n`);
  console.log(table(['step', 'stage', 'action', 'object', 'locks', 'risk'], plan.map((s) => [
    String(s.step), `${s.stage} ${s.stage_name}`, s.action, `${s.object_type} ${s.object_name}`, s.locks ?? '',
    s.sql === null ? paint.red(`cannot undo: ${s.note}`) : s.loses_data ? paint.red('drops data') : s.needs_backup_data ? paint.yellow('comes back empty') : '',
  ])));
  console.log('');
  if (dataLost.length) console.log(paint.red(`data lost: ${dataLost.join(', ')} (created after the point; the safety backup keeps it)`));
  for (const d of dropped) {
    console.log(d.backup
      ? `${d.table}: rows restored from backup ${d.backup.backupId} (taken ${d.backup.startedAt}, before the drop at ${d.droppedAt})`
      : paint.yellow(`${d.table}: comes back empty, no verified full backup taken before its drop at ${d.droppedAt ?? '?'}`));
  }
  if (blocked.length) console.log(paint.red(`the plan cannot be applied: ${blocked.length} changes rollback cannot undo`));
  return ExitCode.Ok;
}
