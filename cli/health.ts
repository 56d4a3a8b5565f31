// `pggit-ops health`: run the healthCheck workflow for a target and print what it found.
import type { Client } from '@temporalio/client';
import type { TargetFacts } from '../activities/index.ts';
import { healthCheck } from '../workflows/index.ts';
import { timeSuffix, workflowId } from '../workflows/ids.ts';
import type { LoadedConfig } from '../worker/config.ts';

export async function runHealthCheck(client: Client, loaded: LoadedConfig, target: string): Promise<{ workflowId: string; facts: TargetFacts }> {
  const id = workflowId('health-check', target, timeSuffix());
  const facts = await client.workflow.execute(healthCheck, {
    taskQueue: loaded.config.temporal.task_queues.checks,
    workflowId: id,
    args: [{ target }],
  });
  return { workflowId: id, facts };
}

export function formatFacts(facts: TargetFacts): string {
  const triggers = facts.pggitEventTriggers.map((t) => `${t.name}${t.enabled ? '' : ' (disabled)'}`).join(', ') || 'none';
  const rows: Array<[string, string]> = [
    ['target', facts.target],
    ['database', facts.database],
    ['server version', facts.serverVersion],
    ['database size', `${(facts.databaseSizeBytes / 1024 / 1024).toFixed(1)} MiB`],
    ['pggit installed', facts.pggitInstalled ? 'yes' : 'no'],
    ['pggit event triggers', triggers],
    ['track_functions', facts.trackFunctions],
  ];
  return rows.map(([k, v]) => `  ${k.padEnd(22)}${v}`).join('\n');
}
