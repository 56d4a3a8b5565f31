// Worker bootstrap: one worker per task queue (short checks, long jobs), sharing one workflow
// bundle, one set of activities and their connection pools.
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../activities/index.ts';
import type { CheckDefinition } from '../activities/checks/define.ts';
import { allChecks } from '../activities/checks/index.ts';
import { TargetPools } from '../activities/pools.ts';
import type { LoadedConfig } from './config.ts';
import { payloadCodecs } from './payload-codec.ts';

const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundles the workflow code once per process (webpack takes seconds). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
  return bundle;
}

const quietBundlerLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn(message: string, meta?: Record<string, unknown>) {
    console.warn(message, meta ?? '');
  },
  error(message: string, meta?: Record<string, unknown>) {
    console.error(message, meta ?? '');
  },
};

export interface Workers {
  workers: Worker[];
  /** Runs until `signal` aborts (or a worker fails), then shuts every worker down and closes the pools. */
  run(signal: AbortSignal): Promise<void>;
}

export async function createWorkers(
  loaded: LoadedConfig,
  connection: NativeConnection,
  checks: readonly CheckDefinition[] = allChecks,
): Promise<Workers> {
  const codecs = payloadCodecs(loaded.config);
  const pools = new TargetPools(loaded.config);
  const activities = createActivities(loaded, pools, checks);
  const workflowBundleCode = await workflowBundle();
  const { namespace, task_queues } = loaded.config.temporal;
  const workers = await Promise.all(
    [task_queues.checks, task_queues.jobs].map((taskQueue) =>
      Worker.create({
        connection,
        namespace,
        taskQueue,
        workflowBundle: workflowBundleCode,
        activities,
        dataConverter: { payloadCodecs: codecs },
        // Cancellation reaches an activity with the answer to its heartbeat; the default throttle
        // (0.8 x heartbeat timeout) would let a cancelled restore run on for up to 24 s.
        maxHeartbeatThrottleInterval: '5 seconds',
      }),
    ),
  );
  return {
    workers,
    async run(signal) {
      const stop = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
      signal.addEventListener('abort', stop, { once: true });
      try {
        // One worker failing stops the others: a half-served set of task queues is worse than none.
        const results = await Promise.allSettled(workers.map((w) => w.run().catch((err: unknown) => { stop(); throw err; })));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      } finally {
        signal.removeEventListener('abort', stop);
        await pools.close();
      }
    },
  };
}
