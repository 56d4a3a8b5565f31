// Plain data shared by the runbook interpreter, its callers and its activities. Workflow-safe:
// types and pure functions only.
import type { Finding, StepResult } from '../activities/checks/define.ts';

export type { Finding, StepResult };

export type StepStatus =
  | 'pending' | 'running' | 'waiting_approval' | 'succeeded' | 'failed'
  | 'skipped' | 'rejected' | 'cancelled' | 'compensated';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

/** Input of one step activity. */
export interface StepInput {
  target: string;
  runId: string;
  stepId: string;
  args: Record<string, unknown>;
  /** ISO time the previous run of this runbook on this target started, if any. */
  previousRunAt: string | undefined;
}

export interface ApprovalDecision {
  approver: string;
  decision: 'approve' | 'reject';
  reason: string | undefined;
  requestId: string;
  at: string;
}

/** What an approver sends (Workflow Update `approve`). */
export interface ApproveInput {
  stepId: string;
  decision: 'approve' | 'reject';
  /** Established by the caller's authentication (our CLI: OS user or operator token). */
  approver: string;
  reason?: string;
}

export interface StepProgress {
  id: string;
  title: string;
  activity: string | undefined;
  status: StepStatus;
  summary?: string;
  error?: string;
  findings: { info: number; warning: number; critical: number };
  startedAt?: string;
  finishedAt?: string;
  /** While waiting: who may decide, how many distinct approvals are needed, and who has. */
  approval?: { approvers: string[]; quorum: number; decisions: ApprovalDecision[]; deadline?: string };
}

export interface RunProgress {
  runId: string;
  runbook: string;
  target: string;
  initiator: string;
  status: RunStatus;
  steps: StepProgress[];
}

export type Severity = Finding['severity'];

// The resolved runbook is defined with its schema (runbooks/schema.ts); type-only here, so the
// workflow bundle never pulls in the loader.
export type {
  ResolvedActivityStep,
  ResolvedApproval,
  ResolvedRunbook,
  ResolvedSignOffStep,
  ResolvedStep,
  StepCondition,
} from '../runbooks/schema.ts';
import type { ResolvedRunbook } from '../runbooks/schema.ts';

export interface RunbookInput {
  runbook: ResolvedRunbook;
  target: string;
  /** Who started the run, as their authentication established it, or schedule:<id>. */
  initiator: string;
  /** Task queues from the config: short checks, long jobs. */
  queues: { checks: string; jobs: string };
}
