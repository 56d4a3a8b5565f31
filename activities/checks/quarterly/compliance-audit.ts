// Quarterly "compliance audit": the evidence an auditor asks for, as one structured report. Is
// every DDL change recorded and attributed to a role, are pggit's records intact, is history kept
// long enough to cover the period, and did the operations checklists actually run (the ledger)?
import type pg from 'pg';
import { z } from 'zod';
import { defineCheck, type Finding } from '../define.ts';
import { capped, problemCount } from '../shared.ts';

const cadences = [
  { checklist: 'daily', unit: 'day' },
  { checklist: 'weekly', unit: 'week' },
  { checklist: 'monthly', unit: 'month' },
] as const;

interface Coverage {
  checklist: string;
  runbook: string;
  unit: string;
  expected: number;
  covered: number;
  missing: string[];
  runsByStatus: Record<string, number>;
}

export const complianceAudit = defineCheck({
  name: 'complianceAudit',
  description: 'report for auditors: DDL tracking on and attributed, tracking errors, integrity, history retention, checklist runs in the ledger',
  kind: 'check',
  args: z
    .object({
      /** The audited period: this many days up to now. */
      period_days: z.number().int().min(1).max(366).default(90),
      /** Runbook names of the checklists whose runs are expected. */
      runbooks: z
        .object({ daily: z.string().min(1).default('daily'), weekly: z.string().min(1).default('weekly'), monthly: z.string().min(1).default('monthly') })
        .strict()
        .prefault({}),
      /** Calendar days, weeks (from Monday) and months are counted in this time zone (the schedules' one). */
      timezone: z.string().min(1).default('UTC'),
    })
    .strict(),
  async run(ctx, args) {
    const findings: Finding[] = [];

    const { rows: triggers } = await ctx.db.query<{ name: string; present: boolean; enabled: boolean }>(`
      SELECT e.name, t.evtname IS NOT NULL AS present, coalesce(t.evtenabled <> 'D', false) AS enabled
        FROM (VALUES ('pggit_ddl_command_end'), ('pggit_sql_drop')) AS e(name)
        LEFT JOIN pg_event_trigger t ON t.evtname = e.name
       ORDER BY e.name`);
    const { rows: settingRows } = await ctx.db.query<{ tracked_schemas: string[] | null; retention_days: number; strict_mode: boolean }>(
      `SELECT tracked_schemas, retention_days, strict_mode FROM pggit.settings`,
    );
    const settings = settingRows[0]!;
    const off = triggers.filter((t) => !t.enabled);
    if (off.length > 0) {
      findings.push({
        code: 'tracking_disabled',
        severity: 'critical',
        message: `DDL is not being recorded: event trigger(s) ${off.map((t) => `${t.name} (${t.present ? 'disabled' : 'missing'})`).join(', ')}`,
        details: { triggers },
      });
    }

    const { rows: periodRows } = await ctx.db.query<{ from: string; to: string }>(
      `SELECT (now() - make_interval(days => $1))::text AS "from", now()::text AS "to"`,
      [args.period_days],
    );
    const period = { days: args.period_days, ...periodRows[0]! };

    // BASELINE rows record what existed when tracking began, not changes anyone made.
    const { rows: byRole } = await ctx.db.query<{ role: string; changes: string; role_exists: boolean; first: string; last: string }>(
      `SELECT h.role_name::text AS role, count(*)::text AS changes, EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = h.role_name) AS role_exists,
              min(h.change_timestamp)::text AS first, max(h.change_timestamp)::text AS last
         FROM pggit.history h
        WHERE h.change_timestamp >= now() - make_interval(days => $1) AND h.change_type <> 'BASELINE'
        GROUP BY h.role_name
        ORDER BY count(*) DESC, 1`,
      [args.period_days],
    );
    const changes = byRole.reduce((n, r) => n + Number(r.changes), 0);
    const unattributed = byRole.filter((r) => r.role.trim() === '');
    if (unattributed.length > 0) {
      findings.push({
        code: 'ddl_unattributed',
        severity: 'warning',
        message: `${unattributed.reduce((n, r) => n + Number(r.changes), 0)} DDL change(s) in the period have no role recorded`,
        details: { unattributed },
      });
    }
    const goneRoles = byRole.filter((r) => r.role.trim() !== '' && !r.role_exists);
    if (goneRoles.length > 0) {
      findings.push({
        code: 'ddl_by_dropped_roles',
        severity: 'info',
        message: `DDL changes in the period were made by role(s) since dropped: ${goneRoles.map((r) => `${r.role} (${r.changes})`).join(', ')}; the record keeps their names`,
        details: { roles: goneRoles },
      });
    }

    // Statements and details of tracking errors can hold literals (passwords): counts and SQLSTATEs only.
    const { rows: errors } = await ctx.db.query<{ sqlstate: string | null; count: string; last: string }>(
      `SELECT sqlstate, count(*)::text AS count, max(occurred_at)::text AS last
         FROM pggit.tracking_errors WHERE occurred_at >= now() - make_interval(days => $1)
        GROUP BY sqlstate ORDER BY count(*) DESC`,
      [args.period_days],
    );
    const errorCount = errors.reduce((n, e) => n + Number(e.count), 0);
    if (errorCount > 0) {
      findings.push({
        code: 'tracking_errors',
        severity: 'warning',
        message: `${errorCount} tracking error(s) in the period: the DDL went through but pggit may not have recorded it (pggit.tracking_errors)`,
        details: { bySqlstate: errors },
      });
    }

    const { rows: integrity } = await ctx.db.query<{ check_name: string; status: string; object_name: string | null; details: string | null }>(
      `SELECT check_name, status, object_name, details FROM pggit.verify_database_integrity()`,
    );
    const integrityProblems = integrity.filter((r) => r.status !== 'OK');
    if (integrityProblems.length > 0) {
      findings.push({
        code: 'integrity_problems',
        severity: 'warning',
        message: `pggit.verify_database_integrity() reports ${integrityProblems.length} problem(s): ${[...new Set(integrityProblems.map((p) => `${p.check_name} ${p.status}`))].join(', ')}`,
        details: { problems: capped(integrityProblems, 50) },
      });
    }

    const { rows: retentionRows } = await ctx.db.query<{ beyond: string; oldest: string | null }>(
      `SELECT count(*) FILTER (WHERE change_timestamp < now() - make_interval(days => $1))::text AS beyond, min(change_timestamp)::text AS oldest
         FROM pggit.history`,
      [settings.retention_days],
    );
    const retention = { retentionDays: settings.retention_days, rowsBeyondRetention: Number(retentionRows[0]!.beyond), oldestChange: retentionRows[0]!.oldest };
    if (settings.retention_days < args.period_days) {
      findings.push({
        code: 'retention_shorter_than_period',
        severity: 'warning',
        message: `history is kept ${settings.retention_days} days, less than the ${args.period_days}-day audit period: changes from the start of the period may already be deleted (pggit.configure_monitoring(retention_days => ${args.period_days}))`,
        details: retention,
      });
    }
    if (retention.rowsBeyondRetention > 0) {
      findings.push({
        code: 'history_beyond_retention',
        severity: 'info',
        message: `${retention.rowsBeyondRetention} history rows are older than the ${settings.retention_days}-day retention (oldest ${retention.oldestChange}): the monthly cleanup has not removed them yet`,
        details: retention,
      });
    }

    const coverage = await checklistCoverage(ctx, args);
    for (const c of coverage.checklists) {
      if (c.missing.length === 0) continue;
      findings.push({
        code: 'checklist_runs_missing',
        severity: 'warning',
        message: `${c.checklist} checklist (runbook ${c.runbook}): ${c.missing.length} of ${c.expected} ${c.unit}s since ${coverage.evidenceFrom} without a successful run (first missing: ${c.missing.slice(0, 5).join(', ')})`,
        details: { ...c, missing: capped(c.missing, 50) },
      });
    }

    return {
      summary: `${problemCount(findings)} in the last ${args.period_days} days: ${changes} DDL changes by ${byRole.length} role(s), ${errorCount} tracking errors, integrity ${integrityProblems.length ? `${integrityProblems.length} problem(s)` : 'OK'}, checklist runs ${coverage.checklists.map((c) => `${c.checklist} ${c.covered}/${c.expected}`).join(', ')}`,
      findings,
      data: {
        target: ctx.target,
        period,
        tracking: { eventTriggers: triggers, trackedSchemas: settings.tracked_schemas ?? 'all non-system schemas', strictMode: settings.strict_mode },
        ddlChanges: { total: changes, byRole },
        trackingErrors: { total: errorCount, bySqlstate: errors },
        integrity: { ok: integrityProblems.length === 0, checks: integrity },
        retention,
        ledger: coverage,
      },
    };
  },
});

/**
 * For each checklist, the calendar days / weeks / months wholly inside the period and since the
 * target's first run in the ledger (there can be no evidence from before pggit-ops ran it), and
 * which of them saw no successful run of the checklist's runbook.
 */
async function checklistCoverage(
  ctx: { ledger: pg.Client; target: string },
  args: { period_days: number; runbooks: Record<(typeof cadences)[number]['checklist'], string>; timezone: string },
): Promise<{ evidenceFrom: string; firstRun: string | null; checklists: Coverage[] }> {
  const params = cadences.map((c) => ({ checklist: c.checklist, unit: c.unit, runbook: args.runbooks[c.checklist] }));
  const { rows } = await ctx.ledger.query<{ checklist: string; runbook: string; unit: string; evidence_from: string; first_run: string | null; expected: number; covered: number; missing: string[]; runs_by_status: Record<string, number> | null }>(
    `
    WITH cadence AS (
        SELECT c.*, ('1 ' || c.unit)::interval AS step FROM jsonb_to_recordset($4::jsonb) AS c(checklist text, unit text, runbook text)
    ), first_run AS (
        SELECT min(started_at) AS at FROM pggit_ops.runs WHERE target = $1
    ), span AS (
        SELECT greatest(now() - make_interval(days => $2), f.at) AS from_ts, now() AS to_ts, f.at AS first_at FROM first_run f
    ), buckets AS (
        -- Local calendar time, so days and months follow the time zone's midnights and DST.
        SELECT c.checklist, c.runbook, c.unit, b AS local_start, b + c.step AS local_end
          FROM cadence c, span s,
               generate_series(date_trunc(c.unit, s.from_ts AT TIME ZONE $3), s.to_ts AT TIME ZONE $3, c.step) AS b
    ), judged AS (
        SELECT b.*, EXISTS (SELECT 1 FROM pggit_ops.runs r
                             WHERE r.target = $1 AND r.runbook = b.runbook AND r.status = 'succeeded'
                               AND r.started_at AT TIME ZONE $3 >= b.local_start AND r.started_at AT TIME ZONE $3 < b.local_end) AS covered
          FROM buckets b, span s
         WHERE b.local_start >= s.from_ts AT TIME ZONE $3 AND b.local_end <= s.to_ts AT TIME ZONE $3
    )
    SELECT c.checklist, c.runbook, c.unit, (SELECT from_ts::text FROM span) AS evidence_from, (SELECT first_at::text FROM span) AS first_run,
           count(j.local_start)::int AS expected, count(j.local_start) FILTER (WHERE j.covered)::int AS covered,
           coalesce(array_agg(j.local_start::date::text ORDER BY j.local_start) FILTER (WHERE NOT j.covered), '{}') AS missing,
           (SELECT jsonb_object_agg(r.status, r.n) FROM (SELECT status, count(*)::int AS n FROM pggit_ops.runs, span s
                                                          WHERE target = $1 AND runbook = c.runbook AND started_at >= s.from_ts
                                                          GROUP BY status) r) AS runs_by_status
      FROM cadence c LEFT JOIN judged j ON j.checklist = c.checklist
     GROUP BY c.checklist, c.runbook, c.unit
     ORDER BY array_position(ARRAY['daily', 'weekly', 'monthly'], c.checklist)`,
    [ctx.target, args.period_days, args.timezone, JSON.stringify(params)],
  );
  return {
    evidenceFrom: rows[0]!.evidence_from,
    firstRun: rows[0]!.first_run,
    checklists: rows.map((r) => ({
      checklist: r.checklist,
      runbook: r.runbook,
      unit: r.unit,
      expected: r.expected,
      covered: r.covered,
      missing: r.missing,
      runsByStatus: r.runs_by_status ?? {},
    })),
  };
}
