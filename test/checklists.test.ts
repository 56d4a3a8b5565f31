// The four shipped checklists end to end: loaded from runbooks/*.yaml, run by the interpreter on
// the real Temporal server against Pagila with pggit, their gates approved by the right people.
// A clean database raises no false alarm; planted problems come back as findings in the ledger.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allChecks } from '../activities/checks/index.ts';
import { loadRunbook } from '../runbooks/loader.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { projectRoot } from '../worker/tools.ts';
import { timeSuffix } from '../workflows/ids.ts';
import { approveUpdate, progressQuery, runbookRun } from '../workflows/runbook.ts';
import type { RunProgress } from '../workflows/runbook-types.ts';
import { loadPagila } from './support/pagila.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, type PgConnection, type TestPostgres } from './support/postgres.ts';
import { testConfig, withWorkers } from './support/temporal.ts';

const people = { users: { alice: {}, bob: {}, carol: {} }, groups: { dba: ['alice', 'bob'], security: ['carol'] } };

let server: TestPostgres;
let clean: PgConnection;
let planted: PgConnection;
let loaded: LoadedConfig;
const roles = { superuser: `chk_su_${randomUUID().slice(0, 8)}` };

async function query(c: PgConnection, sql: string, params: unknown[] = []) {
  const client = new pg.Client(c);
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/** Pagila as shipped carries two real findings from its PostgreSQL 12 dump; fixed, it is clean. */
async function pagilaWithPggit(): Promise<PgConnection> {
  const c = { ...server.connection, database: await server.createDatabase('pagila') };
  await loadPagila(server.url(c.database));
  await installPggit(c);
  await query(c, `REVOKE CREATE ON SCHEMA public FROM PUBLIC;
                  ALTER FUNCTION public.rewards_report(integer, numeric) SET search_path = public, pg_catalog`);
  return c;
}

beforeAll(async () => {
  server = await startPostgres();
  clean = await pagilaWithPggit();
  planted = await pagilaWithPggit();
  loaded = testConfig({ clean, planted }, { ledger: { target: 'clean' }, people });
});
afterAll(async () => {
  await query(server.connection, `DROP ROLE IF EXISTS ${roles.superuser}`).catch(() => undefined);
  await server?.stop();
});

/** Runs a shipped checklist, approving every gate it opens as people would (never the initiator). */
async function runChecklist(client: Client, checklist: string, target: string): Promise<RunProgress> {
  const runbook = loadRunbook(path.join(projectRoot, 'runbooks', `${checklist}.yaml`), { checks: allChecks, people });
  const handle: WorkflowHandle<typeof runbookRun> = await client.workflow.start(runbookRun, {
    taskQueue: loaded.config.temporal.task_queues.checks,
    workflowId: `${checklist}/${target}/${timeSuffix()}`,
    args: [{ runbook, target, initiator: 'ops', queues: loaded.config.temporal.task_queues }],
  });
  const decided = new Set<string>();
  for (;;) {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') break;
    const progress = await handle.query(progressQuery);
    for (const step of progress.steps.filter((s) => s.status === 'waiting_approval')) {
      for (const approver of step.approval!.approvers.slice(0, step.approval!.quorum)) {
        if (decided.has(`${step.id}/${approver}`)) continue;
        decided.add(`${step.id}/${approver}`);
        await handle.executeUpdate(approveUpdate, { args: [{ stepId: step.id, decision: 'approve', approver, reason: 'reviewed in test' }] });
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return handle.result();
}

/** Findings of a run, from the ledger (which lives in the `clean` database). */
async function findings(runId: string) {
  const { rows } = await query(clean, `SELECT step_id, severity, code FROM pggit_ops.findings WHERE run_id = $1 ORDER BY step_id, seq`, [runId]);
  return rows as Array<{ step_id: string; severity: string; code: string }>;
}

const alarms = (rows: Array<{ severity: string; code: string }>) => rows.filter((r) => r.severity !== 'info').map((r) => r.code).sort();

describe('the shipped checklists on a clean database', () => {
  it('raise no false alarm: only what is really missing (no backup taken, so none to drill)', async () => {
    await withWorkers(loaded, async (client) => {
      const expected: Record<string, string[]> = {
        daily: ['no_backup'], // true: no backup of this database was ever taken
        weekly: [],
        monthly: ['no_backup_to_drill'], // and so nothing to restore in the DR test
        quarterly: [],
      };
      for (const [checklist, honest] of Object.entries(expected)) {
        const result = await runChecklist(client, checklist, 'clean');
        expect(result.steps.filter((s) => !['succeeded', 'skipped'].includes(s.status)), checklist).toEqual([]);
        expect(alarms(await findings(result.runId)), checklist).toEqual(honest);
      }
    });
  });
});

describe('the shipped checklists find planted problems', () => {
  it('daily: a dropped column and a breaking rename since the last run', async () => {
    await query(planted, `ALTER TABLE public.actor DROP COLUMN last_update`);
    await query(planted, `ALTER TABLE public.category RENAME COLUMN name TO label`);
    await withWorkers(loaded, async (client) => {
      const result = await runChecklist(client, 'daily', 'planted');
      expect(alarms(await findings(result.runId))).toEqual(expect.arrayContaining(['major_change', 'no_backup', 'object_dropped']));
    });
  });

  it('weekly: a superuser, a bloated table, a schema drift', async () => {
    await withWorkers(loaded, async (client) => {
      await runChecklist(client, 'weekly', 'planted'); // baselines: trends, grants, schema
      await query(server.connection, `CREATE ROLE ${roles.superuser} SUPERUSER LOGIN PASSWORD 'x'`);
      await query(planted, `CREATE TABLE public.churn (id int) WITH (autovacuum_enabled = false);
                            INSERT INTO public.churn SELECT generate_series(1, 50000);
                            DELETE FROM public.churn WHERE id > 10000;
                            SELECT pg_stat_force_next_flush();
                            ALTER TABLE public.film ADD COLUMN drifted boolean`);
      const result = await runChecklist(client, 'weekly', 'planted');
      const codes = alarms(await findings(result.runId));
      expect(codes).toEqual(expect.arrayContaining(['superuser_role', 'table_bloat', 'objects_changed']));
    });
  });

  it('monthly: history past its retention is cleaned (after approvals), permissions reviewed', async () => {
    await query(planted, `INSERT INTO pggit.history (object_type, full_name, change_type, change_severity, change_timestamp)
                          SELECT 'table', 'public.film', 'ALTER', 'MINOR', now() - interval '400 days' FROM generate_series(1, 300)`);
    await withWorkers(loaded, async (client) => {
      const result = await runChecklist(client, 'monthly', 'planted');
      expect(result.steps.find((s) => s.id === 'rebuild_indexes')!.status).toBe('succeeded');
      expect(result.steps.find((s) => s.id === 'review_user_permissions')!.status).toBe('succeeded');
      const old = await query(planted, `SELECT count(*)::int AS n FROM pggit.history WHERE change_timestamp < now() - interval '90 days'`);
      expect(old.rows[0].n).toBe(0);
      const all = await findings(result.runId);
      expect(all.map((f) => f.code)).toEqual(expect.arrayContaining(['history_cleaned', 'no_backup_to_drill']));
    });
  });

  it('quarterly: a SECURITY DEFINER function without search_path, a disabled tracking trigger', async () => {
    await query(planted, `CREATE FUNCTION public.risky() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
                          ALTER EVENT TRIGGER pggit_sql_drop DISABLE`);
    await withWorkers(loaded, async (client) => {
      const result = await runChecklist(client, 'quarterly', 'planted');
      const codes = alarms(await findings(result.runId));
      expect(codes).toEqual(expect.arrayContaining(['security_definer_search_path', 'tracking_disabled']));
    });
    await query(planted, `ALTER EVENT TRIGGER pggit_sql_drop ENABLE`);
  });
});
