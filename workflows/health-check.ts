// The health check: read a target's basic facts through one activity.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities, TargetFacts } from '../activities/index.ts';

const { inspectTarget } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
    // A target that is not configured, or whose secret is missing, will not fix itself on retry.
    nonRetryableErrorTypes: ['ConfigError'],
  },
});

export interface HealthCheckInput {
  /** A configured target name; the worker resolves it to a connection. */
  target: string;
}

export async function healthCheck(input: HealthCheckInput): Promise<TargetFacts> {
  return inspectTarget(input.target);
}
