// One approval decision sent to a run, by `pggit-ops approve | reject` or the dashboard: a
// Workflow Update `approve` whose validator answers at once, so who may decide is the workflow's
// rule, never the caller's. The approver is the identity the caller authenticated. A refusal is
// recorded in the ledger with its reason, as an accepted decision is by the run itself.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ledgerActivities } from '../activities/ledger.ts';
import { TargetPools } from '../activities/pools.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { approveUpdate } from '../workflows/runbook.ts';
import type { StepProgress } from '../workflows/runbook-types.ts';

export interface Decision {
  runId: string;
  stepId: string;
  decision: 'approve' | 'reject';
  approver: string;
  /** The rejection's reason, or the approval's comment. */
  reason: string | undefined;
  /** Idempotency key: the same request sent twice is one decision. */
  requestId: string;
}

export type DecisionOutcome = { accepted: true; step: StepProgress } | { accepted: false; refusal: string };

export async function sendDecision(loaded: LoadedConfig, client: Client, d: Decision): Promise<DecisionOutcome> {
  const input = { stepId: d.stepId, decision: d.decision, approver: d.approver, reason: d.reason };
  let refusal: string;
  try {
    const step = await client.workflow.getHandle(d.runId).executeUpdate(approveUpdate, { args: [input], updateId: d.requestId });
    return { accepted: true, step };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) refusal = (err.cause as Error | undefined)?.message ?? err.message;
    else if (err instanceof WorkflowNotFoundError) refusal = `run ${d.runId} is not running (it has finished, or does not exist): approvals are closed`;
    else throw err;
  }
  await recordRefusal(loaded, d, refusal);
  return { accepted: false, refusal };
}

async function recordRefusal(loaded: LoadedConfig, d: Decision, refusalReason: string): Promise<void> {
  const pools = new TargetPools(loaded.config);
  try {
    // Only runs the ledger knows can carry a refusal (the foreign key); others are refused on screen only.
    const known = await pools.withLedger(async (db) => (await db.query('SELECT 1 FROM pggit_ops.runs WHERE run_id = $1', [d.runId])).rowCount);
    if (known) await ledgerActivities(pools).recordApproval({ ...d, outcome: 'refused', refusalReason });
  } catch (err) {
    console.error(`(could not record the refusal in the ledger: ${(err as Error).message})`);
  } finally {
    await pools.close();
  }
}
