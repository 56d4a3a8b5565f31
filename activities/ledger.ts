// Writes to the pggit_ops ledger. Every write is keyed (run, step, seq, request id) so that an
// activity retried after a crash records each thing exactly once.
import type { Finding, RunStatus, StepStatus } from '../workflows/runbook-types.ts';
import type { TargetPools } from './pools.ts';

export interface RunStartRecord {
  runId: string;
  temporalRunId: string;
  runbook: string;
  target: string;
  params: Record<string, unknown>;
  initiator: string;
  steps: Array<{ id: string; activity: string | undefined }>;
}

export interface StepRecord {
  runId: string;
  target: string;
  stepId: string;
  status: StepStatus;
  summary?: string;
  data?: Record<string, unknown>;
  error?: string;
  attempts?: number;
  startedAt?: string;
  finishedAt?: string;
  findings?: Finding[];
}

export interface ApprovalRecord {
  runId: string;
  stepId: string;
  requestId: string;
  approver: string;
  decision: 'approve' | 'reject';
  reason: string | undefined;
  outcome: 'accepted' | 'refused';
  refusalReason?: string;
}

export function ledgerActivities(pools: TargetPools) {
  return {
    /** Records the run and its steps as pending; returns when this runbook last ran on this target. */
    async recordRunStart(run: RunStartRecord): Promise<{ previousRunAt: string | undefined }> {
      return pools.withLedger(async (db) => {
        await db.query(
          `INSERT INTO pggit_ops.runs (run_id, temporal_run_id, runbook, target, params, initiator)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id) DO NOTHING`,
          [run.runId, run.temporalRunId, run.runbook, run.target, JSON.stringify(run.params), run.initiator],
        );
        await db.query(
          `INSERT INTO pggit_ops.steps (run_id, step_id, position, activity, status)
           SELECT $1, s.id, s.position, s.activity, 'pending'
             FROM jsonb_to_recordset($2::jsonb) AS s(id text, position int, activity text)
           ON CONFLICT (run_id, step_id) DO NOTHING`,
          [run.runId, JSON.stringify(run.steps.map((s, i) => ({ id: s.id, position: i + 1, activity: s.activity ?? null })))],
        );
        const { rows } = await db.query<{ at: Date | null }>(
          `SELECT max(started_at) AS at FROM pggit_ops.runs WHERE target = $1 AND runbook = $2 AND run_id <> $3`,
          [run.target, run.runbook, run.runId],
        );
        return { previousRunAt: rows[0]?.at?.toISOString() };
      });
    },

    async recordStep(step: StepRecord): Promise<void> {
      await pools.withLedger(async (db) => {
        await db.query(
          `UPDATE pggit_ops.steps SET status = $3, summary = coalesce($4, summary), data = coalesce($5, data),
                  error = $6, attempts = coalesce($7, attempts),
                  started_at = coalesce($8, started_at), finished_at = $9,
                  duration_ms = extract(epoch FROM ($9::timestamptz - coalesce($8, started_at))) * 1000
            WHERE run_id = $1 AND step_id = $2`,
          [step.runId, step.stepId, step.status, step.summary ?? null, step.data ? JSON.stringify(step.data) : null,
           step.error ?? null, step.attempts ?? null, step.startedAt ?? null, step.finishedAt ?? null],
        );
        if (step.findings?.length) {
          await db.query(
            `INSERT INTO pggit_ops.findings (run_id, step_id, seq, target, severity, code, message, details)
             SELECT $1, $2, f.seq, $3, f.severity, f.code, f.message, f.details
               FROM jsonb_to_recordset($4::jsonb) AS f(seq int, severity text, code text, message text, details jsonb)
             ON CONFLICT (run_id, step_id, seq) DO NOTHING`,
            [step.runId, step.stepId, step.target, JSON.stringify(step.findings.map((f, i) => ({ ...f, seq: i + 1 })))],
          );
        }
      });
    },

    async recordApproval(approval: ApprovalRecord): Promise<void> {
      await pools.withLedger((db) =>
        db.query(
          `INSERT INTO pggit_ops.approvals (run_id, step_id, request_id, approver, decision, reason, outcome, refusal_reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (request_id) DO NOTHING`,
          [approval.runId, approval.stepId, approval.requestId, approval.approver, approval.decision,
           approval.reason ?? null, approval.outcome, approval.refusalReason ?? null],
        ),
      );
    },

    async recordRunEnd(run: { runId: string; status: RunStatus; error?: string }): Promise<void> {
      await pools.withLedger((db) =>
        db.query(`UPDATE pggit_ops.runs SET status = $2, error = $3, finished_at = now() WHERE run_id = $1`, [run.runId, run.status, run.error ?? null]),
      );
    },
  };
}

export type LedgerActivities = ReturnType<typeof ledgerActivities>;
