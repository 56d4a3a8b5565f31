// Worker bootstrap: one worker per task queue (short checks, long jobs), sharing one workflow bundle.
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../activities/index.ts';
import type { LoadedConfig } from './config.ts';

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

export async function createWorkers(loaded: LoadedConfig, connection: NativeConnection): Promise<Worker[]> {
  const activities = createActivities(loaded.config);
  const workflowBundleCode = await workflowBundle();
  const { namespace, task_queues } = loaded.config.temporal;
  return Promise.all(
    [task_queues.checks, task_queues.jobs].map((taskQueue) =>
      Worker.create({ connection, namespace, taskQueue, workflowBundle: workflowBundleCode, activities }),
    ),
  );
}

/** Runs all workers until `signal` aborts (or one fails), then shuts them all down. */
export async function runWorkers(workers: Worker[], signal: AbortSignal): Promise<void> {
  const stop = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
  signal.addEventListener('abort', stop, { once: true });
  try {
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    signal.removeEventListener('abort', stop);
    stop();
  }
}
