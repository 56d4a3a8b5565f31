// The Temporal server stops in the middle of a run and comes back on the same SQLite file: the
// worker reconnects on its own and the run finishes, every step recorded once in the ledger.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allChecks } from '../activities/checks/index.ts';
import { parseRunbook } from '../runbooks/loader.ts';
import { freePort } from '../worker/local-postgres.ts';
import { connectClient } from '../worker/temporal-connection.ts';
import { DevServer } from '../worker/temporal-dev-server.ts';
import { timeSuffix } from '../workflows/ids.ts';
import { progressQuery, runbookRun } from '../workflows/runbook.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type TestPostgres } from './support/postgres.ts';
import { startWorkerProcess, testConfig } from './support/temporal.ts';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
  await installPggit(server.connection);
});
afterAll(() => server?.stop());

describe('the Temporal server restarted during a run', () => {
  it('the run resumes and finishes once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pggit-ops-temporal-'));
    const options = { address: `127.0.0.1:${await freePort()}`, uiPort: await freePort(), dbFile: path.join(dir, 'temporal.sqlite'), logFile: path.join(dir, 'temporal.log') };
    let temporal = await DevServer.start(options);
    const loaded = testConfig({ app: server.connection }, { ledger: { target: 'app' }, temporal: { address: options.address, namespace: 'default' } });
    const worker = startWorkerProcess(loaded, 'error');
    try {
      const runbook = parseRunbook(
        `name: outage
description: a run across a Temporal restart
steps:
  - { id: before, title: before, activity: noop }
  - { id: long, title: long, activity: wait, args: { seconds: 8 }, timeout: 2m, heartbeat_timeout: 5s, retry: { maximum_attempts: 10 } }
  - { id: after, title: after, activity: noop }`,
        'outage.yaml',
        { checks: allChecks, people: { users: {}, groups: {} } },
      );
      const runId = `outage/app/${timeSuffix()}`;
      let client = await connectClient(loaded);
      const handle = await client.workflow.start(runbookRun, {
        taskQueue: loaded.config.temporal.task_queues.checks,
        workflowId: runId,
        args: [{ runbook, target: 'app', initiator: 'alice', queues: loaded.config.temporal.task_queues }],
      });
      for (let i = 0; i < 300; i++) {
        const progress = await handle.query(progressQuery).catch(() => undefined);
        if (progress?.steps[1]?.status === 'running') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await temporal.stop();
      await client.connection.close();
      await new Promise((r) => setTimeout(r, 3000));   // down for a while: the worker's polls fail
      temporal = await DevServer.start(options);

      client = await connectClient(loaded);
      try {
        const result = await client.workflow.getHandle<typeof runbookRun>(runId).result();
        expect(result.status).toBe('succeeded');
        expect(result.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      } finally {
        await client.connection.close();
      }
      const steps = await withPgClient(server.connection, (c) =>
        c.query(`SELECT step_id, status FROM pggit_ops.steps WHERE run_id = $1 ORDER BY started_at`, [runId]),
      );
      expect(steps.rows).toEqual([
        { step_id: 'before', status: 'succeeded' },
        { step_id: 'long', status: 'succeeded' },
        { step_id: 'after', status: 'succeeded' },
      ]);
    } finally {
      worker.kill('SIGTERM');
      await worker;
      await temporal.stop();
    }
  }, 180_000);
});
