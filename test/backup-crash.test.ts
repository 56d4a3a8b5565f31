// Kill -9 the worker process while pg_dump runs, start a new worker: the backup run completes with
// exactly one valid backup of that step, and no partial file is left in the store. The same during
// a drill's restore: the drill completes and no scratch database is left behind.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allChecks } from '../activities/checks/index.ts';
import { parseRunbook } from '../runbooks/loader.ts';
import { connectClient } from '../worker/temporal-connection.ts';
import { timeSuffix } from '../workflows/ids.ts';
import { progressQuery, runbookRun } from '../workflows/runbook.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type TestPostgres } from './support/postgres.ts';
import { startWorkerProcess, testConfig } from './support/temporal.ts';
import type { LoadedConfig } from '../worker/config.ts';

let server: TestPostgres;
const store = mkdtempSync(path.join(tmpdir(), 'pggit-ops-store-'));

beforeAll(async () => {
  server = await startPostgres();
  await installPggit(server.connection);
  // Big enough that the dump takes a few seconds: time to kill the worker in the middle of it.
  await withPgClient(server.connection, (c) => c.query(`CREATE TABLE big AS SELECT g, md5(g::text) AS h FROM generate_series(1, 3000000) g`));
});
afterAll(() => server?.stop());

describe('a worker killed during a long DR step', () => {
  const loaded = () => testConfig({ app: server.connection }, { ledger: { target: 'app' }, backups: { dir: store } });
  /** Starts a run of a one-step runbook (`step` is the step's YAML mapping) on target app. */
  const startRun = (client: Client, config: LoadedConfig, name: string, step: string) => {
    const runbook = parseRunbook(`name: ${name}\ndescription: one step\nsteps:\n  - ${step}`, `${name}.yaml`, { checks: allChecks, people: { users: {}, groups: {} } });
    return client.workflow.start(runbookRun, {
      taskQueue: config.config.temporal.task_queues.checks,
      workflowId: `${name}/app/${timeSuffix()}`,
      args: [{ runbook, target: 'app', initiator: 'alice', queues: config.config.temporal.task_queues }],
    });
  };
  const scratch = () =>
    withPgClient(server.connection, async (c: pg.Client) => (await c.query(`SELECT datname FROM pg_database WHERE datname LIKE 'pggit_drill_%'`)).rows.map((r) => r.datname as string));
  const untilRestoring = async () => {
    for (let i = 0; i < 600 && (await scratch()).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await scratch()).toHaveLength(1); // the restore is under way
  };

  it('during pg_dump: one valid backup and no partial file once a new worker finishes the run', async () => {
    const config = loaded();
    const client = await connectClient(config);
    let worker = startWorkerProcess(config);
    try {
      const handle = await startRun(client, config, 'backup',
        '{ id: backup_full, title: backup, activity: backupDatabase, args: { kind: full }, heartbeat_timeout: 5s, retry: { maximum_attempts: 5 } }');
      // Wait until pg_dump is writing its partial file, then kill the worker hard.
      const dir = path.join(store, 'app');
      const partials = () => (existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.partial')) : []);
      for (let i = 0; i < 600; i++) {
        const running = (await handle.query(progressQuery).catch(() => undefined))?.steps[0]?.status === 'running';
        if (running && partials().length > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(partials().length).toBeGreaterThan(0);
      worker.kill('SIGKILL');
      await worker;

      worker = startWorkerProcess(config);
      const result = await handle.result();
      expect(result.steps.map((s) => s.status)).toEqual(['succeeded']);

      const rows = await withPgClient(server.connection, (c: pg.Client) =>
        c.query(`SELECT backup_id, status, verified FROM pggit_ops.backups WHERE idempotency_key = $1`, [`${handle.workflowId}/backup_full`]),
      );
      expect(rows.rows).toEqual([expect.objectContaining({ status: 'succeeded', verified: true })]);
      const files = readdirSync(path.join(store, 'app'));
      expect(files.filter((f) => f.endsWith('.partial'))).toEqual([]);
      expect(files.filter((f) => f.endsWith('.dump'))).toHaveLength(1);
      expect(files.filter((f) => f.endsWith('.manifest.json'))).toHaveLength(1);
    } finally {
      worker.kill('SIGTERM');
      await worker;
      await client.connection.close();
    }
  });

  it('during a drill\'s restore: the retried drill passes and no scratch database is left', async () => {
    const config = loaded();
    const client = await connectClient(config);
    let worker = startWorkerProcess(config);
    try {
      const handle = await startRun(client, config, 'drill',
        '{ id: restore_drill, title: drill, activity: restoreDrill, heartbeat_timeout: 5s, retry: { maximum_attempts: 5 } }');
      await untilRestoring();
      worker.kill('SIGKILL');
      await worker;

      worker = startWorkerProcess(config);
      const result = await handle.result();
      expect(result.steps.map((s) => s.status)).toEqual(['succeeded']);
      expect(await scratch()).toEqual([]);
      const history = await handle.fetchHistory();
      const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
      expect(attempts).toContain(2);
    } finally {
      worker.kill('SIGTERM');
      await worker;
      await client.connection.close();
    }
  });

  it('cancelling a drill mid-restore stops it, records the run as cancelled and drops the scratch database', async () => {
    const config = loaded();
    const client = await connectClient(config);
    const worker = startWorkerProcess(config);
    try {
      const handle = await startRun(client, config, 'drill', '{ id: restore_drill, title: drill, activity: restoreDrill, heartbeat_timeout: 30s }');
      await untilRestoring();
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow();
      // The run ends only once the cancelled restore has cleaned up: no waiting for it here.
      expect(await scratch()).toEqual([]);
      const run = await withPgClient(server.connection, (c: pg.Client) => c.query('SELECT status FROM pggit_ops.runs WHERE run_id = $1', [handle.workflowId]));
      expect(run.rows).toEqual([{ status: 'cancelled' }]);
    } finally {
      worker.kill('SIGTERM');
      await worker;
      await client.connection.close();
    }
  });
});
