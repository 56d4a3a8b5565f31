// Daily: "Monitor storage growth". Takes pggit's own storage snapshot (pggit.snapshot_storage(),
// which feeds pggit.storage_projection) and a ledger snapshot of the database and pggit sizes, and
// compares the latter with the previous one for this target: growth per day, and pggit's share
// of the database against the alert level operators configured (settings.storage_alert_percent).
import { z } from 'zod';
import { defineCheck, type Finding } from '../define.ts';
import { formatBytes, previousSnapshot, problemCount, round, saveSnapshot } from '../shared.ts';

const args = z
  .object({
    /** Growth per day, in percent of the previous size, above which a size is reported. */
    max_daily_growth_percent: z.number().positive().default(5),
    /** Growth per day below this many bytes is never reported (a small database grows by large percentages). */
    min_growth_bytes: z.number().int().nonnegative().default(10 * 1024 * 1024),
    /** Sizes a shorter time apart are compared but not extrapolated to a day. */
    min_interval_hours: z.number().positive().default(1),
  })
  .strict();

const measures = [
  { key: 'database_bytes', code: 'database_growth', label: 'database' },
  { key: 'pggit_bytes', code: 'pggit_growth', label: 'pggit' },
] as const;

export const storageGrowth = defineCheck({
  name: 'storageGrowth',
  description: "Database and pggit sizes against the previous run: growth per day, and pggit's share of the database",
  kind: 'check',
  args,
  async run(ctx, { max_daily_growth_percent, min_growth_bytes, min_interval_hours }) {
    const now = (
      await ctx.db.query<{
        database: string;
        database_bytes: number;
        pggit_bytes: number;
        history_rows: number;
        pggit_snapshot_at: Date;
        storage_alert_percent: number;
      }>(
        `SELECT current_database() AS database,
                pg_database_size(current_database())::float8 AS database_bytes,
                s.total_bytes::float8 AS pggit_bytes,
                s.history_rows::float8 AS history_rows,
                s.taken_at AS pggit_snapshot_at,
                coalesce((SELECT max(x.storage_alert_percent) FROM pggit.settings x), 10)::float8 AS storage_alert_percent
           FROM pggit.snapshot_storage() s`,
      )
    ).rows[0]!;
    const metrics = {
      database_bytes: now.database_bytes,
      pggit_bytes: now.pggit_bytes,
      history_rows: now.history_rows,
      pggit_snapshot_at: now.pggit_snapshot_at.toISOString(),
    };
    const previous = await previousSnapshot(ctx, 'database', now.database);
    const takenAt = await saveSnapshot(ctx, 'database', [{ name: now.database, metrics }]);

    const findings: Finding[] = [];
    const growth: Record<string, unknown> = {};
    const before = previous?.rows.get(now.database);
    if (!previous || !before) {
      findings.push({
        code: 'storage_baseline',
        severity: 'info',
        message: `First size snapshot of ${now.database}: ${formatBytes(now.database_bytes)}, pggit ${formatBytes(now.pggit_bytes)}; growth is measured from the next run`,
        details: metrics,
      });
    } else {
      const hours = (takenAt.getTime() - previous.takenAt.getTime()) / 3_600_000;
      const extrapolate = hours >= min_interval_hours;
      const lines: string[] = [];
      for (const m of measures) {
        const was = Number(before[m.key]);
        const delta = now[m.key] - was;
        const perDay = extrapolate ? (delta * 24) / hours : null;
        const percentPerDay = perDay !== null && was > 0 ? round((100 * perDay) / was) : null;
        growth[m.label] = {
          before_bytes: was,
          now_bytes: now[m.key],
          delta_bytes: delta,
          bytes_per_day: perDay === null ? null : Math.round(perDay),
          percent_per_day: percentPerDay,
        };
        lines.push(`${m.label} ${formatBytes(was)} → ${formatBytes(now[m.key])}` + (percentPerDay === null ? '' : ` (${percentPerDay}%/day)`));
        if (perDay !== null && percentPerDay !== null && percentPerDay > max_daily_growth_percent && perDay >= min_growth_bytes) {
          findings.push({
            code: m.code,
            severity: 'warning',
            message: `${m.label} grew ${percentPerDay}% per day (${formatBytes(perDay)}/day, ${formatBytes(was)} → ${formatBytes(now[m.key])} in ${round(hours, 1)} h), above ${max_daily_growth_percent}%`,
            details: {
              before_bytes: was,
              now_bytes: now[m.key],
              interval_hours: round(hours, 2),
              bytes_per_day: Math.round(perDay),
              percent_per_day: percentPerDay,
              max_daily_growth_percent,
              min_growth_bytes,
              previous_run: previous.runId,
            },
          });
        }
      }
      findings.push({
        code: extrapolate ? 'storage_growth' : 'interval_too_short',
        severity: 'info',
        message: extrapolate
          ? `Since ${previous.takenAt.toISOString()} (${round(hours, 1)} h): ${lines.join(', ')}`
          : `Previous snapshot only ${round(hours * 60, 1)} min ago (under ${min_interval_hours} h): ${lines.join(', ')}, not extrapolated to a day`,
        details: { previous_run: previous.runId, previous_at: previous.takenAt.toISOString(), interval_hours: round(hours, 4), ...growth },
      });
    }

    const share = round((100 * now.pggit_bytes) / now.database_bytes);
    if (share > now.storage_alert_percent) {
      findings.push({
        code: 'pggit_share_high',
        severity: 'warning',
        message: `pggit uses ${share}% of database ${now.database} (${formatBytes(now.pggit_bytes)} of ${formatBytes(now.database_bytes)}), above storage_alert_percent ${now.storage_alert_percent}%`,
        details: { pggit_bytes: now.pggit_bytes, database_bytes: now.database_bytes, share_percent: share, storage_alert_percent: now.storage_alert_percent },
      });
    }

    return {
      summary: `${now.database}: ${formatBytes(now.database_bytes)}, pggit ${formatBytes(now.pggit_bytes)} (${share}%): ${problemCount(findings)}`,
      findings,
      data: { database: now.database, ...metrics, share_percent: share, taken_at: takenAt.toISOString(), growth },
    };
  },
});
