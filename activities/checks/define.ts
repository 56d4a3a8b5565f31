// What every checklist item is: a named, typed step that reads (or maintains) a target database and
// reports findings. The interpreter workflow runs them by name; the runbook loader validates each
// step's `args` against the item's schema, so a typo in a runbook fails at load time, not at 3 am.
import type pg from 'pg';
import type { z } from 'zod';
import type { LoadedConfig } from '../../worker/config.ts';
import type { TargetPools } from '../pools.ts';

export type Severity = 'info' | 'warning' | 'critical';

/**
 * A failure no retry can fix: bad input, or something about the environment a person has to
 * change (a pg_dump too old for the server, a backup store that cannot be written). The step
 * wrapper (activities/steps.ts) fails such a step at once, under the error's name, instead of
 * letting the retry policy try it again and again.
 */
export class PermanentError extends Error {}

export interface Finding {
  /** Stable machine code, e.g. 'superuser_role', 'backup_stale'. */
  code: string;
  severity: Severity;
  /** One line a person understands without context. */
  message: string;
  /** The evidence: names, numbers, thresholds. */
  details?: Record<string, unknown>;
}

export interface StepResult {
  /** One line for the report, e.g. "3 alerts (1 critical)". */
  summary: string;
  findings: Finding[];
  /** Facts later steps or reports may use (JSON-serialisable). */
  data?: Record<string, unknown>;
}

export interface CheckContext {
  /** Configured target name (never a connection string). */
  target: string;
  /** Connected to the target database. */
  db: pg.Client;
  /** Connected to the ledger database (schema pggit_ops): snapshots, baselines, earlier runs. */
  ledger: pg.Client;
  /** Ids of the run and step, for idempotent writes (an activity may be retried). */
  runId: string;
  stepId: string;
  /** When the previous run of the same runbook on the same target started, if any. */
  previousRunAt: Date | undefined;
  /** Report progress from long steps; also lets Temporal notice a dead worker. */
  heartbeat(details?: unknown): void;
  /** Aborted when the step is cancelled; long steps should stop promptly. */
  signal: AbortSignal;
  /**
   * The worker's config and connection pools, for steps that manage their own connections and
   * files (backups, restore drills). Absent in contexts built without a worker.
   */
  worker?: { loaded: LoadedConfig; pools: TargetPools };
}

/** The context of a check that opens its own sessions on the target's server: no `db`. */
export type ServerCheckContext = Omit<CheckContext, 'db'>;

interface CheckBase<Args extends z.ZodType> {
  /** Activity name used in runbooks (`activity: performanceAlerts`). */
  name: string;
  description: string;
  /** 'check': short and read-only, runs on the checks task queue. 'job': long or changes things, jobs queue. */
  kind: 'check' | 'job';
  /** Arguments a runbook step may pass; validated when the runbook is loaded. */
  args: Args;
}

export type CheckDefinition<Args extends z.ZodType = z.ZodType> =
  | (CheckBase<Args> & {
      /** Default: the step runs with a pooled session on the target database, `ctx.db`. */
      targetSession?: true;
      run(ctx: CheckContext, args: z.infer<Args>): Promise<StepResult>;
    })
  | (CheckBase<Args> & {
      /**
       * The step opens its own sessions: it drops and recreates the target database (a recovery),
       * which may be missing when the step starts, and would terminate a pooled session on it.
       */
      targetSession: false;
      run(ctx: ServerCheckContext, args: z.infer<Args>): Promise<StepResult>;
    });

export function defineCheck<Args extends z.ZodType>(definition: CheckDefinition<Args>): CheckDefinition<Args> {
  return definition;
}
