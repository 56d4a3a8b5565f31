// The worker's database role from scripts/worker-role.sql (no superuser, no ownership): the daily,
// weekly and monthly checks, a backup and the history cleanup all run as it, through the real
// workflow, with the ledger written as that role too. Install stays a superuser's job.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { allChecks } from '../activities/checks/index.ts';
import { parseRunbook } from '../runbooks/loader.ts';
import { pgBin, projectRoot } from '../worker/tools.ts';
import { timeSuffix } from '../workflows/ids.ts';
import { runbookRun } from '../workflows/runbook.ts';
import { loadPagila } from './support/pagila.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from './support/postgres.ts';
import { rememberSecret } from './support/secrets.ts';
import { testConfig, withWorkers } from './support/temporal.ts';

let server: TestPostgres;
let worker: PgConnection;

beforeAll(async () => {
  server = await startPostgres();
  await loadPagila(server.url());
  await installPggit(server.connection);
  const password = randomBytes(12).toString('hex');
  rememberSecret(password);
  const psql = await execa(pgBin('psql'), ['-X', '-q', '-v', 'worker=pggit_ops_worker', '-f', path.join(projectRoot, 'scripts/worker-role.sql'), server.url()], { reject: false });
  expect(psql.exitCode, psql.stderr).toBe(0);
  await withPgClient(server.connection, (c) => c.query(`ALTER ROLE pggit_ops_worker PASSWORD '${password}'`));
  worker = { ...server.connection, user: 'pggit_ops_worker', password };
});
afterAll(() => server?.stop());

describe('the worker role of scripts/worker-role.sql', () => {
  it('is no superuser and owns nothing', async () => {
    const { rows } = await withPgClient(server.connection, (c) =>
      c.query(`SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolbypassrls,
                      (SELECT count(*)::int FROM pg_class WHERE relowner = r.oid) AS owned
                 FROM pg_roles r WHERE r.rolname = 'pggit_ops_worker'`),
    );
    expect(rows).toEqual([{ rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolbypassrls: false, owned: 0 }]);
  });

  it('runs every checklist check, a backup and the history cleanup, writing the ledger', async () => {
    const activities = ['performanceAlerts', 'recentMigrations', 'storageGrowth', 'backupStatus', 'performanceTrends', 'securityAudit',
      'schemaDrift', 'capacityProjection', 'cleanHistory', 'permissionsReview', 'backupDatabase'];
    const stepId = (a: string) => a.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const runbook = parseRunbook(
      `name: least\ndescription: every step as the worker role\nsteps:\n${activities.map((a) => `  - { id: ${stepId(a)}, title: ${a}, activity: ${a}, on_failure: continue${a === 'backupDatabase' ? ', args: { kind: full }' : ''} }`).join('\n')}`,
      'least.yaml',
      { checks: allChecks, people: { users: {}, groups: {} } },
    );
    const store = mkdtempSync(path.join(tmpdir(), 'pggit-ops-store-'));
    const loaded = testConfig({ app: worker }, { ledger: { target: 'app' }, backups: { dir: store } });
    const result = await withWorkers(loaded, (client) =>
      client.workflow.execute(runbookRun, {
        taskQueue: loaded.config.temporal.task_queues.checks,
        workflowId: `least/app/${timeSuffix()}`,
        args: [{ runbook, target: 'app', initiator: 'alice', queues: loaded.config.temporal.task_queues }],
      }),
    );
    expect(result.steps.map((s) => [s.id, s.status, s.error ?? ''])).toEqual(activities.map((a) => [stepId(a), 'succeeded', '']));
    const runs = await withPgClient(server.connection, (c) => c.query(`SELECT status FROM pggit_ops.runs WHERE run_id = $1`, [result.runId]));
    expect(runs.rows).toEqual([{ status: 'succeeded' }]);
  });
});
