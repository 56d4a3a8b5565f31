// Every check becomes an activity of its own name (so histories and the UI say what ran), each
// resolving its target by name inside the worker and validating its arguments again: workflow
// input can be hand-made, not only produced by the runbook loader.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { PermanentError, type CheckDefinition, type ServerCheckContext, type StepResult } from './checks/define.ts';
import type { StepInput } from '../workflows/runbook-types.ts';
import type { TargetPools } from './pools.ts';
import type { LoadedConfig } from '../worker/config.ts';

export type StepActivity = (input: StepInput) => Promise<StepResult>;

export function stepActivities(checks: readonly CheckDefinition[], pools: TargetPools, loaded: LoadedConfig): Record<string, StepActivity> {
  const activities: Record<string, StepActivity> = {};
  for (const check of checks) {
    activities[check.name] = async (input) => {
      const parsed = check.args.safeParse(input.args ?? {});
      if (!parsed.success) {
        throw ApplicationFailure.nonRetryable(
          `step ${input.stepId}: invalid args for ${check.name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(args)'}: ${i.message}`).join('; ')}`,
          'InvalidArgs',
        );
      }
      const activity = Context.current();
      const context = (ledger: pg.Client): ServerCheckContext => ({
        target: input.target,
        ledger,
        runId: input.runId,
        stepId: input.stepId,
        previousRunAt: input.previousRunAt ? new Date(input.previousRunAt) : undefined,
        heartbeat: (details) => activity.heartbeat(details),
        signal: activity.cancellationSignal,
        worker: { loaded, pools },
      });
      try {
        if (check.targetSession === false) return await pools.withLedger((ledger) => check.run(context(ledger), parsed.data));
        return await pools.withTargetAndLedger(input.target, (db, ledger) => check.run({ ...context(ledger), db }, parsed.data));
      } catch (err) {
        if (err instanceof PermanentError) throw ApplicationFailure.create({ message: err.message, type: err.name, nonRetryable: true, cause: err });
        throw err;
      }
    };
  }
  return activities;
}
