// What a staged rollback reads of the target and of the backup catalog: the point and scope it
// goes back to (checked, so bad input is refused naming it), the plan pggit.rollback_plan builds
// (sql/008), which stages of it have taken effect, and which backup holds the rows of a table the
// rollback re-creates empty. Shared by the rollback steps (activities/checks/rollback/) and
// `pggit-ops rollback --preview`, which reads the same plan without starting a run.
import type pg from 'pg';
import { recordColumns, toRecord, type BackupRecord, type CatalogRow } from '../backup/catalog.ts';

/** As a runbook passes it: `to`, or `object` and `version`; '' means not given. */
export interface RollbackRequest {
  to: string;
  object: string;
  version: string;
}

/** Where the rollback goes: the point (PostgreSQL's text of a timestamptz, microseconds kept) and the objects (null: all). */
export interface RollbackPoint {
  point: string;
  scope: string[] | null;
  /** For summaries: "to 2026-...", "public.customer to version 1.1.0". */
  label: string;
}

/** Input the rollback cannot go by; its message names the input. */
export class RollbackInputError extends Error {
  override name = 'RollbackInputError';
}

export interface PlanStep {
  step: number;
  stage: number;
  stage_name: string;
  object_type: string;
  object_name: string;
  action: string;
  /** null: a change rollback cannot undo, which blocks the plan. */
  sql: string | null;
  locks: string;
  loses_data: boolean;
  needs_backup_data: boolean;
  touches: string[];
  note: string | null;
  expected_definition: string | null;
}

export async function rollbackPoint(db: pg.ClientBase, request: RollbackRequest): Promise<RollbackPoint> {
  const byTime = request.to !== '';
  const byObject = request.object !== '' || request.version !== '';
  if (byTime === byObject) throw new RollbackInputError('give either a timestamp to roll back to, or an object and a version, not both or neither');
  if (byTime) {
    const point = await db.query<{ point: string }>('SELECT $1::timestamptz::text AS point', [request.to]).then(
      (r) => r.rows[0]!.point,
      (err: pg.DatabaseError) => {
        // 22007 invalid_datetime_format, 22008 datetime_field_overflow
        if (err.code === '22007' || err.code === '22008') throw new RollbackInputError(`timestamp '${request.to}' is not a valid time (e.g. '2026-06-15 10:00:00+00'): ${err.message}`);
        throw err;
      },
    );
    return { point, scope: null, label: `to ${point}` };
  }
  if (request.object === '' || request.version === '') throw new RollbackInputError(`an object rollback needs both the object and the version (got object '${request.object}', version '${request.version}')`);
  const { rows } = await db.query<{ full_name: string; point: string }>('SELECT full_name, point::text AS point FROM pggit.rollback_object_point($1, $2)', [request.object, request.version]).catch(
    (err: pg.DatabaseError) => {
      // 42704 undefined_object: never recorded; 22023 invalid_parameter_value: no such version. The message names both.
      if (err.code === '42704' || err.code === '22023') throw new RollbackInputError(err.message.replace(/^rollback_object: /, ''));
      throw err;
    },
  );
  return { point: rows[0]!.point, scope: [rows[0]!.full_name], label: `${rows[0]!.full_name} to version ${request.version}` };
}

export async function rollbackPlan(db: pg.ClientBase, at: RollbackPoint): Promise<PlanStep[]> {
  const { rows } = await db.query<PlanStep>('SELECT * FROM pggit.rollback_plan($1::timestamptz, $2::text[]) ORDER BY step', [at.point, at.scope]).catch(
    (err: pg.DatabaseError) => {
      // 22023: a point in the future, or before the history kept; 0A000: a rename rollback cannot follow. The message names it.
      if (err.code === '22023' || err.code === '0A000') throw new RollbackInputError(err.message.replace(/^rollback: /, ''));
      throw err;
    },
  );
  return rows;
}

/** Objects not yet as recorded at the point (empty once the rollback is complete). */
export async function rollbackMismatches(db: pg.ClientBase, at: RollbackPoint): Promise<Array<{ object_type: string; object_name: string }>> {
  const { rows } = await db.query('SELECT object_type, object_name FROM pggit.rollback_mismatches($1::timestamptz, $2::text[])', [at.point, at.scope]);
  return rows;
}

/** The stages of a plan, in order, each with its steps. */
export function stagesOf(plan: readonly PlanStep[]): Array<{ stage: number; name: string; steps: PlanStep[] }> {
  const stages = new Map<number, { stage: number; name: string; steps: PlanStep[] }>();
  for (const step of plan) {
    const stage = stages.get(step.stage) ?? { stage: step.stage, name: step.stage_name, steps: [] };
    stage.steps.push(step);
    stages.set(step.stage, stage);
  }
  return [...stages.values()].sort((a, b) => a.stage - b.stage);
}

/**
 * Steps of a committed stage whose object is not as the plan said it would be: an object with an
 * expected definition must have it, an object the step drops for good must be gone.
 */
export async function stageMismatches(db: pg.ClientBase, steps: readonly PlanStep[]): Promise<string[]> {
  const checked = steps.filter((s) => s.expected_definition !== null || s.action === 'drop');
  if (!checked.length) return [];
  const { rows } = await db.query<{ object_name: string }>(
    `SELECT c.object_name FROM unnest($1::text[], $2::text[], $3::text[]) AS c(object_type, object_name, expected)
      WHERE pggit.comparable_definition(c.object_type, c.expected)
            IS DISTINCT FROM pggit.comparable_definition(c.object_type, pggit.live_definition(c.object_type, c.object_name))`,
    [checked.map((s) => s.object_type), checked.map((s) => s.object_name), checked.map((s) => s.expected_definition)],
  );
  return rows.map((r) => r.object_name);
}

/** Runs `fn` as one transaction under lock_timeout; rolled back on any error, which is rethrown. */
export async function inTransaction(db: pg.ClientBase, lockTimeout: string, fn: () => Promise<void>): Promise<void> {
  await db.query('BEGIN');
  try {
    // A rollback must not queue behind a long transaction while holding locks everyone else then queues behind.
    await db.query("SELECT set_config('lock_timeout', $1, true)", [lockTimeout]);
    await fn();
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** A stage that failed (and was rolled back), or committed but does not match the plan; the stages before it stay committed. */
export class StageFailed extends Error {
  override name = 'StageFailed';
}

/**
 * Applies a plan stage by stage, each stage one transaction, each checked against the recorded
 * definitions once committed: a failure leaves whole stages, which the caller undoes. With
 * `runId`, each stage is recorded in pggit_ops.rollback_stages in its own transaction (sql/011).
 */
export async function applyStages(
  db: pg.ClientBase,
  plan: readonly PlanStep[],
  options: { lockTimeout: string; runId?: string; onStage?: (stage: { stage: number; name: string }, committed: number) => void },
): Promise<ReturnType<typeof stagesOf>> {
  const stages = stagesOf(plan);
  const committed: string[] = [];
  for (const stage of stages) {
    options.onStage?.(stage, committed.length);
    let current: PlanStep | undefined;
    try {
      await inTransaction(db, options.lockTimeout, async () => {
        for (current of stage.steps) await db.query(current.sql!);
        current = undefined;
        if (options.runId !== undefined) {
          await db.query('INSERT INTO pggit_ops.rollback_stages (run_id, stage, stage_name, statements) VALUES ($1, $2, $3, $4)', [options.runId, stage.stage, stage.name, stage.steps.length]);
        }
      });
    } catch (err) {
      throw new StageFailed(
        `stage ${stage.stage} (${stage.name}) failed${current ? ` at step ${current.step} (${current.action} ${current.object_name})` : ''} and was rolled back: ${(err as Error).message}; committed before it: ${committed.join(', ') || 'nothing'}`,
      );
    }
    committed.push(`stage ${stage.stage}`);
    const differ = await stageMismatches(db, stage.steps);
    if (differ.length) throw new StageFailed(`stage ${stage.stage} (${stage.name}) committed, but ${differ.join(', ')} differ from the recorded definitions`);
  }
  return stages;
}

/** How many stages of run `runId` have committed on this database. */
export async function committedStages(db: pg.ClientBase, runId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pggit_ops.rollback_stages WHERE run_id = $1', [runId]);
  return rows[0]!.n;
}

/** Tracked DDL recorded after `since`: a plan previewed then is stale once there is any. */
export async function changesSince(db: pg.ClientBase, since: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pggit.history WHERE change_timestamp > $1::timestamptz', [since]);
  return rows[0]!.n;
}

export interface DroppedTable {
  table: string;
  /** When pggit recorded its drop. */
  droppedAt: string | null;
  /** The newest verified full backup of the target started before the drop, if any. */
  backup: BackupRecord | null;
}

/** For each table the plan re-creates empty: when it was dropped, and the backup its rows can come from. */
export async function droppedTables(db: pg.ClientBase, ledger: pg.ClientBase, target: string, plan: readonly PlanStep[]): Promise<DroppedTable[]> {
  const found: DroppedTable[] = [];
  for (const step of plan.filter((s) => s.needs_backup_data)) {
    const { rows } = await db.query<{ at: string | null }>(
      `SELECT max(change_timestamp)::text AS at FROM pggit.history WHERE full_name = $1 AND change_type = 'DROP' AND object_type = $2`,
      [step.object_name, step.object_type],
    );
    const droppedAt = rows[0]!.at;
    const backups = droppedAt === null ? [] : (await ledger.query<CatalogRow>(
      `SELECT ${recordColumns} FROM pggit_ops.backups
        WHERE target = $1 AND kind = 'full' AND status = 'succeeded' AND verified AND started_at < $2::timestamptz
        ORDER BY started_at DESC, id DESC LIMIT 1`,
      [target, droppedAt],
    )).rows;
    found.push({ table: step.object_name, droppedAt, backup: backups[0] ? toRecord(backups[0]) : null });
  }
  return found;
}
