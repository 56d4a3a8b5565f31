// The runbook interpreter on the real Temporal server with real workers and a real ledger:
// order, conditions, failure policies, compensation, approval gates (validator cases, quorum,
// timeout, escalation), sign-offs and cancellation.
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineCheck } from '../activities/checks/define.ts';
import { timeSuffix } from '../workflows/ids.ts';
import { approveUpdate, progressQuery, runbookRun } from '../workflows/runbook.ts';
import type { ApproveInput, ResolvedRunbook, RunProgress } from '../workflows/runbook-types.ts';
import { allChecks } from '../activities/checks/index.ts';
import { parseRunbook } from '../runbooks/loader.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import { testConfig, withWorkers } from './support/temporal.ts';

/** Test-only checks: one that reports findings, one that always fails, one that records calls. */
const reporting = defineCheck({
  name: 'testReport',
  description: 'reports the findings it is given',
  kind: 'check',
  args: z.object({ severities: z.array(z.enum(['info', 'warning', 'critical'])).default([]) }).strict(),
  async run(_ctx, args) {
    return { summary: `${args.severities.length} findings`, findings: args.severities.map((severity, i) => ({ code: `f${i}`, severity, message: `finding ${i}` })) };
  },
});
const failing = defineCheck({
  name: 'testFail',
  description: 'always fails',
  kind: 'job',
  args: z.object({}).strict(),
  async run() {
    throw new Error('planted failure');
  },
});
const marking = defineCheck({
  name: 'testMark',
  description: 'inserts a row into test_marks so a test can see it ran',
  kind: 'job',
  args: z.object({ mark: z.string() }).strict(),
  async run(ctx, args) {
    await ctx.db.query('INSERT INTO test_marks (mark) VALUES ($1)', [args.mark]);
    return { summary: `marked ${args.mark}`, findings: [] };
  },
});
const needing = defineCheck({
  name: 'testNeed',
  description: 'reports, as its result data, how many approvers a later step needs',
  kind: 'check',
  args: z.object({ approvers_needed: z.union([z.number(), z.string()]) }).strict(),
  async run(_ctx, args) {
    return { summary: `needs ${args.approvers_needed}`, findings: [], data: { approvers_needed: args.approvers_needed } };
  },
});
const testChecks = [reporting, failing, marking, needing];

let server: TestPostgres;
let loaded: LoadedConfig;
let db: pg.Client;

beforeAll(async () => {
  server = await startPostgres();
  await installPggit(server.connection);
  db = new pg.Client(server.connection);
  await db.connect();
  await db.query('CREATE TABLE test_marks (mark text, at timestamptz DEFAULT clock_timestamp())');
  loaded = testConfig(
    { app: server.connection },
    {
      ledger: { target: 'app' },
      people,
    },
  );
});
afterAll(async () => {
  await db?.end();
  await server?.stop();
});

const people = { users: { alice: {}, bob: {}, carol: {}, dave: {} }, groups: { dba: ['alice', 'bob'], oncall: ['carol'] } };

/** A runbook from YAML steps, through the real loader (so the interpreter gets what production gets). */
function runbook(name: string, steps: string): ResolvedRunbook {
  const text = `name: ${name}\ndescription: test runbook ${name}\nsteps:\n${steps.replace(/^/gm, '  ')}`;
  return parseRunbook(text, `${name}.yaml`, { checks: [...allChecks, ...testChecks], people });
}

function start(client: Client, rb: ResolvedRunbook, initiator = 'alice'): Promise<WorkflowHandle<typeof runbookRun>> {
  return client.workflow.start(runbookRun, {
    taskQueue: loaded.config.temporal.task_queues.checks,
    workflowId: `${rb.name}/app/${timeSuffix()}`,
    args: [{ runbook: rb, target: 'app', initiator, queues: loaded.config.temporal.task_queues }],
  });
}

async function waitForStatus(handle: WorkflowHandle, stepId: string, status: string): Promise<RunProgress> {
  for (let i = 0; i < 200; i++) {
    const progress = await handle.query(progressQuery);
    if (progress.steps.find((s) => s.id === stepId)?.status === status) return progress;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`step ${stepId} never reached ${status}`);
}

function approve(handle: WorkflowHandle, input: ApproveInput, requestId = randomUUID()) {
  return handle.executeUpdate(approveUpdate, { args: [input], updateId: requestId });
}

/** An approval sent after the run ended reaches no workflow at all. */
async function closedRefusal(promise: Promise<unknown>): Promise<void> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowNotFoundError);
  expect((err as Error).message).toMatch(/already completed/);
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((err as WorkflowUpdateFailedError).cause as Error).message;
}

describe('runbook interpreter', () => {
  it('runs steps in order, skips by condition, and records run, steps and findings in the ledger', async () => {
    await withWorkers(loaded, async (client) => {
      const rb = runbook('flow', `
- { id: first, title: first, activity: testReport, args: { severities: [warning, info] } }
- { id: only_if_critical, title: skipped, activity: noop, when: { step: first, min_severity: critical } }
- { id: only_if_warning, title: runs, activity: testReport, args: { severities: [critical] }, when: { step: first, min_severity: warning } }
- { id: long, title: a job, activity: wait, args: { seconds: 0 } }`);
      const handle = await start(client, rb);
      const result = await handle.result();
      expect(result.status).toBe('succeeded');
      expect(result.steps.map((s) => [s.id, s.status])).toEqual([
        ['first', 'succeeded'], ['only_if_critical', 'skipped'], ['only_if_warning', 'succeeded'], ['long', 'succeeded'],
      ]);
      expect(result.steps[0]!.findings).toEqual({ info: 1, warning: 1, critical: 0 });

      const run = await db.query('SELECT runbook, target, initiator, status, finished_at IS NOT NULL AS finished FROM pggit_ops.runs WHERE run_id = $1', [handle.workflowId]);
      expect(run.rows).toEqual([{ runbook: 'flow', target: 'app', initiator: 'alice', status: 'succeeded', finished: true }]);
      const steps = await db.query('SELECT step_id, status, summary FROM pggit_ops.steps WHERE run_id = $1 ORDER BY position', [handle.workflowId]);
      expect(steps.rows.map((r) => [r.step_id, r.status])).toEqual(result.steps.map((s) => [s.id, s.status]));
      const findings = await db.query('SELECT step_id, seq, severity, code FROM pggit_ops.findings WHERE run_id = $1 ORDER BY step_id, seq', [handle.workflowId]);
      expect(findings.rows).toEqual([
        { step_id: 'first', seq: 1, severity: 'warning', code: 'f0' },
        { step_id: 'first', seq: 2, severity: 'info', code: 'f1' },
        { step_id: 'only_if_warning', seq: 1, severity: 'critical', code: 'f0' },
      ]);
    }, testChecks);
  });

  it('continues past a failing step marked continue, and aborts on one marked abort', async () => {
    await withWorkers(loaded, async (client) => {
      const handle = await start(client, runbook('failures', `
- { id: tolerated, title: tolerated, activity: testFail, retry: { maximum_attempts: 1 }, on_failure: continue }
- { id: fatal, title: fatal, activity: testFail, retry: { maximum_attempts: 2 } }
- { id: never, title: never, activity: noop }`));
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(((err as WorkflowFailedError).cause as Error).message).toBe('step fatal failed: planted failure');
      const progress = await handle.query(progressQuery);
      expect(progress.steps.map((s) => s.status)).toEqual(['failed', 'failed', 'pending']);
      const run = await db.query('SELECT status, error FROM pggit_ops.runs WHERE run_id = $1', [handle.workflowId]);
      expect(run.rows).toEqual([{ status: 'failed', error: 'step fatal failed: planted failure' }]);
    }, testChecks);
  });

  it('runs the named compensation when a step fails', async () => {
    await withWorkers(loaded, async (client) => {
      const handle = await start(client, runbook('compensate', `
- { id: undo, title: undo, activity: testMark, args: { mark: undone }, compensation_only: true }
- { id: risky, title: risky, activity: testFail, retry: { maximum_attempts: 1 }, on_failure: { compensate: undo } }`));
      await handle.result().catch(() => undefined);
      const progress = await handle.query(progressQuery);
      expect(progress.steps.map((s) => [s.id, s.status])).toEqual([['risky', 'compensated']]);
      expect((await db.query(`SELECT count(*)::int AS n FROM test_marks WHERE mark = 'undone'`)).rows[0].n).toBe(1);
    }, testChecks);
  });
});

describe('approval gates', () => {
  /** A destructive (job) step behind an approval gate; `approval` is YAML for the gate's keys. */
  const gated = (name: string, approval = 'approvers: ["group:dba"], timeout: 1h') =>
    runbook(name, `
- { id: check, title: check, activity: noop }
- id: reindex
  title: reindex
  activity: testMark
  args: { mark: approved-${randomUUID()} }
  approval: { ${approval} }`);

  it('refuses strangers, the initiator, the wrong step, a missing reason; accepts an approver once; is idempotent per request id', async () => {
    await withWorkers(loaded, async (client) => {
      const handle = await start(client, gated('gate'), 'alice');
      await waitForStatus(handle, 'reindex', 'waiting_approval');

      expect(await refusal(approve(handle, { stepId: 'reindex', decision: 'approve', approver: 'dave' }))).toBe('dave is not an approver for step reindex (approvers: alice, bob)');
      expect(await refusal(approve(handle, { stepId: 'reindex', decision: 'approve', approver: 'alice' }))).toBe('alice started this run and cannot approve its destructive step reindex (four eyes)');
      expect(await refusal(approve(handle, { stepId: 'check', decision: 'approve', approver: 'bob' }))).toBe('step check is not waiting for approval (step reindex is)');
      expect(await refusal(approve(handle, { stepId: 'reindex', decision: 'reject', approver: 'bob' }))).toBe('a rejection needs a reason');

      const requestId = randomUUID();
      const first = await approve(handle, { stepId: 'reindex', decision: 'approve', approver: 'bob', reason: 'ok' }, requestId);
      const again = await approve(handle, { stepId: 'reindex', decision: 'approve', approver: 'bob', reason: 'ok' }, requestId);
      expect(again).toEqual(first);
      const result = await handle.result();
      expect(result.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded']);
      await closedRefusal(approve(handle, { stepId: 'reindex', decision: 'approve', approver: 'bob' }));

      const approvals = await db.query('SELECT approver, decision, outcome FROM pggit_ops.approvals WHERE run_id = $1', [handle.workflowId]);
      expect(approvals.rows).toEqual([{ approver: 'bob', decision: 'approve', outcome: 'accepted' }]);
    }, testChecks);
  });

  it('needs a quorum of distinct people, and one rejection stops the step', async () => {
    await withWorkers(loaded, async (client) => {
      const handle = await start(client, gated('quorum', 'approvers: ["group:dba", carol], quorum: 2, timeout: 1h'), 'dave');
      await waitForStatus(handle, 'reindex', 'waiting_approval');
      await approve(handle, { stepId: 'reindex', decision: 'approve', approver: 'alice' });
      expect(await refusal(approve(handle, { stepId: 'reindex', decision: 'approve', approver: 'alice' }))).toBe('alice has already decided on step reindex');
      expect((await handle.query(progressQuery)).steps.find((s) => s.id === 'reindex')!.status).toBe('waiting_approval');
      await approve(handle, { stepId: 'reindex', decision: 'reject', approver: 'carol', reason: 'not during business hours' });
      const err = await handle.result().catch((e: unknown) => e);
      expect(((err as WorkflowFailedError).cause as Error).message).toBe('step reindex was not approved: rejected by carol: not during business hours');
      expect((await db.query('SELECT count(*)::int AS n FROM test_marks WHERE mark LIKE $1', ['approved-%'])).rows[0].n).toBe(1); // only the first test's
    }, testChecks);
  });

  it('takes the quorum from an earlier step\'s result (quorum_from), and fails without asking anyone when it cannot', async () => {
    const needs = (name: string, value: string) => runbook(name, `
- { id: preview, title: preview, activity: testNeed, args: { approvers_needed: ${value} } }
- id: apply
  title: apply
  activity: testMark
  args: { mark: quorum-from-${randomUUID()} }
  approval: { approvers: ["group:dba", carol], timeout: 1h, quorum_from: { step: preview, field: approvers_needed } }`);
    await withWorkers(loaded, async (client) => {
      const two = await start(client, needs('needs-two', '2'), 'dave');
      const waiting = await waitForStatus(two, 'apply', 'waiting_approval');
      expect(waiting.steps[1]!.approval!.quorum).toBe(2);
      await approve(two, { stepId: 'apply', decision: 'approve', approver: 'alice' });
      expect((await two.query(progressQuery)).steps[1]!.status).toBe('waiting_approval');
      await approve(two, { stepId: 'apply', decision: 'approve', approver: 'carol' });
      expect((await two.result()).steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded']);

      for (const [value, error] of [
        ['"two"', 'quorum_from preview.approvers_needed: "two" is not a whole number of at least 1'],
        ['4', 'quorum_from preview.approvers_needed: needs 4 approvals but only 3 people may approve'],
      ] as const) {
        const handle = await start(client, needs('needs-bad', value), 'dave');
        const err = await handle.result().catch((e: unknown) => e);
        expect(((err as WorkflowFailedError).cause as Error).message).toBe(`step apply failed: ${error}`);
        const apply = (await handle.query(progressQuery)).steps[1]!;
        expect(apply).toMatchObject({ status: 'failed', error });
        expect(apply.approval).toBeUndefined(); // nobody was asked
      }
    }, testChecks);
  });

  it('escalates on timeout to another group, and rejects when nobody decides', async () => {
    await withWorkers(loaded, async (client) => {
      const escalating = await start(client, gated('escalate', 'approvers: ["group:dba"], timeout: 2s, on_timeout: { escalate_to: ["group:oncall"], timeout: 1h }'), 'dave');
      await waitForStatus(escalating, 'reindex', 'waiting_approval');
      expect(await refusal(approve(escalating, { stepId: 'reindex', decision: 'approve', approver: 'carol' }))).toMatch(/carol is not an approver/);
      for (let i = 0; i < 100 && !(await escalating.query(progressQuery)).steps.find((s) => s.id === 'reindex')!.approval!.approvers.includes('carol'); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      await approve(escalating, { stepId: 'reindex', decision: 'approve', approver: 'carol', reason: 'on call' });
      expect((await escalating.result()).status).toBe('succeeded');

      const lapsing = await start(client, gated('lapse', 'approvers: ["group:dba"], timeout: 1s'), 'dave');
      const err = await lapsing.result().catch((e: unknown) => e);
      expect(((err as WorkflowFailedError).cause as Error).message).toBe('step reindex was not approved: no decision within the approval timeout');
      await closedRefusal(approve(lapsing, { stepId: 'reindex', decision: 'approve', approver: 'bob' }));
    }, testChecks);
  });

  it('a sign-off step is the approval itself, with the comment kept', async () => {
    await withWorkers(loaded, async (client) => {
      const handle = await start(client, runbook('signoff', `
- { id: review_permissions, title: Review user permissions, approval: { approvers: [alice], timeout: 1h } }`), 'alice');
      await waitForStatus(handle, 'review_permissions', 'waiting_approval');
      expect(await refusal(approve(handle, { stepId: 'review_permissions', decision: 'approve', approver: 'alice' }))).toBe('step review_permissions needs a comment with the decision');
      await approve(handle, { stepId: 'review_permissions', decision: 'approve', approver: 'alice', reason: 'reviewed, two stale roles filed as TICKET-12' });
      const result = await handle.result();
      expect(result.steps[0]).toMatchObject({ status: 'succeeded', summary: 'signed off: approved by alice: reviewed, two stale roles filed as TICKET-12' });
    }, testChecks);
  });
});

describe('cancellation', () => {
  it('runs the compensations of started steps and records the run as cancelled', async () => {
    await withWorkers(loaded, async (client) => {
      const handle = await start(client, runbook('cancel', `
- { id: restore, title: restore, activity: testMark, args: { mark: cancel-compensated }, compensation_only: true }
- { id: slow, title: slow, activity: wait, args: { seconds: 60 }, heartbeat_timeout: 5s, on_failure: { compensate: restore } }
- { id: after, title: after, activity: noop }`));
      await waitForStatus(handle, 'slow', 'running');
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow();
      const progress = await handle.query(progressQuery);
      expect(progress.status).toBe('cancelled');
      expect(progress.steps.map((s) => s.status)).toEqual(['compensated', 'cancelled']);
      expect((await db.query(`SELECT count(*)::int AS n FROM test_marks WHERE mark = 'cancel-compensated'`)).rows[0].n).toBe(1);
      const run = await db.query('SELECT status FROM pggit_ops.runs WHERE run_id = $1', [handle.workflowId]);
      expect(run.rows).toEqual([{ status: 'cancelled' }]);
    }, testChecks);
  });
});
