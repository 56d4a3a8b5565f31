// A run as the ledger recorded it, and its report in Markdown. The CLI and the dashboard read runs
// here, from the ledger, never from each other.
import type pg from 'pg';
import type { Severity } from '../workflows/runbook-types.ts';

export interface RunRecord {
  run: { run_id: string; runbook: string; target: string; initiator: string; status: string; error: string | null;
         params: Record<string, unknown>; started_at: Date; finished_at: Date | null };
  steps: Array<{ step_id: string; position: number; activity: string | null; status: string; summary: string | null;
                 data: Record<string, unknown> | null; error: string | null; started_at: Date | null; finished_at: Date | null; duration_ms: string | null }>;
  findings: Array<{ step_id: string; seq: number; severity: Severity; code: string; message: string; details: unknown }>;
  approvals: Array<{ step_id: string; approver: string; decision: string; reason: string | null; outcome: string;
                     refusal_reason: string | null; decided_at: Date }>;
}

/** A connection, or a pool (the dashboard's). */
type Queryable = pg.ClientBase | pg.Pool;

export async function readRun(db: Queryable, runId: string): Promise<RunRecord | undefined> {
  const run = await db.query(`SELECT run_id, runbook, target, initiator, status, error, params, started_at, finished_at FROM pggit_ops.runs WHERE run_id = $1`, [runId]);
  if (!run.rows[0]) return undefined;
  // One connection runs one query at a time.
  const steps = await db.query(`SELECT step_id, position, activity, status, summary, data, error, started_at, finished_at, duration_ms FROM pggit_ops.steps WHERE run_id = $1 ORDER BY position`, [runId]);
  const findings = await db.query(`SELECT step_id, seq, severity, code, message, details FROM pggit_ops.findings WHERE run_id = $1 ORDER BY step_id, seq`, [runId]);
  const approvals = await db.query(`SELECT step_id, approver, decision, reason, outcome, refusal_reason, decided_at FROM pggit_ops.approvals WHERE run_id = $1 ORDER BY decided_at, id`, [runId]);
  return { run: run.rows[0], steps: steps.rows, findings: findings.rows, approvals: approvals.rows };
}

export interface RunListFilter {
  target?: string;
  runbook?: string;
  limit: number;
}

export async function listRuns(db: Queryable, filter: RunListFilter) {
  const { rows } = await db.query(
    `SELECT r.run_id, r.runbook, r.target, r.initiator, r.status, r.started_at, r.finished_at,
            count(f.id) FILTER (WHERE f.severity = 'critical')::int AS critical,
            count(f.id) FILTER (WHERE f.severity = 'warning')::int AS warning
       FROM pggit_ops.runs r LEFT JOIN pggit_ops.findings f ON f.run_id = r.run_id
      WHERE ($1::text IS NULL OR r.target = $1) AND ($2::text IS NULL OR r.runbook = $2)
      GROUP BY r.run_id ORDER BY r.started_at DESC LIMIT $3`,
    [filter.target ?? null, filter.runbook ?? null, filter.limit],
  );
  return rows as Array<{ run_id: string; runbook: string; target: string; initiator: string; status: string;
                         started_at: Date; finished_at: Date | null; critical: number; warning: number }>;
}

const severityOrder: Severity[] = ['critical', 'warning', 'info'];

function cell(text: string | null | undefined): string {
  return (text ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function duration(ms: string | null): string {
  if (ms === null) return '';
  const n = Number(ms);
  return n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(1)} s`;
}

export function renderMarkdown(record: RunRecord): string {
  const { run, steps, findings, approvals } = record;
  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  const lines = [
    `# ${run.runbook} on ${run.target}: ${run.status}`,
    '',
    `- run: \`${run.run_id}\``,
    `- started by ${run.initiator} at ${run.started_at.toISOString()}${run.finished_at ? `, finished at ${run.finished_at.toISOString()}` : ''}`,
    `- findings: ${count('critical')} critical, ${count('warning')} warning, ${count('info')} info`,
    ...(run.error ? [`- error: ${run.error}`] : []),
    '',
    '## Steps',
    '',
    '| # | step | status | time | summary |',
    '|---|---|---|---|---|',
    ...steps.map((s) => `| ${s.position} | ${cell(s.step_id)} | ${s.status} | ${duration(s.duration_ms)} | ${cell(s.error ?? s.summary)} |`),
  ];
  for (const severity of severityOrder) {
    const some = findings.filter((f) => f.severity === severity);
    if (!some.length) continue;
    lines.push('', `## ${severity[0]!.toUpperCase()}${severity.slice(1)} findings`, '');
    for (const f of some) lines.push(`- **${cell(f.step_id)}** \`${f.code}\`: ${cell(f.message)}`);
  }
  if (approvals.length) {
    lines.push('', '## Approvals', '', '| step | who | decision | when | outcome | reason |', '|---|---|---|---|---|---|');
    for (const a of approvals) {
      lines.push(`| ${cell(a.step_id)} | ${cell(a.approver)} | ${a.decision} | ${a.decided_at.toISOString()} | ${a.outcome}${a.refusal_reason ? `: ${cell(a.refusal_reason)}` : ''} | ${cell(a.reason)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
