// Records one workflow history per workflow kind into test/histories/, for test/replay.test.ts:
// a later change to workflow code that would break runs already in flight then fails CI.
// Re-record only on purpose (a deliberate, versioned change): npm run histories:record [-- KIND...]
// (KIND: health-check, runbook, destructive; without one, all). Keep the old files of the kinds a
// change does not concern: they are what proves that runs started by older code still replay.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { allChecks } from '../activities/checks/index.ts';
import { parseRunbook } from '../runbooks/loader.ts';
import { installPggit } from '../test/support/pggit.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { loadConfig } from '../worker/config.ts';
import { connectClient, connectWorker } from '../worker/temporal-connection.ts';
import { findTemporalCli, projectRoot } from '../worker/tools.ts';
import { createWorkers } from '../worker/worker.ts';
import { exclusiveRunbookRun } from '../workflows/exclusive-run.ts';
import { healthCheck } from '../workflows/health-check.ts';
import { approveUpdate, progressQuery, runbookRun } from '../workflows/runbook.ts';

Runtime.install({ logger: new DefaultLogger('WARN') });
const out = path.join(projectRoot, 'test', 'histories');
const people = { users: { alice: {}, bob: {} }, groups: { dba: ['alice', 'bob'] } };

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
  const queues = loaded.config.temporal.task_queues;

  await client.workflow.execute(healthCheck, { taskQueue: queues.checks, workflowId: 'health-check/app/recorded', args: [{ target: 'app' }] });

  // Every feature of the interpreter in one run: a condition, a check, a gated job approved by
  // Update, a sign-off, a failing step that continues, and its compensation.
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
  for (const [stepId, approver] of [['gated', 'bob'], ['sign', 'bob']] as const) {
    while ((await handle.query(progressQuery)).steps.find((s) => s.id === stepId)?.status !== 'waiting_approval') {
      await new Promise((r) => setTimeout(r, 100));
    }
    await handle.executeUpdate(approveUpdate, { args: [{ stepId, decision: 'approve', approver, reason: 'recorded' }], updateId: `${stepId}-approval` });
  }
  await handle.result().catch(() => undefined);

  // The lock every destructive run (recovery, rollback) runs under, with a one-step child run.
  await client.workflow.execute(exclusiveRunbookRun, {
    taskQueue: queues.checks,
    workflowId: 'destructive/app/recorded',
    args: [{
      runId: 'recover/app/recorded',
      run: { runbook: parseRunbook('name: child\ndescription: the locked run\nsteps:\n  - { id: look, title: look, activity: noop }\n', 'child.yaml', { checks: allChecks, people }), target: 'app', initiator: 'alice', queues },
    }],
  });

  // The official CLI's JSON export is the format replay reads back (historyFromJSON).
  const kinds = process.argv.slice(2);
  for (const id of ['health-check/app/recorded', 'runbook/app/recorded', 'destructive/app/recorded'].filter((id) => kinds.length === 0 || kinds.includes(id.split('/')[0]!))) {
    const { stdout } = await execa(findTemporalCli(), ['workflow', 'show', '--workflow-id', id, '--address', env.address, '--output', 'json']);
    const name = id.split('/')[0];
    writeFileSync(path.join(out, `${name}.json`), `${stdout.trim()}\n`);
    console.log(`recorded ${name}.json (${(JSON.parse(stdout) as { events: unknown[] }).events.length} events)`);
  }
  stop.abort();
  await running;
  await client.connection.close();
  await connection.close();
} finally {
  await pgs.stop();
  await env.teardown();
}
