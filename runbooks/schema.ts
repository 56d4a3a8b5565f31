// The runbook file format (YAML, snake_case keys) and the resolved form the interpreter workflow
// receives. The schema checks what a file can say on its own; what needs the check registry or the
// people config (activities, args, approvers, step references) is checked by loader.ts.
import { z } from 'zod';
import type { Severity } from '../activities/checks/define.ts';
import { duration, personNamePattern } from '../worker/config.ts';

const runbookName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be lower-case letters, digits and "-", starting with a letter');
const stepId = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be lower-case letters, digits and "_", starting with a letter');
const paramName = stepId;
/** The config's people names, or `group:` and a group name. */
const approverName = z
  .string()
  .regex(new RegExp(`^(group:)?${personNamePattern}$`), 'must be a user name from people.users or group:NAME from people.groups');

const paramValue = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string, a number or a boolean' });

const severities = ['info', 'warning', 'critical'] as const satisfies readonly Severity[];
const stepStatuses = ['succeeded', 'failed', 'skipped'] as const;

const retrySchema = z
  .object({
    maximum_attempts: z.number().int().min(1).optional().describe('Attempts in all, the first included. Default 3.'),
    initial_interval: duration.optional().describe('Wait before the first retry. Default 1s.'),
    backoff_coefficient: z.number().min(1).optional().describe('Each wait is this many times the last. Default 2.'),
    maximum_interval: duration.optional().describe('Longest wait between attempts. Default 1m.'),
  })
  .strict();

const whenSchema = z
  .object({
    step: stepId.describe('An earlier step of this runbook.'),
    status: z.enum(stepStatuses).optional().describe('That step ended so.'),
    min_severity: z.enum(severities).optional().describe('That step reported a finding at least this severe.'),
    has_findings: z.boolean().optional().describe('That step reported findings (true) or none (false).'),
  })
  .strict()
  // A bare `{ step }` would have no agreed meaning, so it is refused rather than guessed at.
  .refine((w) => w.status !== undefined || w.min_severity !== undefined || w.has_findings !== undefined, 'needs at least one of status, min_severity, has_findings')
  .describe('Run this step only when every given condition holds; otherwise it is skipped.');

const onFailureSchema = z
  .union([z.enum(['abort', 'continue']), z.object({ compensate: stepId }).strict()], {
    error: 'must be abort, continue or { compensate: STEP_ID }',
  })
  .default('abort')
  .describe('What a failed step (an activity error after its retries, or a rejected or timed-out approval) does to the run.');

const approvalSchema = z
  .object({
    approvers: z.array(approverName).min(1).describe('Users and groups (group:NAME) of the config\'s people.'),
    quorum: z.number().int().min(1).default(1).describe('Distinct people who must approve (with quorum_from: at least this many).'),
    quorum_from: z
      .object({
        step: stepId.describe('An earlier activity step of this runbook.'),
        field: z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a key of that step\'s result data: lower-case letters, digits and "_"').describe('A key of that step\'s result data holding a whole number.'),
      })
      .strict()
      .optional()
      .describe('Take the quorum from what an earlier step found (e.g. more approvers when data would be lost). The gate fails, asking nobody, when that step did not succeed or its value is not a whole number from 1 to the number of people who may approve.'),
    timeout: duration.describe('How long to wait for the quorum.'),
    on_timeout: z
      .union(
        [
          z.literal('reject'),
          z
            .object({
              escalate_to: z.array(approverName).min(1),
              timeout: duration,
            })
            .strict(),
        ],
        { error: 'must be reject or { escalate_to: [...], timeout: DURATION }' },
      )
      .default('reject')
      .describe('After the timeout: reject, or ask more people for a further timeout (the first approvers may still approve).'),
    comment_required: z.boolean().optional().describe('Approvers must say why. Default true for sign-off steps, false for gates.'),
  })
  .strict();

export const stepSchema = z
  .object({
    id: stepId.describe('Unique in the runbook.'),
    title: z.string().min(1),
    activity: z.string().min(1).optional().describe('A registered check. Without it the step is a sign-off: a person confirms, and `approval` is required.'),
    args: z.record(z.string(), z.unknown()).optional().describe('Checked against the activity\'s own schema after ${params.NAME} substitution.'),
    timeout: duration.optional().describe('Start-to-close timeout of one attempt. Default 5m for checks, 2h for jobs.'),
    heartbeat_timeout: duration.optional().describe('Default none for checks, 2m for jobs.'),
    retry: retrySchema.optional(),
    when: whenSchema.optional(),
    on_failure: onFailureSchema,
    compensation_only: z.boolean().default(false).describe('Runs only as another step\'s `on_failure: { compensate }`, never in the normal flow.'),
    approval: approvalSchema.optional().describe('A gate before the step runs; for a sign-off step, the sign-off itself.'),
  })
  .strict()
  .superRefine((step, ctx) => {
    if (step.activity !== undefined) return;
    if (step.approval === undefined) ctx.addIssue({ code: 'custom', path: [], message: 'a step without activity is a sign-off and needs approval' });
    for (const key of ['args', 'timeout', 'heartbeat_timeout', 'retry'] as const) {
      if (step[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} is for activity steps; a sign-off step has none` });
    }
  });

export const paramsSchema = z.record(paramName, paramValue).default({});

export const runbookSchema = z
  .object({
    name: runbookName.describe('Equal to the file\'s base name.'),
    description: z.string().min(1),
    params: paramsSchema.describe('Name to default value; `--param NAME=VALUE` overrides; used in args as ${params.NAME}.'),
    steps: z.array(stepSchema).min(1),
  })
  .strict()
  .meta({ title: 'pggit-ops runbook' });

export type StepFile = z.output<typeof stepSchema>;
export type ParamValue = z.output<typeof paramValue>;

/** The JSON Schema editors validate runbooks with (committed as runbooks/runbook.schema.json). */
export function runbookJsonSchemaText(): string {
  // draft-07: the draft yaml-language-server and most editors support fully.
  return `${JSON.stringify(z.toJSONSchema(runbookSchema, { io: 'input', target: 'draft-7' }), null, 2)}\n`;
}

// The resolved runbook: workflow input, so plain JSON data. Durations are milliseconds, which is
// how Temporal reads a number where it takes a Duration.

export interface ResolvedRunbook {
  name: string;
  description: string;
  /** Declared defaults merged with the overrides the loader was given. */
  params: Record<string, ParamValue>;
  steps: ResolvedStep[];
}

export type ResolvedStep = ResolvedActivityStep | ResolvedSignOffStep;

interface ResolvedStepBase {
  id: string;
  title: string;
  when?: StepCondition;
  onFailure: OnFailure;
  compensationOnly: boolean;
}

export interface ResolvedActivityStep extends ResolvedStepBase {
  /** From the check's definition: 'check' runs on the checks task queue, 'job' on the jobs queue. */
  kind: 'check' | 'job';
  activity: string;
  /** After param substitution; validated against the check's args schema but not parsed by it. */
  args: Record<string, unknown>;
  startToCloseTimeout: number;
  heartbeatTimeout?: number;
  /** Shaped like Temporal's RetryPolicy. */
  retry: { maximumAttempts: number; initialInterval: number; backoffCoefficient: number; maximumInterval: number };
  /** A gate: the step runs only once approved. */
  approval?: ResolvedApproval;
}

export interface ResolvedSignOffStep extends ResolvedStepBase {
  kind: 'sign_off';
  approval: ResolvedApproval;
}

export interface StepCondition {
  step: string;
  status?: (typeof stepStatuses)[number];
  minSeverity?: Severity;
  hasFindings?: boolean;
}

export type OnFailure = { action: 'abort' } | { action: 'continue' } | { action: 'compensate'; step: string };

export interface ResolvedApproval {
  /** As written in the runbook (`alice`, `group:dba`), for display. */
  approvers: string[];
  /** Who may approve: the approvers with groups expanded to their members, each once. */
  users: string[];
  quorum: number;
  /** The quorum is the larger of `quorum` and this earlier step's result `data[field]`, read when the gate opens. */
  quorumFrom?: { step: string; field: string };
  timeout: number;
  onTimeout: { action: 'reject' } | { action: 'escalate'; escalateTo: string[]; users: string[]; timeout: number };
  commentRequired: boolean;
}
