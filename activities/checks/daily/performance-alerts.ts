// Daily: "Check pggit performance alerts". pggit.check_performance_alerts() (the guide's function,
// corrected in sql/003) decides what is alarming; this step turns each row into a finding with the
// evidence behind it. Tracking errors are listed here per distinct error since the previous run,
// replacing the function's single count of the last 24 hours, which would report a morning's errors
// again in the evening run and miss a weekend's on Monday.
import { z } from 'zod';
import { defineCheck, type Finding, type Severity } from '../define.ts';
import { capped, problemCount, round, windowStart } from '../shared.ts';

const args = z
  .object({
    /** How far back tracking errors are read when the runbook has no previous run. */
    window_hours: z.number().positive().default(24),
    /** Distinct tracking errors listed one finding each; the rest are counted in one more. */
    max_listed: z.number().int().positive().default(20),
  })
  .strict();

const severities: Record<string, Severity> = { CRITICAL: 'critical', WARNING: 'warning', INFO: 'info' };

interface Context {
  pggit_bytes: number;
  database_bytes: number;
  storage_alert_percent: number;
  alert_threshold_ms: number;
  event_triggers: Array<{ name: string; event: string; enabled: boolean }>;
}

/** Code and evidence for one alert row; null for the rows this step reports in its own way. */
function describe(alertType: string, message: string, c: Context): Pick<Finding, 'code' | 'details'> | null {
  const slow = /^Function (.+) averaging ([\d.]+) ms over (\d+) calls \(alert threshold ([\d.]+) ms\)$/.exec(message);
  if (alertType === 'PERFORMANCE' && slow) {
    return {
      code: 'slow_function',
      details: { function: slow[1], mean_ms: Number(slow[2]), calls: Number(slow[3]), alert_threshold_ms: Number(slow[4]) },
    };
  }
  if (alertType === 'PERFORMANCE' && message.startsWith('track_functions is none')) {
    return { code: 'track_functions_off', details: { track_functions: 'none' } };
  }
  if (alertType === 'STORAGE') {
    return {
      code: 'pggit_storage_share',
      details: {
        pggit_bytes: c.pggit_bytes,
        database_bytes: c.database_bytes,
        share_percent: round((100 * c.pggit_bytes) / c.database_bytes),
        storage_alert_percent: c.storage_alert_percent,
      },
    };
  }
  if (alertType === 'TRACKING' && /^\d+ tracking errors in the last 24 hours/.test(message)) return null;
  if (alertType === 'TRACKING' && message.startsWith('No enabled pggit event trigger')) {
    return { code: 'tracking_disabled', details: { event_triggers: c.event_triggers } };
  }
  if (alertType === 'TRACKING' && message.startsWith('Disabled pggit event triggers')) {
    return { code: 'event_triggers_disabled', details: { disabled: c.event_triggers.filter((t) => !t.enabled).map((t) => t.name) } };
  }
  return { code: `${alertType.toLowerCase()}_alert`, details: { alert_type: alertType } };
}

export const performanceAlerts = defineCheck({
  name: 'performanceAlerts',
  description: "pggit's performance, storage and tracking alerts, and the tracking errors since the previous run",
  kind: 'check',
  args,
  async run(ctx, { window_hours, max_listed }) {
    const since = windowStart(ctx, window_hours);
    const alerts = (
      await ctx.db.query<{ alert_type: string; message: string; severity: string }>(
        `SELECT alert_type, message, severity FROM pggit.check_performance_alerts()`,
      )
    ).rows;
    const context = (
      await ctx.db.query<Context>(
        `SELECT pggit.storage_bytes()::float8 AS pggit_bytes,
                pg_database_size(current_database())::float8 AS database_bytes,
                coalesce((SELECT max(s.storage_alert_percent) FROM pggit.settings s), 10)::float8 AS storage_alert_percent,
                coalesce((SELECT max(s.alert_threshold_ms) FROM pggit.settings s), 1000)::float8 AS alert_threshold_ms,
                (SELECT coalesce(jsonb_agg(jsonb_build_object('name', t.name, 'event', t.event, 'enabled', t.enabled) ORDER BY t.name), '[]')
                   FROM pggit.event_trigger_overhead t) AS event_triggers`,
      )
    ).rows[0]!;

    const findings: Finding[] = [];
    for (const a of alerts) {
      const described = describe(a.alert_type, a.message, context);
      if (!described) continue;
      findings.push({ ...described, severity: severities[a.severity] ?? 'warning', message: a.message });
    }

    // Messages pass pggit.redact_secrets(); statements, details and contexts are never read, as in
    // pggit's support bundle: DDL such as CREATE USER MAPPING can carry passwords.
    const errors = (
      await ctx.db.query<{
        sqlstate: string | null;
        message: string | null;
        occurrences: number;
        first_at: Date;
        last_at: Date;
        command_tags: string[];
        roles: string[];
      }>(
        `SELECT e.sqlstate, pggit.redact_secrets(e.message) AS message, count(*)::int AS occurrences,
                min(e.occurred_at) AS first_at, max(e.occurred_at) AS last_at,
                coalesce(array_agg(DISTINCT e.command_tag) FILTER (WHERE e.command_tag IS NOT NULL), '{}') AS command_tags,
                array_agg(DISTINCT e.role_name::text) AS roles
           FROM pggit.tracking_errors e
          WHERE e.occurred_at > $1
          GROUP BY 1, 2
          ORDER BY max(e.occurred_at) DESC`,
        [since],
      )
    ).rows;
    const listed = capped(errors, max_listed);
    for (const e of listed.items) {
      findings.push({
        code: 'tracking_error',
        severity: 'warning',
        message: `pggit could not record ${e.command_tags.join(', ') || 'a DDL command'} ${e.occurrences}× since ${since.toISOString()}: ${e.message ?? '(no message)'}`,
        details: {
          sqlstate: e.sqlstate,
          message: e.message,
          occurrences: e.occurrences,
          first_at: e.first_at.toISOString(),
          last_at: e.last_at.toISOString(),
          command_tags: e.command_tags,
          roles: e.roles,
        },
      });
    }
    if (listed.omitted > 0) {
      const occurrences = errors.slice(max_listed).reduce((n, e) => n + e.occurrences, 0);
      findings.push({
        code: 'tracking_errors_omitted',
        severity: 'warning',
        message: `${listed.omitted} more distinct tracking errors (${occurrences} occurrences) since ${since.toISOString()}: see pggit.tracking_errors`,
        details: { distinct_errors: listed.omitted, occurrences },
      });
    }

    const errorCount = errors.reduce((n, e) => n + e.occurrences, 0);
    return {
      summary: `${alerts.length} pggit alerts, ${errorCount} tracking errors since ${since.toISOString()}: ${problemCount(findings)}`,
      findings,
      data: {
        since: since.toISOString(),
        alerts,
        tracking_errors: errorCount,
        pggit_bytes: context.pggit_bytes,
        database_bytes: context.database_bytes,
        alert_threshold_ms: context.alert_threshold_ms,
      },
    };
  },
});
