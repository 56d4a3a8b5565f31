// One destructive run per target at a time (a recovery or a rollback, whichever of them). Temporal
// refuses to start a workflow under the id of a running one, so this workflow, started under a
// fixed id per target (`destructive/<target>`, conflict policy FAIL), is the lock, held until it
// ends. The run itself is its child under an id of its own (`recover/<target>/<time>`,
// `rollback/<target>/<time>`): the ledger's run and the safety backup's idempotency key are keyed by
// the run id, and under one fixed id a second run would find the first one's records, and its
// safety backup, as its own.
import { executeChild, ParentClosePolicy } from '@temporalio/workflow';
import type { RunbookInput, RunProgress } from './runbook-types.ts';
import { runbookRun } from './runbook.ts';

export interface ExclusiveRunInput {
  /** The run's own workflow id. */
  runId: string;
  run: RunbookInput;
}

export async function exclusiveRunbookRun(input: ExclusiveRunInput): Promise<RunProgress> {
  return executeChild(runbookRun, {
    workflowId: input.runId,
    args: [input.run],
    // Cancelling the lock cancels the run and waits for its compensations (the default
    // cancellation type); terminating it, an administrator's last resort, still asks the run to
    // cancel rather than killing it in the middle of a restore.
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
  });
}
