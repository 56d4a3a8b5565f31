// The runbook interpreter: runs a resolved runbook step by step, durably. Each step may wait for
// people (an approval gate, or a sign-off that is only a gate), runs its check as an activity,
// and lands in the ledger with its findings. A query shows live progress; cancelling runs the
// compensations of the steps that started.
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  currentUpdateInfo,
  defineQuery,
  defineUpdate,
  isCancellation,
  log,
  patched,
  proxyActivities,
  ActivityCancellationType,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { LedgerActivities } from '../activities/ledger.ts';
import type { NotificationEvent } from '../activities/notifications/events.ts';
import type { NotificationActivities } from '../activities/notifications/notify.ts';
import type { StepActivity } from '../activities/steps.ts';
import { approvalRefusal, gateOutcome, gateQuorum, type GateState } from './approvals.ts';
import type {
  ApprovalDecision,
  ApproveInput,
  ResolvedActivityStep,
  ResolvedStep,
  RunbookInput,
  RunProgress,
  StepProgress,
  StepResult,
  StepStatus,
} from './runbook-types.ts';
import { conditionHolds } from './step-conditions.ts';

export const approveUpdate = defineUpdate<StepProgress, [ApproveInput]>('approve');
export const progressQuery = defineQuery<RunProgress>('progress');

const ledger = proxyLocalActivities<LedgerActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '10 seconds', maximumAttempts: 20 },
});

const notifier = proxyActivities<NotificationActivities>({
  startToCloseTimeout: '1 minute',
  // Attempts 1 s, 2 s and 4 s apart; on the fourth the activity records a webhook still failing.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 4 },
});

const nonRetryableErrorTypes = ['ConfigError', 'InvalidArgs'];

function stepRunner(step: ResolvedActivityStep, queues: RunbookInput['queues']): StepActivity {
  const retry = { ...step.retry, nonRetryableErrorTypes };
  // Short read-only checks run as local activities beside the workflow (no task-queue round trip);
  // jobs go to the jobs queue, so a long dump never starves the daily checks.
  const activities =
    step.kind === 'check'
      ? proxyLocalActivities<Record<string, StepActivity>>({ startToCloseTimeout: step.startToCloseTimeout, retry })
      : proxyActivities<Record<string, StepActivity>>({
          taskQueue: queues.jobs,
          startToCloseTimeout: step.startToCloseTimeout,
          heartbeatTimeout: step.heartbeatTimeout,
          // A cancelled job kills its child process and drops scratch databases before the run
          // ends as cancelled, so "cancelled" in the ledger means "cleaned up".
          cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
          retry,
        });
  return activities[step.activity]!;
}

function activityOf(step: ResolvedStep): string | undefined {
  return step.kind === 'sign_off' ? undefined : step.activity;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : err.message;
  }
  return String(err);
}

export async function runbookRun(input: RunbookInput): Promise<RunProgress> {
  const { runbook, target, initiator, queues } = input;
  const { workflowId: runId, runId: temporalRunId } = workflowInfo();
  const flow = runbook.steps.filter((s) => !s.compensationOnly);
  const progress: RunProgress = {
    runId,
    runbook: runbook.name,
    target,
    initiator,
    status: 'running',
    steps: flow.map((s) => ({ id: s.id, title: s.title, activity: activityOf(s), status: 'pending', findings: { info: 0, warning: 0, critical: 0 } })),
  };
  const stepProgress = (id: string) => progress.steps.find((s) => s.id === id)!;
  let gate: GateState | undefined;

  const runRef = { runId, runbook: runbook.name, target };
  const sending: Array<Promise<void>> = [];
  /**
   * Sends a notification without holding up the run (the run waits for all of them before it
   * ends). Not cancellable: cancelling a run must not swallow what was already happening.
   */
  function notify(event: NotificationEvent): void {
    // Runs started before notifications existed replay without them.
    if (!patched('notifications')) return;
    sending.push(
      CancellationScope.nonCancellable(() => notifier.notify(event)).then(
        (sent) => {
          if (sent.failed.length) log.warn('notification failed, recorded in pggit_ops.notifications', { event: event.event, webhooks: sent.failed });
        },
        (err: unknown) => log.error('notification activity failed', { event: event.event, error: describeError(err) }),
      ),
    );
  }

  setHandler(progressQuery, () => progress);
  // Decisions are taken by the Update handler at once and written to the ledger by the main flow
  // (an activity started from the handler would race the steps it unblocks, and replay could order
  // the two differently).
  const unrecorded: Array<ApprovalDecision & { stepId: string }> = [];
  setHandler(
    approveUpdate,
    (request) => {
      const decision: ApprovalDecision = {
        approver: request.approver,
        decision: request.decision,
        reason: request.reason,
        requestId: currentUpdateInfo()!.id,
        at: new Date().toISOString(),
      };
      gate = { ...gate!, decisions: [...gate!.decisions, decision] };
      unrecorded.push({ ...decision, stepId: request.stepId });
      const step = stepProgress(request.stepId);
      step.approval = { ...step.approval!, decisions: [...gate.decisions] };
      return step;
    },
    {
      validator: (request) => {
        const refusal = approvalRefusal(gate, request, initiator);
        if (refusal) throw new Error(refusal);
      },
    },
  );

  async function recordApprovals(): Promise<void> {
    for (const d of unrecorded.splice(0)) {
      await ledger.recordApproval({ runId, stepId: d.stepId, requestId: d.requestId, approver: d.approver,
                                    decision: d.decision, reason: d.reason, outcome: 'accepted' });
    }
  }

  async function record(step: StepProgress, status: StepStatus, extra: { result?: StepResult; error?: string; attempts?: number } = {}) {
    const now = new Date().toISOString();
    step.status = status;
    if (status === 'running' || status === 'waiting_approval') step.startedAt ??= now;
    const finished = !['running', 'waiting_approval', 'pending'].includes(status);
    if (finished) step.finishedAt = now;
    if (extra.result) {
      step.summary = extra.result.summary;
      for (const f of extra.result.findings) step.findings[f.severity] += 1;
    }
    if (extra.error) step.error = extra.error;
    await ledger.recordStep({
      runId, target, stepId: step.id, status,
      summary: step.summary, data: extra.result?.data, error: step.error, attempts: extra.attempts,
      startedAt: step.startedAt, finishedAt: finished ? now : undefined, findings: extra.result?.findings,
    });
  }

  /** Opens the step's gate and waits for the quorum, a rejection, or the timeout (after any escalation). */
  async function awaitApproval(step: ResolvedStep, quorum: number): Promise<{ outcome: 'approved' | 'rejected' | 'timed out'; note: string }> {
    const approval = step.approval!;
    const deadline = (timeoutMs: number) => new Date(Date.now() + timeoutMs).toISOString();
    gate = {
      stepId: step.id,
      approvers: approval.users,
      quorum,
      fourEyes: step.kind === 'job',
      commentRequired: approval.commentRequired,
      decisions: [],
    };
    const sp = stepProgress(step.id);
    sp.approval = { approvers: [...approval.users], quorum, decisions: [], deadline: deadline(approval.timeout) };
    const requestApproval = (escalated: boolean) =>
      notify({ ...runRef, event: 'approval_requested', stepId: step.id, stepTitle: step.title, approvers: sp.approval!.approvers,
               quorum, deadline: sp.approval!.deadline!, escalated });
    await record(sp, 'waiting_approval');
    requestApproval(false);
    let decided = await condition(() => gateOutcome(gate!) !== 'open', approval.timeout);
    if (!decided && approval.onTimeout.action === 'escalate') {
      const escalation = approval.onTimeout;
      gate = { ...gate, approvers: [...new Set([...gate.approvers, ...escalation.users])] };
      sp.approval = { ...sp.approval, approvers: [...gate.approvers], deadline: deadline(escalation.timeout) };
      sp.summary = `no decision in time: escalated to ${escalation.escalateTo.join(', ')}`;
      await record(sp, 'waiting_approval');
      requestApproval(true);
      decided = await condition(() => gateOutcome(gate!) !== 'open', escalation.timeout);
    }
    const decisions = gate.decisions;
    gate = undefined;
    await recordApprovals();
    if (!decided) return { outcome: 'timed out', note: `no decision within the approval timeout` };
    const rejection = decisions.find((d) => d.decision === 'reject');
    if (rejection) return { outcome: 'rejected', note: `rejected by ${rejection.approver}: ${rejection.reason}` };
    return {
      outcome: 'approved',
      note: decisions.map((d) => `${d.decision === 'approve' ? 'approved' : d.decision} by ${d.approver}${d.reason ? `: ${d.reason}` : ''}`).join('; '),
    };
  }

  const started: ResolvedStep[] = [];
  /** Results of the steps that succeeded, for a later gate's quorum_from. */
  const results = new Map<string, StepResult>();
  const byId = new Map(runbook.steps.map((s) => [s.id, s]));

  async function compensate(step: ResolvedStep): Promise<void> {
    if (step.onFailure.action !== 'compensate') return;
    const compensation = byId.get(step.onFailure.step);
    if (!compensation || compensation.kind === 'sign_off') return; // the loader refuses both
    const sp = stepProgress(step.id);
    try {
      const result = await stepRunner(compensation, queues)({ target, runId, stepId: compensation.id, args: compensation.args, previousRunAt: undefined });
      sp.summary = `${sp.summary ? `${sp.summary}; ` : ''}compensated by ${compensation.id}: ${result.summary}`;
      await record(sp, 'compensated', { result: { ...result, summary: sp.summary } });
    } catch (err) {
      await record(sp, sp.status, { error: `compensation ${compensation.id} failed: ${describeError(err)}` });
    }
  }

  let failure: string | undefined;
  try {
    const { previousRunAt } = await ledger.recordRunStart({
      runId, temporalRunId, runbook: runbook.name, target, params: runbook.params, initiator,
      steps: flow.map((s) => ({ id: s.id, activity: activityOf(s) })),
    });

    for (const step of flow) {
      const sp = stepProgress(step.id);
      if (step.when && !conditionHolds(step.when, progress.steps)) {
        sp.summary = `skipped: condition on ${step.when.step} not met`;
        await record(sp, 'skipped');
        continue;
      }
      let stepFailure: string | undefined;
      const quorum = step.approval && gateQuorum(step.approval, (id) => results.get(id));
      if (quorum && 'error' in quorum) {
        stepFailure = quorum.error;
        await record(sp, 'failed', { error: stepFailure });
      } else if (quorum) {
        const { outcome, note } = await awaitApproval(step, quorum.quorum);
        sp.summary = note;
        if (outcome !== 'approved') {
          stepFailure = note;
          await record(sp, 'rejected', { error: note });
        } else if (step.kind === 'sign_off') {
          await record(sp, 'succeeded', { result: { summary: `signed off: ${note}`, findings: [] } });
          continue;
        }
      }
      if (!stepFailure && step.kind !== 'sign_off') {
        started.push(step);
        if (step.kind === 'job') {
          await record(sp, 'running');
        } else {
          // A short check is recorded once, when it ends (with its start time): one ledger write
          // instead of two halves the orchestration cost of a step (bench/runbook-overhead.ts).
          sp.status = 'running';
          sp.startedAt = new Date().toISOString();
        }
        try {
          const result = await stepRunner(step, queues)({ target, runId, stepId: step.id, args: step.args, previousRunAt });
          results.set(step.id, result);
          await record(sp, 'succeeded', { result });
          if (result.findings.some((f) => f.severity !== 'info')) notify({ ...runRef, event: 'findings', stepId: step.id, stepTitle: step.title });
          continue;
        } catch (err) {
          if (isCancellation(err)) throw err;
          stepFailure = describeError(err);
          await record(sp, 'failed', { error: stepFailure });
        }
      }
      if (step.onFailure.action === 'continue') continue;
      await compensate(step);
      failure = `step ${step.id} ${sp.status === 'rejected' ? 'was not approved' : 'failed'}: ${stepFailure}`;
      break;
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await CancellationScope.nonCancellable(async () => {
      await recordApprovals();
      for (const step of [...started].reverse()) await compensate(step);
      for (const sp of progress.steps) {
        if (['pending', 'running', 'waiting_approval'].includes(sp.status)) await record(sp, 'cancelled');
      }
      progress.status = 'cancelled';
      await ledger.recordRunEnd({ runId, status: 'cancelled' });
      await Promise.all(sending);
    });
    throw err;
  }

  const problems = progress.steps.filter((s) => ['failed', 'rejected', 'compensated'].includes(s.status));
  progress.status = failure || problems.length ? 'failed' : 'succeeded';
  await ledger.recordRunEnd({ runId, status: progress.status, error: failure });
  if (progress.status === 'failed') {
    notify({ ...runRef, event: 'run_failed', error: failure ?? `steps did not succeed: ${problems.map((s) => `${s.id} (${s.status})`).join(', ')}` });
  }
  await Promise.all(sending);
  if (failure) throw ApplicationFailure.nonRetryable(failure, 'RunbookStepFailed', progress);
  return progress;
}
