// What a staged rollback reads of the target and of the backup catalog: the point and scope it
// goes back to (checked, so bad input is refused naming it), the plan pggit.rollback_plan builds
// (sql/008), which stages of it have taken effect, and which backup holds the rows of a table the
// rollback re-creates empty. Shared by the rollback steps (activities/checks/rollback/) and
// `pggit-ops rollback --preview`, which reads the same plan without starting a run. A run's
// attempts take over from one another through its own rows in pggit_ops (sql/011, sql/012).
import pg from 'pg';
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
 * Whether a stage's error is the session's end rather than the stage's own failure: the server
 * terminated it (57P01-57P03: a restart, or a later attempt taking over) or the connection broke
 * (class 08, or node-postgres's own error, which has no SQLSTATE). The stage's fate is then unknown
 * here (its COMMIT may have been processed), so it is left to a retry, which reads it from
 * pggit_ops.rollback_stages instead of calling it failed and rolled back.
 */
export function sessionLost(err: unknown): boolean {
  if (!(err instanceof pg.DatabaseError)) return true;
  return err.code !== undefined && (err.code.startsWith('08') || ['57P01', '57P02', '57P03'].includes(err.code));
}

/**
 * Applies a plan stage by stage, each stage one transaction, each checked against the recorded
 * definitions once committed: a failure leaves whole stages, which the caller undoes. With
 * `runId`, each stage is recorded in pggit_ops.rollback_stages in its own transaction (sql/011),
 * with that transaction's id (sql/012). `committed` are the stages an earlier attempt of the run
 * committed: skipped, and the last of them checked again, since that attempt may have died between
 * its commit and its check.
 */
export async function applyStages(
  db: pg.ClientBase,
  plan: readonly PlanStep[],
  options: { lockTimeout: string; runId?: string; committed?: readonly number[]; onStage?: (stage: { stage: number; name: string }, committed: number) => void },
): Promise<ReturnType<typeof stagesOf>> {
  const stages = stagesOf(plan);
  const earlier = new Set(options.committed);
  const resumed = stages.filter((s) => earlier.has(s.stage));
  const committed = resumed.map((s) => `stage ${s.stage}`);
  if (resumed.length) await checkCommitted(db, resumed.at(-1)!);
  for (const stage of stages.filter((s) => !earlier.has(s.stage))) {
    options.onStage?.(stage, committed.length);
    let current: PlanStep | undefined;
    try {
      await inTransaction(db, options.lockTimeout, async () => {
        for (current of stage.steps) await db.query(current.sql!);
        current = undefined;
        if (options.runId !== undefined) {
          await db.query(
            'INSERT INTO pggit_ops.rollback_stages (run_id, stage, stage_name, statements, transaction_id) VALUES ($1, $2, $3, $4, pg_current_xact_id())',
            [options.runId, stage.stage, stage.name, stage.steps.length],
          );
        }
      });
    } catch (err) {
      if (sessionLost(err)) throw err;
      throw new StageFailed(
        `stage ${stage.stage} (${stage.name}) failed${current ? ` at step ${current.step} (${current.action} ${current.object_name})` : ''} and was rolled back: ${(err as Error).message}; committed before it: ${committed.join(', ') || 'nothing'}`,
      );
    }
    committed.push(`stage ${stage.stage}`);
    await checkCommitted(db, stage);
  }
  return stages;
}

async function checkCommitted(db: pg.ClientBase, stage: ReturnType<typeof stagesOf>[number]): Promise<void> {
  const differ = await stageMismatches(db, stage.steps);
  if (differ.length) throw new StageFailed(`stage ${stage.stage} (${stage.name}) committed, but ${differ.join(', ')} differ from the recorded definitions`);
}

/** The stages of run `runId` committed on this database, in order. */
export async function committedStages(db: pg.ClientBase, runId: string): Promise<number[]> {
  const { rows } = await db.query<{ stage: number }>('SELECT stage FROM pggit_ops.rollback_stages WHERE run_id = $1 ORDER BY stage', [runId]);
  return rows.map((r) => r.stage);
}

/**
 * When a plan is made, for telling later which tracked DDL it did not see: the database's clock
 * (`at`), its snapshot, and a `horizon` no transaction still running then had started before.
 */
export interface PlanningMark {
  at: string;
  /** pg_current_snapshot() as text; absent in previews recorded before it was kept. */
  snapshot?: string;
  horizon?: string;
}

/**
 * Marks the moment before a plan is read. The horizon is read first: a transaction running at the
 * snapshot was running then, or began after. Sessions whose transactions this role may not see,
 * and prepared transactions (which have no session), leave no usable start: then the server's.
 */
export async function planningMark(db: pg.ClientBase): Promise<Required<PlanningMark>> {
  const { rows: [h] } = await db.query<{ horizon: string }>(
    `SELECT CASE WHEN bool_or(a.query = '<insufficient privilege>') OR EXISTS (SELECT FROM pg_prepared_xacts)
                 THEN pg_postmaster_start_time() ELSE least(min(a.xact_start), now()) END::text AS horizon
       FROM pg_stat_activity a WHERE a.pid <> pg_backend_pid()`,
  );
  const { rows: [m] } = await db.query<{ at: string; snapshot: string }>('SELECT now()::text AS at, pg_current_snapshot()::text AS snapshot');
  return { at: m!.at, snapshot: m!.snapshot, horizon: h!.horizon };
}

/**
 * Tracked DDL the plan made at `mark` did not see, other than run `runId`'s committed stages: the
 * plan is stale once there is any. Not seen: written by a transaction not committed at the mark's
 * snapshot, also one that began before the mark (its rows carry its start time) and committed
 * after. The run's own DDL is told apart by transaction, not by time: a stage's history rows carry
 * the id of the transaction its rollback_stages row was written in, and no one else's change can
 * be in that transaction.
 */
export async function changesSince(db: pg.ClientBase, mark: PlanningMark, runId: string): Promise<number> {
  const [unseen, params] = mark.snapshot === undefined
    ? ['h.change_timestamp > $2::timestamptz', [mark.at]]
    : ['h.change_timestamp >= $2::timestamptz AND NOT pg_visible_in_snapshot(h.transaction_id, $3::pg_snapshot)', [mark.horizon, mark.snapshot]];
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pggit.history h
      WHERE ${unseen}
        AND NOT EXISTS (SELECT FROM pggit_ops.rollback_stages s WHERE s.run_id = $1 AND s.transaction_id = h.transaction_id)`,
    [runId, ...params],
  );
  return rows[0]!.n;
}

/**
 * The plan run `runId` applies: the one its first attempt stored (sql/012), else `make()`'s, stored
 * now, before any stage. A retry must finish the plan that was approved and partly applied:
 * planning again from the half-rolled-back schema would give other stages, numbered afresh.
 */
export async function runPlan(db: pg.ClientBase, runId: string, make: () => Promise<PlanStep[]>): Promise<PlanStep[]> {
  const stored = await db.query<{ steps: PlanStep[] }>('SELECT steps FROM pggit_ops.rollback_plans WHERE run_id = $1', [runId]);
  if (stored.rows[0]) return stored.rows[0].steps;
  const plan = await make();
  await db.query('INSERT INTO pggit_ops.rollback_plans (run_id, steps) VALUES ($1, $2)', [runId, JSON.stringify(plan)]);
  return plan;
}

/** The advisory lock every session working on run `runId`'s rollback holds (apply and revert). */
const runLock = `hashtextextended('pggit-ops rollback ' || $1, 0)`;

/**
 * Makes this session the only one working on run `runId`'s rollback in this database: ends the
 * sessions earlier attempts left behind, then holds the run's advisory lock until it closes
 * (waiting a minute at most for it).
 *
 * A session whose worker was killed goes on until its statement ends: a stage waiting for a lock
 * waits out its lock_timeout, a long ALTER runs to its end, and only then does the server find the
 * client gone and roll the stage back; a worker cut off from Temporal but alive would even go on to
 * its next stage. Waiting for that would hold the retry, and everyone queued behind the dead
 * session's locks, for work that is thrown away, so such sessions are terminated. That is safe: a
 * stage takes effect only with its COMMIT, which termination cannot split (the server holds the
 * signal off while committing), so once they are gone rollback_stages says exactly which stages
 * committed. They are found by the run's advisory lock, which every attempt's session holds (or
 * waits for), not by application_name, which any client can set and the server truncates; the
 * application_name set here is for people reading pg_stat_activity.
 */
export async function takeOverRun(db: pg.ClientBase, runId: string): Promise<void> {
  await db.query(`SELECT set_config('application_name', $1, false)`, [`pggit-ops rollback ${runId}`]);
  // pg_locks shows a bigint advisory key as its high (classid) and low (objid) 32 bits, objsubid 1.
  await db.query(
    `SELECT pg_terminate_backend(l.pid, 10000)
       FROM pg_locks l, (SELECT ${runLock} AS key) k
      WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.pid <> pg_backend_pid()
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = ((k.key >> 32) & 4294967295)::oid AND l.objid = (k.key & 4294967295)::oid`,
    [runId],
  );
  // A session still exiting (pg_terminate_backend waits 10 s at most) holds the lock until it is gone.
  await inTransaction(db, '1min', async () => {
    await db.query(`SELECT pg_advisory_lock(${runLock})`, [runId]);
  });
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
