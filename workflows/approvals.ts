// The rules of an approval gate, as pure functions: the Update validator and the tests use them.
import type { ApprovalDecision, ApproveInput, ResolvedApproval, StepResult } from './runbook-types.ts';

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

/**
 * The quorum a gate asks for: `quorum`, or with `quorumFrom` the larger of it and the whole number
 * the earlier step's result holds at that field (`resultOf`: a step's result, undefined when it
 * did not succeed). An error (the gate then fails without asking anyone) when there is no such
 * number or fewer people may approve than it asks for: a gate must never open with less than the
 * step said it needs.
 */
export function gateQuorum(approval: ResolvedApproval, resultOf: (stepId: string) => StepResult | undefined): { quorum: number } | { error: string } {
  const from = approval.quorumFrom;
  if (!from) return { quorum: approval.quorum };
  const where = `quorum_from ${from.step}.${from.field}`;
  const source = resultOf(from.step);
  if (!source) return { error: `${where}: step ${from.step} did not succeed, so the quorum is unknown` };
  const value = source.data?.[from.field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    return { error: `${where}: ${value === undefined ? 'missing from its result' : `${JSON.stringify(value)} is not a whole number of at least 1`}` };
  }
  const quorum = Math.max(approval.quorum, value);
  const people = new Set([...approval.users, ...(approval.onTimeout.action === 'escalate' ? approval.onTimeout.users : [])]).size;
  if (quorum > people) return { error: `${where}: needs ${quorum} approvals but only ${people} people may approve` };
  return { quorum };
}
