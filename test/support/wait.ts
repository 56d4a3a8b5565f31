// Waiting in tests for what a workflow does in its own time: polling, never sleeping a fixed while.
import type { Client } from '@temporalio/client';
import type { StepProgress } from '../../workflows/runbook-types.ts';
import { progressQuery } from '../../workflows/runbook.ts';

/** Calls `fn` every 200 ms until it returns a value, for `seconds` at most; then fails naming `what`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, seconds = 60): Promise<T> {
  for (let i = 0; i < seconds * 5; i++) {
    const value = await fn();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Step `id` of run `runId` as the run's progress query reports it; undefined while the run cannot answer. */
export async function stepProgress(client: Client, runId: string, id: string): Promise<StepProgress | undefined> {
  const progress = await client.workflow.getHandle(runId).query(progressQuery).catch(() => undefined);
  return progress?.steps.find((s) => s.id === id);
}
