// Weekly: "Update capacity projections". pggit.storage_projection fits pggit's own size
// snapshots (or estimates from history growth) and says on what basis and with what confidence;
// pggit.growth_trend gives the DDL rate behind it. Whether pggit's share of the database grows
// also depends on the rest of the database, which the ledger's daily size snapshots
// (storageGrowth) show: with at least three of them their trend is used, otherwise the rest of the
// database is assumed not to grow, which overstates the share rather than hiding it.
import { z } from 'zod';
import { defineCheck, type Finding } from '../define.ts';
import { formatBytes, problemCount, round } from '../shared.ts';

const confidenceRank: Record<string, number> = { low: 0, medium: 1, high: 2 };

const args = z
  .object({
    /** pggit's projected size in 12 months above which to warn (no limit when absent). */
    max_pggit_bytes: z.number().int().positive().optional(),
    /** pggit's projected share of the database in 12 months, in percent, above which to warn. */
    max_share_percent: z.number().positive().max(100).default(10),
    /** Projections of lower confidence than this are reported as info, not warnings. */
    min_confidence: z.enum(['low', 'medium', 'high']).default('low'),
  })
  .strict();

interface Projection {
  database: string;
  database_bytes: number;
  current_bytes: number;
  projected_6_months_bytes: number;
  projected_1_year_bytes: number;
  growth_bytes_per_day: number;
  snapshots: number;
  r2: number | null;
  confidence: string;
  basis: string;
  avg_daily_changes: number;
  peak_daily_changes: number;
  change_variability: number | null;
  active_days: number;
  days: number;
}

export const capacityProjection = defineCheck({
  name: 'capacityProjection',
  description: "pggit's size and share of the database in 6 and 12 months, with the basis and confidence of the projection",
  kind: 'check',
  args,
  async run(ctx, { max_pggit_bytes, max_share_percent, min_confidence }) {
    const p = (
      await ctx.db.query<Projection>(
        `SELECT current_database() AS database, pg_database_size(current_database())::float8 AS database_bytes,
                p.current_bytes::float8 AS current_bytes, p.projected_6_months_bytes::float8 AS projected_6_months_bytes,
                p.projected_1_year_bytes::float8 AS projected_1_year_bytes, p.growth_bytes_per_day::float8 AS growth_bytes_per_day,
                p.snapshots::int AS snapshots, p.r2::float8 AS r2, p.confidence, p.basis,
                g.avg_daily_changes::float8 AS avg_daily_changes, g.peak_daily_changes::float8 AS peak_daily_changes,
                g.change_variability::float8 AS change_variability, g.active_days::int AS active_days, g.days::int AS days
           FROM pggit.storage_projection p, pggit.growth_trend g`,
      )
    ).rows[0]!;
    const rest = (
      await ctx.ledger.query<{ snapshots: number; slope: number | null }>(
        `SELECT count(*)::int AS snapshots,
                regr_slope((s.metrics->>'database_bytes')::float8 - (s.metrics->>'pggit_bytes')::float8,
                           extract(epoch FROM s.taken_at) / 86400) AS slope
           FROM pggit_ops.stat_snapshots s
          WHERE s.target = $1 AND s.kind = 'database' AND s.name = $2 AND s.taken_at > now() - interval '180 days'`,
        [ctx.target, p.database],
      )
    ).rows[0]!;

    const fitted = rest.snapshots >= 3 && rest.slope !== null;
    const restPerDay = fitted ? Math.max(0, rest.slope!) : 0;
    const restBasis = fitted
      ? `rest of the database: ${formatBytes(restPerDay)}/day from ${rest.snapshots} daily size snapshots (storageGrowth)`
      : `rest of the database assumed constant (${rest.snapshots} of the 3 size snapshots needed; storageGrowth takes one a run)`;
    const restNow = p.database_bytes - p.current_bytes;
    const share = (pggit: number, days: number) => round((100 * pggit) / (restNow + restPerDay * days + pggit));
    const shareNow = share(p.current_bytes, 0);
    const share6 = share(p.projected_6_months_bytes, 182.5);
    const share12 = share(p.projected_1_year_bytes, 365);

    const numbers = {
      database: p.database,
      database_bytes: p.database_bytes,
      pggit_bytes: p.current_bytes,
      projected_6_months_bytes: p.projected_6_months_bytes,
      projected_1_year_bytes: p.projected_1_year_bytes,
      growth_bytes_per_day: p.growth_bytes_per_day,
      share_percent: shareNow,
      projected_6_months_share_percent: share6,
      projected_1_year_share_percent: share12,
      confidence: p.confidence,
      basis: p.basis,
      snapshots: p.snapshots,
      r2: p.r2,
      rest_of_database_bytes_per_day: round(restPerDay, 1),
      rest_of_database_basis: restBasis,
      ddl: {
        days: p.days,
        active_days: p.active_days,
        avg_daily_changes: p.avg_daily_changes,
        peak_daily_changes: p.peak_daily_changes,
        change_variability: p.change_variability,
      },
    };
    const findings: Finding[] = [
      {
        code: 'capacity_projection',
        severity: 'info',
        message:
          `pggit ${formatBytes(p.current_bytes)} now (${shareNow}% of the database), ${formatBytes(p.projected_6_months_bytes)} in 6 months, ` +
          `${formatBytes(p.projected_1_year_bytes)} in 12 months (${share12}%); confidence ${p.confidence}: ${p.basis}; ${restBasis}; ` +
          `DDL ${p.avg_daily_changes} changes/day on average over ${p.days} days (peak ${p.peak_daily_changes})`,
        details: numbers,
      },
    ];
    const severity = (confidenceRank[p.confidence] ?? 0) >= confidenceRank[min_confidence]! ? 'warning' : 'info';
    if (max_pggit_bytes !== undefined && p.projected_1_year_bytes > max_pggit_bytes) {
      findings.push({
        code: 'pggit_projection_exceeds_limit',
        severity,
        message: `pggit is projected to reach ${formatBytes(p.projected_1_year_bytes)} in 12 months, above the limit of ${formatBytes(max_pggit_bytes)} (confidence ${p.confidence})`,
        details: { ...numbers, max_pggit_bytes, min_confidence },
      });
    }
    if (share12 > max_share_percent) {
      findings.push({
        code: 'pggit_share_projection_high',
        severity,
        message: `pggit is projected to use ${share12}% of the database in 12 months, above ${max_share_percent}% (confidence ${p.confidence}; ${restBasis})`,
        details: { ...numbers, max_share_percent, min_confidence },
      });
    }

    return {
      summary: `pggit ${formatBytes(p.current_bytes)} → ${formatBytes(p.projected_1_year_bytes)} in 12 months (${share12}%, confidence ${p.confidence}): ${problemCount(findings)}`,
      findings,
      data: numbers,
    };
  },
});
