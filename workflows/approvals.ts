// The rules of an approval gate, as pure functions: the Update validator and the tests use them.
import type { ApprovalDecision, ApproveInput } from './runbook-types.ts';

export interface GateState {
  stepId: string;
  /** Who may decide now (escalation widens it). */
  approvers: readonly string[];
  quorum: number;
  /** The initiator may not approve a destructive step of their own run. */
  fourEyes: boolean;
  commentRequired: boolean;
  decisions: readonly ApprovalDecision[];
}

/**
 * Why an approval cannot be taken, or undefined when it can. `gate` is the gate currently open
 * (undefined when no step waits for approval).
 */
export function approvalRefusal(gate: GateState | undefined, input: ApproveInput, initiator: string): string | undefined {
  if (!input || typeof input !== 'object') return 'approval input must be an object {stepId, decision, approver, reason}';
  if (typeof input.stepId !== 'string' || input.stepId === '') return 'stepId is required';
  if (input.decision !== 'approve' && input.decision !== 'reject') return `decision must be "approve" or "reject", not ${JSON.stringify(input.decision)}`;
  if (typeof input.approver !== 'string' || input.approver === '') return 'approver is required';
  if (!gate || gate.stepId !== input.stepId) {
    return gate
      ? `step ${input.stepId} is not waiting for approval (step ${gate.stepId} is)`
      : `step ${input.stepId} is not waiting for approval (no step is)`;
  }
  if (!gate.approvers.includes(input.approver)) {
    return `${input.approver} is not an approver for step ${input.stepId} (approvers: ${gate.approvers.join(', ') || 'none'})`;
  }
  if (gate.fourEyes && input.approver === initiator) {
    return `${input.approver} started this run and cannot approve its destructive step ${input.stepId} (four eyes)`;
  }
  if (gate.decisions.some((d) => d.approver === input.approver)) {
    return `${input.approver} has already decided on step ${input.stepId}`;
  }
  if ((input.decision === 'reject' || gate.commentRequired) && !input.reason?.trim()) {
    return input.decision === 'reject' ? 'a rejection needs a reason' : `step ${input.stepId} needs a comment with the decision`;
  }
  return undefined;
}

/** 'approved' once `quorum` distinct people approved, 'rejected' at the first rejection. */
export function gateOutcome(gate: Pick<GateState, 'quorum' | 'decisions'>): 'approved' | 'rejected' | 'open' {
  if (gate.decisions.some((d) => d.decision === 'reject')) return 'rejected';
  const approvers = new Set(gate.decisions.filter((d) => d.decision === 'approve').map((d) => d.approver));
  return approvers.size >= gate.quorum ? 'approved' : 'open';
}
