// All activities of the worker: target names resolve to pooled connections.
import { allChecks } from './checks/index.ts';
import type { CheckDefinition } from './checks/define.ts';
import { readTargetFacts, type TargetFacts } from './health.ts';
import { ledgerActivities } from './ledger.ts';
import { notificationActivities } from './notifications/notify.ts';
import type { TargetPools } from './pools.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { stepActivities } from './steps.ts';

export function createActivities(loaded: LoadedConfig, pools: TargetPools, checks: readonly CheckDefinition[] = allChecks) {
  return {
    /** Connects to a named target and returns real facts about it. Read-only. */
    async inspectTarget(target: string): Promise<TargetFacts> {
      return pools.withClient(target, (client) => readTargetFacts(client, target));
    },
    ...ledgerActivities(pools),
    ...notificationActivities(loaded, pools),
    ...stepActivities(checks, pools, loaded),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { TargetFacts };
