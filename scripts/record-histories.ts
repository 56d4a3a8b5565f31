// Records one workflow history per workflow kind into test/histories/, for test/replay.test.ts:
// a later change to workflow code that would break runs already in flight then fails CI.
// Re-record only on purpose (a deliberate, versioned change): npm run histories:record [-- KIND...]
// (KIND: health-check, runbook, destructive, rollback; without one, all). Only the kinds named are
// run and written. Keep the old files of the kinds a change does not concern: they are what proves
// that runs started by older code still replay.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { execa } from 'execa';
import pg from 'pg';
import { stringify } from 'yaml';
import { allChecks } from '../activities/checks/index.ts';
import { loadRunbook, parseRunbook } from '../runbooks/loader.ts';
import { installPggit } from '../test/support/pggit.ts';
import { startPostgres, type PgConnection } from '../test/support/postgres.ts';
import { loadConfig } from '../worker/config.ts';
import { connectClient, connectWorker } from '../worker/temporal-connection.ts';
import { findTemporalCli, projectRoot } from '../worker/tools.ts';
import { createWorkers } from '../worker/worker.ts';
import { exclusiveRunbookRun } from '../workflows/exclusive-run.ts';
import { healthCheck } from '../workflows/health-check.ts';
import { approveUpdate, progressQuery, runbookRun } from '../workflows/runbook.ts';

Runtime.install({ logger: new DefaultLogger('WARN') });
const out = path.join(projectRoot, 'test', 'histories');
// carol: the rollback needs two approvers besides its initiator when it drops data.
const people = { users: { alice: {}, bob: {}, carol: {} }, groups: { dba: ['alice', 'bob', 'carol'] } };

interface Recording {
  client: Client;
  queues: { checks: string; jobs: string };
  db: PgConnection;
}

/** Approves `stepId` of a run as each of `approvers` once it waits for approval, by Update. */
async function approveWhenWaiting(handle: WorkflowHandle, stepId: string, approvers: readonly string[]): Promise<void> {
  while ((await handle.query(progressQuery).catch(() => undefined))?.steps.find((s) => s.id === stepId)?.status !== 'waiting_approval') {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const approver of approvers) {
    await handle.executeUpdate(approveUpdate, { args: [{ stepId, decision: 'approve', approver, reason: 'recorded' }], updateId: `${stepId}-${approver}-approval` });
  }
}

async function withClient<T>(db: PgConnection, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(db);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Each kind: records its run and returns the workflow id whose history is the kind's file. */
const kinds: Record<string, (r: Recording) => Promise<string>> = {
  async 'health-check'({ client, queues }) {
    await client.workflow.execute(healthCheck, { taskQueue: queues.checks, workflowId: 'health-check/app/recorded', args: [{ target: 'app' }] });
    return 'health-check/app/recorded';
  },

  // Every feature of the interpreter in one run: a condition, a check, a gated job approved by
  // Update, a sign-off, a failing step that continues, and its compensation.
  async runbook({ client, queues }) {
    const runbook = parseRunbook(`name: runbook
description: every interpreter feature once
steps:
  - { id: look, title: look, activity: noop }
  - { id: skipped, title: skipped, activity: noop, when: { step: look, has_findings: true } }
  - id: gated
    title: gated job
    activity: wait
    args: { seconds: 0 }
    approval: { approvers: ["group:dba"], timeout: 1h }
  - { id: sign, title: sign off, approval: { approvers: [bob], timeout: 1h } }
  - { id: undo, title: undo, activity: wait, args: { seconds: 0 }, compensation_only: true }
  - { id: broken, title: fails, activity: wait, args: { seconds: 0 }, on_failure: { compensate: undo } }
`, 'runbook.yaml', { checks: allChecks, people });
    // 'broken' has invalid args on purpose: the activity refuses them (non-retryable), which
    // fails the step without retries and runs its compensation. The loader would refuse them,
    // so they are changed after loading, as a hand-made workflow input could be.
    const broken = runbook.steps.find((s) => s.id === 'broken');
    if (broken?.kind !== 'job') throw new Error('the recorded runbook changed: step broken is not a job');
    broken.args = { seconds: -1 };
    const handle = await client.workflow.start(runbookRun, {
      taskQueue: queues.checks,
      workflowId: 'runbook/app/recorded',
      args: [{ runbook, target: 'app', initiator: 'alice', queues }],
    });
    await approveWhenWaiting(handle, 'gated', ['bob']);
    await approveWhenWaiting(handle, 'sign', ['bob']);
    await handle.result().catch(() => undefined);
    return 'runbook/app/recorded';
  },

  // The lock every destructive run (recovery, rollback) runs under, with a one-step child run.
  async destructive({ client, queues }) {
    await client.workflow.execute(exclusiveRunbookRun, {
      taskQueue: queues.checks,
      workflowId: 'destructive/app/recorded',
      args: [{
        runId: 'recover/app/recorded',
        run: { runbook: parseRunbook('name: child\ndescription: the locked run\nsteps:\n  - { id: look, title: look, activity: noop }\n', 'child.yaml', { checks: allChecks, people }), target: 'app', initiator: 'alice', queues },
      }],
    });
    return 'destructive/app/recorded';
  },

  // The shipped rollback runbook under the destructive lock, as `pggit-ops rollback` starts it: a
  // column added after the point is dropped with its data, so the quorum read from the preview
  // (quorum_from) is two, approved by Update.
  async rollback({ client, queues, db }) {
    const point = await withClient(db, async (c) => {
      await c.query('CREATE TABLE recorded (id int PRIMARY KEY)');
      const at = (await c.query<{ at: string }>('SELECT clock_timestamp()::text AS at')).rows[0]!.at;
      await c.query('ALTER TABLE recorded ADD COLUMN note text');
      return at;
    });
    const runbook = loadRunbook(path.join(projectRoot, 'runbooks', 'rollback.yaml'), { checks: allChecks, people, params: { to: point } });
    const lock = await client.workflow.start(exclusiveRunbookRun, {
      taskQueue: queues.checks,
      workflowId: 'destructive/app',
      args: [{ runId: 'rollback/app/recorded', run: { runbook, target: 'app', initiator: 'alice', queues } }],
    });
    await approveWhenWaiting(client.workflow.getHandle('rollback/app/recorded'), 'safety_backup', ['bob', 'carol']);
    const { status } = await lock.result();
    if (status !== 'succeeded') throw new Error(`the recorded rollback ended ${status}`);
    return 'rollback/app/recorded';
  },
};

const chosen = process.argv.slice(2);
const unknown = chosen.filter((k) => !(k in kinds));
if (unknown.length) throw new Error(`unknown kinds ${unknown.join(', ')} (known: ${Object.keys(kinds).join(', ')})`);

const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: findTemporalCli() }, ip: '127.0.0.1' } });
const pgs = await startPostgres();
try {
  await installPggit(pgs.connection);
  process.env.RECORD_PW = pgs.connection.password;
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'pggit-ops-record-')), 'pggit-ops.config.yaml');
  writeFileSync(file, stringify({
    temporal: { address: env.address, namespace: env.namespace ?? 'default' },
    targets: { app: { ...pgs.connection, password_env: 'RECORD_PW', password: undefined } },
    ledger: { target: 'app' },
    people,
  }));
  const loaded = loadConfig({ file, env: {} });
  const connection = await connectWorker(loaded);
  const client = await connectClient(loaded);
  const workers = await createWorkers(loaded, connection);
  const stop = new AbortController();
  const running = workers.run(stop.signal);
  const recording: Recording = { client, queues: loaded.config.temporal.task_queues, db: pgs.connection };

  for (const [kind, record] of Object.entries(kinds).filter(([kind]) => chosen.length === 0 || chosen.includes(kind))) {
    const id = await record(recording);
    // The official CLI's JSON export is the format replay reads back (historyFromJSON).
    const { stdout } = await execa(findTemporalCli(), ['workflow', 'show', '--workflow-id', id, '--address', env.address, '--output', 'json']);
    writeFileSync(path.join(out, `${kind}.json`), `${stdout.trim()}\n`);
    console.log(`recorded ${kind}.json (${(JSON.parse(stdout) as { events: unknown[] }).events.length} events)`);
  }
  stop.abort();
  await running;
  await client.connection.close();
  await connection.close();
} finally {
  await pgs.stop();
  await env.teardown();
}
