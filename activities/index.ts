// All activities, built over the worker's config so they can resolve target names to connections.
import { withTarget } from './targets.ts';
import { readTargetFacts, type TargetFacts } from './health.ts';
import type { Config } from '../worker/config.ts';

export function createActivities(config: Config) {
  return {
    /** Connects to a named target and returns real facts about it. Read-only. */
    async inspectTarget(target: string): Promise<TargetFacts> {
      return withTarget(config, target, (client) => readTargetFacts(client, target));
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { TargetFacts };
