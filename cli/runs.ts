// `pggit-ops run | status | list | approve | reject | cancel | report`: runbook runs from the
// command line. Progress comes from the running workflow; history and reports from the ledger.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowHandle,
} from '@temporalio/client';
import pg from 'pg';
import { allChecks } from '../activities/checks/index.ts';
import { MigrationError } from '../activities/migrations.ts';
import { listRuns, readRun, renderMarkdown, type RunRecord } from '../activities/run-report.ts';
import { connectionConfig } from '../activities/targets.ts';
import { loadRunbook, RunbookError } from '../runbooks/loader.ts';
import type { ParamValue } from '../runbooks/schema.ts';
import { ConfigError, targets, type LoadedConfig } from '../worker/config.ts';
import { connectClient } from '../worker/temporal-connection.ts';
import { projectRoot } from '../worker/tools.ts';
import { timeSuffix } from '../workflows/ids.ts';
import { exclusiveRunbookRun } from '../workflows/exclusive-run.ts';
import { progressQuery, runbookRun } from '../workflows/runbook.ts';
import type { RunbookInput, RunProgress, StepProgress } from '../workflows/runbook-types.ts';
import { CliError, ExitCode } from './exit-codes.ts';
import { currentIdentity } from './identity.ts';
import { sendDecision } from './decide.ts';
import { colourOf, paint, spinner, statusPaint, table } from './terminal.ts';

/** A runbook by name (runbooks/NAME.yaml) or by path to a YAML file. */
export function runbookFile(nameOrPath: string): string {
  if (/\.ya?ml$/.test(nameOrPath)) return path.resolve(nameOrPath);
  const file = path.join(projectRoot, 'runbooks', `${nameOrPath}.yaml`);
  if (!existsSync(file)) throw new CliError(ExitCode.BadInput, `no runbook '${nameOrPath}' (looked for ${file})`);
  return file;
}

export function parseParams(pairs: readonly string[]): Record<string, ParamValue> {
  const params: Record<string, ParamValue> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new CliError(ExitCode.BadInput, `--param ${pair}: expected NAME=VALUE`);
    params[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return params;
}

/** A connection to the ledger database for one command; an unreachable ledger is exit code 4. */
export async function withLedger<T>(loaded: LoadedConfig, fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client(connectionConfig(loaded.config, loaded.config.ledger.target));
  try {
    await db.connect();
  } catch (err) {
    throw new CliError(ExitCode.Unavailable, `cannot reach the ledger (target ${loaded.config.ledger.target}): ${(err as Error).message}`);
  }
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

async function withClient<T>(loaded: LoadedConfig, fn: (client: Client) => Promise<T>): Promise<T> {
  let client: Client;
  try {
    client = await connectClient(loaded);
  } catch (err) {
    throw new CliError(ExitCode.Unavailable, `cannot reach Temporal at ${loaded.config.temporal.address}: ${(err as Error).message}`);
  }
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

function exitCodeOf(status: string): ExitCode {
  return status === 'succeeded' ? ExitCode.Ok : status === 'cancelled' ? ExitCode.Cancelled : ExitCode.Failed;
}

const marks: Record<string, string> = {
  succeeded: 'ok  ', failed: 'FAIL', rejected: 'REJ ', skipped: 'skip', cancelled: 'cncl', compensated: 'comp',
  running: '... ', waiting_approval: 'wait', pending: '    ',
};

function stepLine(step: StepProgress): string {
  const f = step.findings;
  const counts = f.critical + f.warning + f.info ? ` [${f.critical} critical, ${f.warning} warning, ${f.info} info]` : '';
  return `  ${colourOf(step.status)(marks[step.status] ?? step.status)} ${step.id}${step.error ? `: ${step.error}` : step.summary ? `: ${step.summary}` : ''}${counts}`;
}

function waitingLine(runId: string, step: StepProgress): string {
  const a = step.approval!;
  const have = a.decisions.map((d) => d.approver).join(', ');
  return `  waiting for ${a.quorum} of ${a.approvers.join(', ')}${have ? ` (have: ${have})` : ''} until ${a.deadline}: ` +
    `pggit-ops approve ${runId} --step ${step.id}`;
}

/** Follows a run to its end, printing each step as it changes (to stderr with --json). */
async function follow(handle: WorkflowHandle<typeof runbookRun>, print: (line: string) => void): Promise<void> {
  const seen = new Map<string, string>();
  // Long steps (a backup, a restore, a history cleanup) show a spinner with their time on a terminal.
  const spin = spinner();
  try {
    for (;;) {
      const progress = await handle.query(progressQuery).catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) throw err;
        return undefined; // the worker may be restarting; the run goes on
      });
      for (const step of progress?.steps ?? []) {
        const key = `${step.status}|${step.summary ?? ''}|${step.approval?.decisions.length ?? 0}`;
        if (seen.get(step.id) === key) continue;
        seen.set(step.id, key);
        if (step.status !== 'pending') spin.print(stepLine(step), print);
        if (step.status === 'waiting_approval') spin.print(waitingLine(handle.workflowId, step), print);
      }
      const current = progress?.steps.find((s) => s.status === 'running' || s.status === 'waiting_approval');
      spin.set(current && `${current.id}: ${current.status === 'running' ? current.title : 'waiting for approval'}`);
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING') return;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    spin.set(undefined);
  }
}

export interface RunOptions {
  db: string;
  param: string[];
  wait?: boolean;
  json?: boolean;
  /**
   * One destructive run (recovery, rollback) per target at a time, under the lock
   * `destructive/<target>` (workflows/exclusive-run.ts); what a refusal calls the run, e.g. "a recovery".
   */
  exclusive?: string;
}

/** Refuses (exit 2) a target the config does not name. */
export function assertTarget(loaded: LoadedConfig, target: string): void {
  if (!(target in targets(loaded.config))) {
    throw new CliError(ExitCode.BadInput, `unknown target '${target}' (configured: ${Object.keys(targets(loaded.config)).join(', ')})`);
  }
}

export async function runCommand(loaded: LoadedConfig, name: string, opts: RunOptions): Promise<ExitCode> {
  assertTarget(loaded, opts.db);
  const runbook = loadRunbook(runbookFile(name), { checks: allChecks, people: loaded.config.people, params: parseParams(opts.param) });
  const initiator = currentIdentity(loaded.config);
  return withClient(loaded, async (client) => {
    const taskQueue = loaded.config.temporal.task_queues.checks;
    const runId = `${runbook.name}/${opts.db}/${timeSuffix()}`;
    const input: RunbookInput = { runbook, target: opts.db, initiator, queues: loaded.config.temporal.task_queues };
    const lock = opts.exclusive ? await startExclusive(client, { taskQueue, runId, input, what: `${opts.exclusive} of ${opts.db}` }) : undefined;
    const handle = lock ? client.workflow.getHandle<typeof runbookRun>(runId) : await client.workflow.start(runbookRun, { taskQueue, workflowId: runId, args: [input] });
    const print = opts.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
    print(`started ${handle.workflowId} (${runbook.name} on ${opts.db}, by ${initiator}${lock ? `, under lock ${lock.workflowId}` : ''})`);
    if (!opts.wait) {
      if (opts.json) console.log(JSON.stringify({ runId: handle.workflowId, status: 'running' }));
      return ExitCode.Ok;
    }
    if (lock) await startedBy(lock, handle);
    return awaitRun(loaded, handle, opts);
  });
}

/**
 * Starts the lock workflow of an exclusive run (workflows/exclusive-run.ts), which starts the run
 * itself as its child. Refuses (exit 2, nothing started) while another run holds the lock.
 */
async function startExclusive(
  client: Client,
  s: { taskQueue: string; runId: string; input: RunbookInput; what: string },
): Promise<WorkflowHandle<typeof exclusiveRunbookRun>> {
  // One lock for every kind of destructive run: a rollback must not alter tables a recovery is
  // dropping, nor a recovery replace the database under a rollback's stages.
  const lockId = `destructive/${s.input.target}`;
  try {
    return await client.workflow.start(exclusiveRunbookRun, {
      taskQueue: s.taskQueue,
      workflowId: lockId,
      args: [{ runId: s.runId, run: s.input }],
      // The memo names the run for whoever finds the lock taken.
      memo: { runId: s.runId },
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      workflowIdConflictPolicy: 'FAIL',
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const running = (await client.workflow.getHandle(lockId).describe()).memo?.runId;
    throw new CliError(ExitCode.BadInput, `${s.what} is refused: ${typeof running === 'string' ? running : lockId} is running (one recovery or rollback per target at a time)`);
  }
}

/** Waits until the lock has started the run (on its first workflow task: until then the run does not exist). */
async function startedBy(lock: WorkflowHandle<typeof exclusiveRunbookRun>, run: WorkflowHandle<typeof runbookRun>): Promise<void> {
  for (;;) {
    try {
      await run.describe();
      return;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    if ((await lock.describe()).status.name !== 'RUNNING') {
      await lock.result();
      throw new Error(`${lock.workflowId} ended without starting ${run.workflowId}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Follows a started run to its end, then prints its report from the ledger; the exit code is the run's. */
export async function awaitRun(loaded: LoadedConfig, handle: WorkflowHandle<typeof runbookRun>, opts: { json?: boolean }): Promise<ExitCode> {
  const print = opts.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  await follow(handle, print);
  const result = await handle.result().then(
    (progress) => progress,
    (err: unknown) => {
      if (err instanceof WorkflowFailedError) return undefined;
      throw err;
    },
  );
  const record = await withLedger(loaded, (db) => readRun(db, handle.workflowId));
  const status = record?.run.status ?? result?.status ?? 'failed';
  if (opts.json) console.log(JSON.stringify(record ? reportJson(record) : { runId: handle.workflowId, status }));
  else if (record) console.log(`\n${renderMarkdown(record)}`);
  return exitCodeOf(status);
}

export function reportJson(record: RunRecord) {
  const { run, steps, findings, approvals } = record;
  return {
    runId: run.run_id, runbook: run.runbook, target: run.target, initiator: run.initiator, status: run.status,
    error: run.error, startedAt: run.started_at, finishedAt: run.finished_at,
    findings: { critical: 0, warning: 0, info: 0, ...Object.fromEntries(['critical', 'warning', 'info'].map((s) => [s, findings.filter((f) => f.severity === s).length])) },
    steps: steps.map((s) => ({ id: s.step_id, activity: s.activity, status: s.status, summary: s.summary, error: s.error, data: s.data,
                               durationMs: s.duration_ms === null ? null : Number(s.duration_ms),
                               findings: findings.filter((f) => f.step_id === s.step_id).map(({ step_id: _, seq: __, ...f }) => f) })),
    approvals,
  };
}

export async function statusCommand(loaded: LoadedConfig, runId: string, opts: { json?: boolean }): Promise<ExitCode> {
  const live = await withClient(loaded, (client) =>
    client.workflow.getHandle(runId).query(progressQuery).catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }),
  );
  if (live) {
    printProgress(live, opts.json);
    return ExitCode.Ok;
  }
  const record = await withLedger(loaded, (db) => readRun(db, runId));
  if (!record) throw new CliError(ExitCode.BadInput, `no run '${runId}' in Temporal or in the ledger`);
  if (opts.json) console.log(JSON.stringify(reportJson(record)));
  else console.log(renderMarkdown(record));
  return ExitCode.Ok;
}

function printProgress(progress: RunProgress, json?: boolean): void {
  if (json) {
    console.log(JSON.stringify(progress));
    return;
  }
  console.log(`${progress.runId}: ${progress.runbook} on ${progress.target}, ${progress.status} (started by ${progress.initiator})`);
  for (const step of progress.steps) {
    console.log(stepLine(step));
    if (step.status === 'waiting_approval') console.log(waitingLine(progress.runId, step));
  }
}

export async function listCommand(loaded: LoadedConfig, opts: { db?: string; runbook?: string; limit: string; json?: boolean }): Promise<ExitCode> {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError(ExitCode.BadInput, `--limit ${opts.limit}: must be a whole number from 1 to 1000`);
  const runs = await withLedger(loaded, (db) => listRuns(db, { target: opts.db, runbook: opts.runbook, limit }));
  if (opts.json) {
    console.log(JSON.stringify(runs));
  } else if (runs.length === 0) {
    console.log('no runs');
  } else {
    console.log(table(['started', 'status', 'critical', 'warning', 'run', 'by'], runs.map((r) => [
      r.started_at.toISOString(), statusPaint(r.status), r.critical ? paint.red(String(r.critical)) : '0', String(r.warning), r.run_id, r.initiator,
    ])));
  }
  return ExitCode.Ok;
}

export interface DecisionOptions { step: string; comment?: string; reason?: string; requestId?: string; json?: boolean }

/**
 * approve / reject as the CLI's identity (identity.ts), through cli/decide.ts (the dashboard's path
 * too): the run's validator answers at once, and a refusal is recorded in the ledger.
 */
export async function decisionCommand(loaded: LoadedConfig, runId: string, decision: 'approve' | 'reject', opts: DecisionOptions): Promise<ExitCode> {
  const approver = currentIdentity(loaded.config);
  const requestId = opts.requestId ?? randomUUID();
  const reason = decision === 'reject' ? opts.reason : opts.comment;
  const outcome = await withClient(loaded, (client) => sendDecision(loaded, client, { runId, stepId: opts.step, decision, approver, reason, requestId }));
  if (outcome.accepted) {
    if (opts.json) console.log(JSON.stringify({ accepted: true, runId, requestId, step: outcome.step }));
    else console.log(`${decision === 'approve' ? 'approved' : 'rejected'} step ${opts.step} of ${runId} as ${approver}`);
    return ExitCode.Ok;
  }
  if (opts.json) console.log(JSON.stringify({ accepted: false, runId, requestId, reason: outcome.refusal }));
  else console.error(`refused: ${outcome.refusal}`);
  return ExitCode.Failed;
}

export async function cancelCommand(loaded: LoadedConfig, runId: string, opts: { wait?: boolean; json?: boolean }): Promise<ExitCode> {
  return withClient(loaded, async (client) => {
    const handle = client.workflow.getHandle(runId);
    try {
      await handle.cancel();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new CliError(ExitCode.BadInput, `run ${runId} is not running`);
      throw err;
    }
    if (opts.wait) await handle.result().catch(() => undefined);
    if (opts.json) console.log(JSON.stringify({ runId, cancelRequested: true }));
    else console.log(`cancellation requested for ${runId}${opts.wait ? ' (finished)' : ''}`);
    return ExitCode.Ok;
  });
}

export async function reportCommand(loaded: LoadedConfig, runId: string, opts: { json?: boolean }): Promise<ExitCode> {
  const record = await withLedger(loaded, (db) => readRun(db, runId));
  if (!record) throw new CliError(ExitCode.BadInput, `no run '${runId}' in the ledger`);
  console.log(opts.json ? JSON.stringify(reportJson(record)) : renderMarkdown(record));
  return ExitCode.Ok;
}

/** Errors a person can act on, mapped to exit codes; anything else is a bug or an outage. */
export function exitCodeForError(err: unknown): ExitCode {
  if (err instanceof CliError) return err.code;
  if (err instanceof ConfigError || err instanceof RunbookError) return ExitCode.BadInput;
  if (err instanceof MigrationError) return ExitCode.Failed;
  return ExitCode.Unavailable;
}
