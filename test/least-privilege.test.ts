// The worker's database role from scripts/worker-role.sql (no superuser, no CREATEDB, no
// ownership): every daily, weekly, monthly and quarterly check, a backup with its retention, the
// history cleanup and the health check run as it, through the real workflows, with the ledger
// written as that role too. A restore drill reads its source as that role; its scratch database
// lives on a drill server of its own, which it must reach as a superuser: with CREATEDB alone the
// restore can neither give objects their dumped owners nor re-create pggit's event triggers, and the
// drill fails (shown here too). Install stays a superuser's job. Rollback, recovery and the index
// rebuild, which need more than this role, are in least-privilege-destructive.test.ts.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allChecks } from '../activities/checks/index.ts';
import { readTargetFacts } from '../activities/health.ts';
import { parseRunbook } from '../runbooks/loader.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { projectRoot } from '../worker/tools.ts';
import { healthCheck } from '../workflows/health-check.ts';
import { timeSuffix, workflowId } from '../workflows/ids.ts';
import { runbookRun } from '../workflows/runbook.ts';
import { loadPagila } from './support/pagila.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from './support/postgres.ts';
import { workerRole } from './support/roles.ts';
import { testConfig, withWorkers } from './support/temporal.ts';

const WORKER = 'pggit_ops_worker';

let server: TestPostgres;
let worker: PgConnection;
const store = mkdtempSync(path.join(tmpdir(), 'pggit-ops-store-'));

/** Target `app` (also the ledger) reached as the worker role, plus `targets`; backups in `store`. */
function config(targets: Record<string, PgConnection> = {}, backups: Record<string, unknown> = {}): LoadedConfig {
  return testConfig({ app: worker, ...targets }, { ledger: { target: 'app' }, backups: { dir: store, ...backups } });
}

/** The real CLI on `loaded`'s config file (the targets' passwords are in this process's environment). */
async function cli(loaded: LoadedConfig, args: string[]): Promise<Report> {
  const run = await execa('node', [path.join(projectRoot, 'cli/bin.mjs'), '--config', loaded.file!, ...args, '--wait', '--json'], { reject: false });
  expect(run.stdout, run.stderr).not.toBe('');
  return JSON.parse(run.stdout) as Report;
}

interface Report {
  steps: Array<{ id: string; status: string; data: Record<string, unknown> | null; findings: Array<{ code: string; severity: string; message: string }> }>;
}

beforeAll(async () => {
  server = await startPostgres();
  await loadPagila(server.url());
  await installPggit(server.connection);
  worker = await workerRole(server.connection, server.connection.database, WORKER);
});
afterAll(() => server?.stop());

describe('the worker role of scripts/worker-role.sql', () => {
  it('is no superuser and owns nothing', async () => {
    const { rows } = await withPgClient(server.connection, (c) =>
      c.query(`SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolbypassrls,
                      (SELECT count(*)::int FROM pg_class WHERE relowner = r.oid) AS owned
                 FROM pg_roles r WHERE r.rolname = $1`, [WORKER]),
    );
    expect(rows).toEqual([{ rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolbypassrls: false, owned: 0 }]);
  });

  it('keeps its grants on tables and sequences a later migration adds, installed by the role that ran the script', async () => {
    await withPgClient(server.connection, (c) =>
      c.query(`CREATE TABLE pggit_ops.later_migration (id bigint GENERATED ALWAYS AS IDENTITY, note text); CREATE TABLE pggit.later_migration (id int)`),
    );
    try {
      await withPgClient(worker, async (c) => {
        await c.query(`INSERT INTO pggit_ops.later_migration (note) VALUES ('written by the worker')`);
        await c.query(`UPDATE pggit_ops.later_migration SET note = 'updated'`);
        expect((await c.query('SELECT count(*)::int AS n FROM pggit.later_migration')).rows).toEqual([{ n: 0 }]);
        await expect(c.query('DELETE FROM pggit_ops.later_migration')).rejects.toThrow(/permission denied/);
      });
    } finally {
      await withPgClient(server.connection, (c) => c.query('DROP TABLE pggit_ops.later_migration, pggit.later_migration'));
    }
  });

  it('runs every checklist check, a backup with its retention and the history cleanup, writing the ledger', async () => {
    const activities = ['performanceAlerts', 'recentMigrations', 'storageGrowth', 'backupStatus', 'performanceTrends', 'securityAudit',
      'schemaDrift', 'capacityProjection', 'cleanHistory', 'permissionsReview', 'tuningReview', 'securityAssessment', 'complianceAudit',
      'techStack', 'pitrReadiness', 'backupDatabase', 'applyBackupRetention'];
    const stepId = (a: string) => a.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const runbook = parseRunbook(
      `name: least\ndescription: every step as the worker role\nsteps:\n${activities.map((a) => `  - { id: ${stepId(a)}, title: ${a}, activity: ${a}, on_failure: continue${a === 'backupDatabase' ? ', args: { kind: full }' : ''} }`).join('\n')}`,
      'least.yaml',
      { checks: allChecks, people: { users: {}, groups: {} } },
    );
    const loaded = config();
    const result = await withWorkers(loaded, (client) =>
      client.workflow.execute(runbookRun, {
        taskQueue: loaded.config.temporal.task_queues.checks,
        workflowId: `least/app/${timeSuffix()}`,
        args: [{ runbook, target: 'app', initiator: 'alice', queues: loaded.config.temporal.task_queues }],
      }),
    );
    expect(result.steps.map((s) => [s.id, s.status, s.error ?? ''])).toEqual(activities.map((a) => [stepId(a), 'succeeded', '']));
    // pg_hba.conf is read through the script's grant, not skipped as unreadable.
    expect(result.steps.find((s) => s.id === 'security_assessment')!.summary).toMatch(/, \d+ hba rules,/);
    const runs = await withPgClient(server.connection, (c) => c.query(`SELECT status FROM pggit_ops.runs WHERE run_id = $1`, [result.runId]));
    expect(runs.rows).toEqual([{ status: 'succeeded' }]);
  });

  it('runs the health-check workflow, which sees what a superuser sees', async () => {
    const loaded = config();
    const facts = await withWorkers(loaded, (client) =>
      client.workflow.execute(healthCheck, {
        taskQueue: loaded.config.temporal.task_queues.checks,
        workflowId: workflowId('health-check', 'app', timeSuffix()),
        args: [{ target: 'app' }],
      }),
    );
    const asSuperuser = await withPgClient(server.connection, (c) => readTargetFacts(c, 'app'));
    // The size is left out of the comparison: autovacuum may add a map file between the two reads.
    const { databaseSizeBytes, ...seen } = facts;
    const { databaseSizeBytes: superuserSize, ...expected } = asSuperuser;
    expect(seen).toEqual(expected);
    expect(databaseSizeBytes).toBeGreaterThan(superuserSize / 2);
    expect(facts.pggitEventTriggers.map((t) => t.enabled)).toEqual([true, true]);
  });
});

describe('a restore drill of a target reached as the worker role', () => {
  /** The drill server (backups.drill_target), a cluster of its own as it should be in production. */
  let drillServer: TestPostgres;

  beforeAll(async () => {
    drillServer = await startPostgres();
    // A drill server holds the roles the backups name (pg_dumpall --globals-only); the worker's gets CREATEDB there.
    await withPgClient(drillServer.connection, (c) => c.query(`CREATE ROLE ${WORKER} LOGIN CREATEDB PASSWORD ${pg.escapeLiteral(worker.password)}`));
    const loaded = config();
    const backup = await withWorkers(loaded, () => cli(loaded, ['backup', '--db', 'app']));
    expect(backup.steps.map((s) => [s.id, s.status])).toEqual([['backup_full', 'succeeded'], ['backup_pggit', 'succeeded'], ['retention', 'succeeded']]);
  });
  afterAll(() => drillServer?.stop());

  /** `pggit-ops drill` of `app`, its scratch database on the drill server reached as `drillAs`; what it left there. */
  async function drill(drillAs: PgConnection): Promise<{ report: Report; left: string[] }> {
    const loaded = config({ drill: drillAs }, { drill_target: 'drill' });
    const report = await withWorkers(loaded, () => cli(loaded, ['drill', '--db', 'app']));
    const left = await withPgClient(drillServer.connection, async (c) =>
      (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'pggit\\_drill\\_%'`)).rows.map((r) => r.datname),
    );
    return { report, left };
  }

  it('passes with the drill server reached as a superuser, the source read as the worker role, and leaves no scratch database', async () => {
    const { report, left } = await drill(drillServer.connection);
    const step = report.steps.find((s) => s.id === 'restore_drill')!;
    expect(step.findings.filter((f) => f.severity === 'critical')).toEqual([]);
    expect(step.data).toMatchObject({ pass: true, performed: true });
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([['pitr_readiness', 'succeeded'], ['restore_drill', 'succeeded']]);
    expect(left).toEqual([]);
  });

  it('fails with only CREATEDB on the drill server: the restore cannot give objects their owners back; no scratch database is left', async () => {
    const { report, left } = await drill({ ...drillServer.connection, user: WORKER, password: worker.password });
    const step = report.steps.find((s) => s.id === 'restore_drill')!;
    expect(step.data).toMatchObject({ pass: false, performed: true });
    expect(step.findings).toContainEqual(expect.objectContaining({
      code: 'restore_needs_superuser', severity: 'critical', message: expect.stringMatching(new RegExp(`as ${WORKER}, who is not a superuser: \\d+ statements of the backup`)),
    }));
    expect(left).toEqual([]);
  });
});
