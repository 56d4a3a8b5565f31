// Kill -9 the worker while a rollback stage waits for a lock, start a new worker: the retried apply
// ends the dead attempt's session (still waiting, so never committed), skips the stage that had
// committed, applies the one in flight again and the rest; the run completes once, the schema as
// dumped at the point, each stage committed and recorded once, each step once in the ledger. On the
// functions: the stale check ignores the run's own committed stages and never anyone else's change,
// a resumed apply finishes the stored plan, and a later attempt ends the session an earlier one left.
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyStages, changesSince, committedStages, planningMark, rollbackMismatches, rollbackPlan, runPlan, sessionLost, takeOverRun, type RollbackPoint,
} from '../activities/rollback/plan.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { connectClient } from '../worker/temporal-connection.ts';
import { approveUpdate, progressQuery } from '../workflows/runbook.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from './support/postgres.ts';
import { buildScenario, copyDatabase, schemaDump, type Scenario } from './support/rollback-scenario.ts';
import { rememberSecret } from './support/secrets.ts';
import { startWorkerProcess, testConfig } from './support/temporal.ts';
import { until } from './support/wait.ts';
import { runCli, targetSecrets } from './support/cli.ts';

const tokens = { carol: 'token-of-carol' };
const sha = (t: string) => createHash('sha256').update(t).digest('hex');

let server: TestPostgres;
let scenario: Scenario;
/** The scenario's migrated database untouched, for the cases on the functions to copy. */
let pristine: string;
/** The target `crashed`: the scenario's migrated database. */
let app: PgConnection;
let loaded: LoadedConfig;

beforeAll(async () => {
  rememberSecret(tokens.carol);
  server = await startPostgres();
  await installPggit(server.connection);
  scenario = await buildScenario(server);
  pristine = await copyDatabase(server, scenario.migrated, 'pristine');
  app = { ...server.connection, database: scenario.migrated };
  loaded = testConfig(
    // Its own target name: the destructive-run lock is per target name on the shared test server.
    { crashed: app, ops: server.connection },
    {
      ledger: { target: 'ops' },
      backups: { dir: mkdtempSync(path.join(tmpdir(), 'pggit-ops-store-')) },
      people: { users: { alice: {}, bob: {}, carol: { token_sha256: sha(tokens.carol) } }, groups: { dba: ['alice', 'bob', 'carol'] } },
    },
  );
}, 240_000);
afterAll(() => server?.stop());

/** The real CLI, as carol, with the targets' secrets in its environment. */
function cli(args: string[]) {
  return runCli(loaded, args, { ...targetSecrets(loaded, server.connection.password), PGGIT_OPS_OPERATOR_TOKEN: tokens.carol });
}

/** Backends on `app` of the rollback sessions of `runId` (their application_name) waiting for a lock. */
const waitingStage = (runId: string) =>
  withPgClient(app, async (c) =>
    (await c.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND wait_event_type = 'Lock'`,
      [`pggit-ops rollback ${runId}`],
    )).rows[0]?.pid);

const alive = (pid: number) =>
  withPgClient(server.connection, async (c) => (await c.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 1);

interface Report {
  status: string;
  steps: Array<{ id: string; status: string; summary: string | null; data: Record<string, unknown> | null }>;
}

describe('a worker killed during a rollback stage', () => {
  it('leaves the stage to a new worker: the run completes once, each stage committed once, nothing left of the dead attempt', async () => {
    const point = scenario.points[0]!;
    const client: Client = await connectClient(loaded);
    // Stage 1 drops the view over customer, stage 2 the index on it: a session holding customer
    // lets stage 1 through (DROP VIEW locks the view) and keeps stage 2 waiting (DROP INDEX locks the table).
    const holder = new pg.Client(app);
    await holder.connect();
    let worker = startWorkerProcess(loaded);
    try {
      const started = await cli(['rollback', '--db', 'crashed', '--to', point.at, '--lock-timeout', '600s', '--json']);
      expect(started.exitCode, started.stderr).toBe(0);
      const { runId } = JSON.parse(started.stdout) as { runId: string };
      const handle = client.workflow.getHandle(runId);
      await until('the approval gate', async () =>
        (await handle.query(progressQuery).catch(() => undefined))?.steps.find((s) => s.id === 'safety_backup')?.status === 'waiting_approval' || undefined);
      await holder.query('BEGIN; LOCK TABLE public.customer IN ACCESS SHARE MODE');
      for (const approver of ['alice', 'bob']) {
        await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'safety_backup', decision: 'approve', approver, reason: 'ok' }] });
      }
      const stalled = await until('stage 2 to wait for its lock', () => waitingStage(runId));
      expect(await withPgClient(app, (c) => committedStages(c, runId))).toEqual([1]);

      worker.kill('SIGKILL');
      await worker;
      worker = startWorkerProcess(loaded);
      // Still waiting for the lock, the dead attempt's session would outlive its worker until the
      // lock is free: the retry ends it (after the 30 s heartbeat timeout) before it reads anything.
      expect(await alive(stalled)).toBe(true);
      await until('the retry to end the dead attempt\'s session', async () => ((await alive(stalled)) ? undefined : true), 120);
      await holder.query('ROLLBACK');
      await handle.result();

      const run = await cli(['report', runId, '--json']);
      expect(run.exitCode, run.stderr).toBe(0);
      const done = JSON.parse(run.stdout) as Report;
      expect(done.status).toBe('succeeded');
      expect(done.steps.map((s) => [s.id, s.status])).toEqual([
        ['preview', 'succeeded'], ['safety_backup', 'succeeded'], ['apply', 'succeeded'], ['restore_data', 'succeeded'], ['verify', 'succeeded'],
      ]);
      expect(done.steps.find((s) => s.id === 'apply')!.summary).toMatch(/each verified; stage 1 committed by an earlier attempt$/);
      expect(await schemaDump(server.url(app.database))).toBe(point.schema);

      // Every stage of the approved plan committed once, and every tracked change since the preview
      // was made in one of those recorded transactions: none by the dead attempt's stage 2.
      const preview = done.steps.find((s) => s.id === 'preview')!.data as {
        planned_at: string; planned_snapshot: string; planned_horizon: string; stages: Array<{ stage: number; name: string; statements: number }>;
      };
      await withPgClient(app, async (c) => {
        const stages = await c.query('SELECT stage, stage_name AS name, statements FROM pggit_ops.rollback_stages WHERE run_id = $1 ORDER BY stage', [runId]);
        expect(stages.rows).toEqual(preview.stages);
        expect(await changesSince(c, { at: preview.planned_at, snapshot: preview.planned_snapshot, horizon: preview.planned_horizon }, runId)).toBe(0);
        const perStage = await c.query<{ stage: number; rows: number }>(
          `SELECT s.stage, count(h.id)::int AS rows FROM pggit_ops.rollback_stages s LEFT JOIN pggit.history h ON h.transaction_id = s.transaction_id
            WHERE s.run_id = $1 GROUP BY s.stage ORDER BY s.stage`,
          [runId],
        );
        expect(perStage.rows.every((r) => r.rows > 0)).toBe(true);
        // No session of the run is left, nor its lock.
        const left = await c.query(`SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'pggit-ops rollback %'`);
        expect(left.rows).toEqual([]);
        const locks = await c.query(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
        expect(locks.rows).toEqual([]);
      });

      await withPgClient(server.connection, async (c) => {
        expect((await c.query('SELECT status FROM pggit_ops.runs WHERE run_id = $1', [runId])).rows).toEqual([{ status: 'succeeded' }]);
        const steps = await c.query('SELECT step_id, count(*)::int AS n FROM pggit_ops.steps WHERE run_id = $1 GROUP BY step_id', [runId]);
        expect(steps.rows.every((r) => r.n === 1)).toBe(true);
      });
      // The apply's first attempt was lost with the worker and retried; the run completed once.
      const history = await handle.fetchHistory();
      const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
      expect(Math.max(...attempts)).toBeGreaterThan(1);
      expect(history.events!.filter((e) => e.workflowExecutionCompletedEventAttributes)).toHaveLength(1);
    } finally {
      await holder.end();
      worker.kill('SIGTERM');
      await worker;
      await client.connection.close();
    }
  }, 300_000);
});

describe('resuming an apply, on the functions', () => {
  /** Runs `fn` on a fresh copy of the migrated scenario, with the point before the first migration. */
  async function onCopy(fn: (db: pg.Client, connection: PgConnection, at: RollbackPoint) => Promise<void>): Promise<void> {
    const connection = { ...server.connection, database: await copyDatabase(server, pristine, 'resume') };
    await withPgClient(connection, (db) => fn(db, connection, { point: scenario.points[0]!.at, scope: null, label: '' }));
  }

  it('the stale check ignores the stages the run committed, never a change someone else made after the preview', async () => {
    await onCopy(async (db, connection, at) => {
      const plannedAt = await planningMark(db);
      const plan = await runPlan(db, 'run-a', () => rollbackPlan(db, at));
      await applyStages(db, plan.filter((s) => s.stage === 1), { lockTimeout: '5s', runId: 'run-a' });
      expect(await changesSince(db, plannedAt, 'run-a')).toBe(0);
      // Another run's stages are someone else's change.
      expect(await changesSince(db, plannedAt, 'run-b')).toBeGreaterThan(0);

      // A retry applies the rest of the stored plan, not a new one.
      const stored = await runPlan(db, 'run-a', () => Promise.reject(new Error('planned again')));
      expect(stored).toEqual(plan);
      await applyStages(db, stored, { lockTimeout: '5s', runId: 'run-a', committed: await committedStages(db, 'run-a') });
      expect(await committedStages(db, 'run-a')).toEqual([...new Set(plan.map((s) => s.stage))]);
      expect(await rollbackMismatches(db, at)).toEqual([]);
      expect(await changesSince(db, plannedAt, 'run-a')).toBe(0);

      await withPgClient(connection, (other) => other.query('CREATE TABLE public.made_meanwhile (id int)'));
      const theirs = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pggit.history WHERE full_name LIKE 'public.made_meanwhile%'`);
      expect(theirs.rows[0]!.n).toBeGreaterThan(0);
      expect(await changesSince(db, plannedAt, 'run-a')).toBe(theirs.rows[0]!.n);
    });
  });

  it('the stale check sees DDL of a transaction that began before the preview and committed after it', async () => {
    await onCopy(async (db, connection, at) => {
      const other = new pg.Client(connection);
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query('CREATE TABLE public.begun_before (id int)');   // history rows stamped with this transaction's start
        const mark = await planningMark(db);
        await rollbackPlan(db, at);                                        // cannot see the uncommitted table
        await other.query('COMMIT');
        const theirs = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pggit.history WHERE full_name LIKE 'public.begun_before%'`);
        expect(theirs.rows[0]!.n).toBeGreaterThan(0);
        expect(await changesSince(db, mark, 'run-c')).toBe(theirs.rows[0]!.n);
        // By its clock alone the change would pass as older than the plan.
        expect(await changesSince(db, { at: mark.at }, 'run-c')).toBe(0);
      } finally {
        await other.end();
      }
    });
  });

  it('a later attempt ends the session an earlier one left waiting for a lock, and takes the run over', async () => {
    await onCopy(async (holder, connection) => {
      await holder.query('BEGIN; LOCK TABLE public.customer IN ACCESS SHARE MODE');
      await withPgClient(connection, async (earlier) => {
        earlier.on('error', () => undefined); // terminated below
        await takeOverRun(earlier, 'run-c');
        const pid = (earlier as unknown as { processID: number }).processID;
        const stage = earlier.query('BEGIN; DROP INDEX public.customer_loyalty_idx').then(() => undefined, (err: unknown) => err);
        await until('the stage to wait for its lock', async () =>
          (await holder.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, [pid])).rowCount ? true : undefined);
        await withPgClient(connection, async (later) => {
          await takeOverRun(later, 'run-c');
          const err = await stage;
          expect(err).toBeInstanceOf(pg.DatabaseError);
          expect((err as pg.DatabaseError).code).toBe('57P01');
          expect(sessionLost(err)).toBe(true);
          expect(await alive(pid)).toBe(false);
          const holders = await holder.query(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted`);
          expect(holders.rows).toEqual([{ pid: (later as unknown as { processID: number }).processID }]);
        });
      }).catch((err: unknown) => {
        // `earlier` was terminated: closing it may fail, nothing else may.
        if (!sessionLost(err)) throw err;
      });
      await holder.query('ROLLBACK');
      expect(await holder.query(`SELECT to_regclass('public.customer_loyalty_idx') AS idx`).then((r) => r.rows[0].idx)).toBe('customer_loyalty_idx');
    });
  });
});
