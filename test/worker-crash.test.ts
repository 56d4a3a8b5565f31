// Kill -9 the worker process in the middle of a run (a long step, or a step waiting for approval),
// start a new one: the run completes exactly once, and the ledger holds every step and approval once.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../worker/temporal-connection.ts';
import { timeSuffix } from '../workflows/ids.ts';
import { approveUpdate, progressQuery, runbookRun } from '../workflows/runbook.ts';
import { allChecks } from '../activities/checks/index.ts';
import { parseRunbook } from '../runbooks/loader.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type TestPostgres } from './support/postgres.ts';
import { startWorkerProcess, testConfig } from './support/temporal.ts';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
  await installPggit(server.connection);
});
afterAll(() => server?.stop());

describe('a worker killed mid-run', () => {
  it('leaves the run to a new worker, which completes it exactly once', async () => {
    const loaded = testConfig({ app: server.connection }, { ledger: { target: 'app' } });
    const client = await connectClient(loaded);
    const runbook = parseRunbook(
      `name: crash
description: crash drill
steps:
  - { id: before, title: before, activity: noop }
  - { id: long, title: long, activity: wait, args: { seconds: 6 }, timeout: 2m, heartbeat_timeout: 3s, retry: { maximum_attempts: 5 } }
  - { id: after, title: after, activity: noop }`,
      'crash.yaml',
      { checks: allChecks, people: { users: {}, groups: {} } },
    );
    let worker = startWorkerProcess(loaded);
    try {
      const handle = await client.workflow.start(runbookRun, {
        taskQueue: loaded.config.temporal.task_queues.checks,
        workflowId: `crash/app/${timeSuffix()}`,
        args: [{ runbook, target: 'app', initiator: 'alice', queues: loaded.config.temporal.task_queues }],
      });
      for (let i = 0; i < 300; i++) {
        const progress = await handle.query(progressQuery).catch(() => undefined);
        if (progress?.steps[1]?.status === 'running') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 1500)); // well inside the 6 s step
      worker.kill('SIGKILL');
      await worker;

      worker = startWorkerProcess(loaded);
      const result = await handle.result();
      expect(result.status).toBe('succeeded');
      expect(result.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);

      const db = new pg.Client(server.connection);
      await db.connect();
      try {
        const runs = await db.query('SELECT status FROM pggit_ops.runs WHERE run_id = $1', [handle.workflowId]);
        expect(runs.rows).toEqual([{ status: 'succeeded' }]);
        const steps = await db.query('SELECT step_id, status FROM pggit_ops.steps WHERE run_id = $1 ORDER BY position', [handle.workflowId]);
        expect(steps.rows).toEqual([
          { step_id: 'before', status: 'succeeded' },
          { step_id: 'long', status: 'succeeded' },
          { step_id: 'after', status: 'succeeded' },
        ]);
      } finally {
        await db.end();
      }
      // The history shows the long step's first attempt was lost with the worker and retried.
      const history = await handle.fetchHistory();
      const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
      expect(attempts).toContain(2);
      const completions = history.events!.filter((e) => e.workflowExecutionCompletedEventAttributes);
      expect(completions).toHaveLength(1);
    } finally {
      worker.kill('SIGTERM');
      await worker;
      await client.connection.close();
    }
  });

  it('while a step waits for approval: the approval sent to the new worker is taken once and the run finishes', async () => {
    const loaded = testConfig({ app: server.connection }, { ledger: { target: 'app' }, people: { users: { alice: {}, bob: {} }, groups: {} } });
    const client = await connectClient(loaded);
    const runbook = parseRunbook(
      `name: gated
description: approval across a worker crash
steps:
  - { id: act, title: act, activity: wait, args: { seconds: 0 }, approval: { approvers: [bob], timeout: 10m } }`,
      'gated.yaml',
      { checks: allChecks, people: { users: { alice: {}, bob: {} }, groups: {} } },
    );
    let worker = startWorkerProcess(loaded);
    try {
      const handle = await client.workflow.start(runbookRun, {
        taskQueue: loaded.config.temporal.task_queues.checks,
        workflowId: `gated/app/${timeSuffix()}`,
        args: [{ runbook, target: 'app', initiator: 'alice', queues: loaded.config.temporal.task_queues }],
      });
      for (let i = 0; i < 300; i++) {
        const progress = await handle.query(progressQuery).catch(() => undefined);
        if (progress?.steps[0]?.status === 'waiting_approval') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      worker.kill('SIGKILL');
      await worker;
      worker = startWorkerProcess(loaded);
      // The Update waits for a worker to run its validator: the new one, replaying the run.
      const decision = { stepId: 'act', decision: 'approve' as const, approver: 'bob', reason: 'go' };
      await handle.executeUpdate(approveUpdate, { args: [decision], updateId: 'after-crash' });
      await handle.executeUpdate(approveUpdate, { args: [decision], updateId: 'after-crash' });   // resent: one decision
      const result = await handle.result();
      expect(result.status).toBe('succeeded');
      const approvals = await withPgClient(server.connection, (c) =>
        c.query(`SELECT approver, outcome FROM pggit_ops.approvals WHERE run_id = $1`, [handle.workflowId]),
      );
      expect(approvals.rows).toEqual([{ approver: 'bob', outcome: 'accepted' }]);
    } finally {
      worker.kill('SIGTERM');
      await worker;
      await client.connection.close();
    }
  });
});
