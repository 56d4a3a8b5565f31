// Weekly: "Analyze performance trends". PostgreSQL's statistics are cumulative since the last
// reset, so a trend needs two points: this step snapshots pg_stat_user_functions and
// pg_stat_user_tables into the ledger and compares with the previous snapshot of the target.
// A function's time per call in the interval (total_time / calls of the difference; there is no
// mean_time column) is compared with its mean before; tables are judged on their dead tuples now.
import { z } from 'zod';
import { defineCheck, type Finding } from '../define.ts';
import { capped, previousSnapshot, problemCount, round, saveSnapshot, type Metrics } from '../shared.ts';

const args = z
  .object({
    /** A function whose time per call rose by more than this percentage is reported. */
    regression_percent: z.number().positive().default(50),
    /** Calls needed, both before and in the interval, for a mean to be compared at all. */
    min_calls: z.number().int().positive().default(10),
    /** Interval means below this many milliseconds are never reported (doubling 0.01 ms is noise). */
    min_mean_ms: z.number().nonnegative().default(1),
    /** A table with more than this share of dead tuples is reported as bloated... */
    dead_ratio: z.number().gt(0).lt(1).default(0.2),
    /** ...when it has at least this many dead tuples. */
    min_dead_tuples: z.number().int().nonnegative().default(1000),
    /** Tables listed in the step's data by sequential scans in the interval. */
    max_listed: z.number().int().positive().default(20),
  })
  .strict();

interface FunctionStats {
  name: string;
  calls: number;
  total_time: number;
  self_time: number;
}

interface TableStats {
  name: string;
  seq_scan: number;
  idx_scan: number | null;
  n_live_tup: number;
  n_dead_tup: number;
  last_vacuum: Date | null;
  last_autovacuum: Date | null;
  autovacuum_enabled: boolean;
}

const num = (m: Metrics | undefined, key: string): number | undefined => (m && typeof m[key] === 'number' ? (m[key] as number) : undefined);

export const performanceTrends = defineCheck({
  name: 'performanceTrends',
  description: 'Function and table statistics against the previous snapshot: slower functions, bloated tables',
  kind: 'check',
  args,
  async run(ctx, a) {
    const trackFunctions = (await ctx.db.query<{ setting: string }>(`SELECT current_setting('track_functions') AS setting`)).rows[0]!.setting;
    const functions = (
      await ctx.db.query<FunctionStats>(
        `SELECT pggit.function_identity(f.funcid) AS name, f.calls::float8 AS calls, f.total_time::float8 AS total_time, f.self_time::float8 AS self_time
           FROM pg_stat_user_functions f
          WHERE f.schemaname NOT IN ('pg_catalog', 'information_schema')`,
      )
    ).rows;
    const tables = (
      await ctx.db.query<TableStats>(
        `SELECT format('%I.%I', s.schemaname, s.relname) AS name,
                s.seq_scan::float8 AS seq_scan, s.idx_scan::float8 AS idx_scan,
                s.n_live_tup::float8 AS n_live_tup, s.n_dead_tup::float8 AS n_dead_tup,
                s.last_vacuum, s.last_autovacuum,
                coalesce((SELECT o.option_value::boolean FROM pg_options_to_table(c.reloptions) o
                           WHERE o.option_name = 'autovacuum_enabled'), true) AS autovacuum_enabled
           FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid`,
      )
    ).rows;

    const previousFunctions = await previousSnapshot(ctx, 'function');
    const previousTables = await previousSnapshot(ctx, 'table');
    const takenAt = await saveSnapshot(
      ctx,
      'function',
      functions.map(({ name, ...metrics }) => ({ name, metrics })),
    );
    await saveSnapshot(
      ctx,
      'table',
      tables.map(({ name, seq_scan, idx_scan, n_live_tup, n_dead_tup }) => ({ name, metrics: { seq_scan, idx_scan, n_live_tup, n_dead_tup } })),
    );

    const findings: Finding[] = [];
    if (trackFunctions === 'none') {
      findings.push({
        code: 'track_functions_off',
        severity: 'info',
        message:
          "track_functions is none: PostgreSQL does not time functions, so function regressions cannot be seen; a superuser can run ALTER DATABASE ... SET track_functions = 'pl'",
        details: { track_functions: trackFunctions, functions_with_old_statistics: functions.length },
      });
    }
    if (!previousFunctions && !previousTables) {
      findings.push({
        code: 'baseline_taken',
        severity: 'info',
        message: `baseline taken: ${functions.length} functions and ${tables.length} tables; trends are measured from the next run`,
        details: { functions: functions.length, tables: tables.length, taken_at: takenAt.toISOString() },
      });
    }

    const reset: string[] = [];
    if (previousFunctions) {
      const hours = round((takenAt.getTime() - previousFunctions.takenAt.getTime()) / 3_600_000, 2);
      for (const f of functions) {
        const before = previousFunctions.rows.get(f.name);
        const callsBefore = num(before, 'calls');
        const timeBefore = num(before, 'total_time');
        if (callsBefore === undefined || timeBefore === undefined) continue;
        const calls = f.calls - callsBefore;
        if (calls < 0) {
          reset.push(f.name);
          continue;
        }
        if (calls < a.min_calls || callsBefore < a.min_calls) continue;
        const meanBefore = timeBefore / callsBefore;
        const meanNow = (f.total_time - timeBefore) / calls;
        // A mean of 0 before (too fast to measure) makes any measurable time a regression.
        const increase = meanBefore > 0 ? round((100 * (meanNow - meanBefore)) / meanBefore, 1) : null;
        if (meanNow >= a.min_mean_ms && (increase === null || increase > a.regression_percent)) {
          findings.push({
            code: 'function_regression',
            severity: 'warning',
            message: `${f.name} took ${round(meanNow, 3)} ms per call over ${calls} calls in the last ${hours} h, up ${increase === null ? '' : `${increase}% `}from ${round(meanBefore, 3)} ms`,
            details: {
              function: f.name,
              mean_before_ms: round(meanBefore, 3),
              mean_interval_ms: round(meanNow, 3),
              increase_percent: increase,
              calls_before: callsBefore,
              calls_interval: calls,
              interval_hours: hours,
              regression_percent: a.regression_percent,
              previous_run: previousFunctions.runId,
            },
          });
        }
      }
    }
    if (reset.length > 0) {
      findings.push({
        code: 'function_stats_reset',
        severity: 'info',
        message: `Statistics of ${reset.length} functions were reset since the previous snapshot; they are compared again from the next run`,
        details: capped(reset, a.max_listed),
      });
    }

    for (const t of tables) {
      const ratio = t.n_dead_tup / (t.n_live_tup + t.n_dead_tup || 1);
      if (ratio <= a.dead_ratio || t.n_dead_tup < a.min_dead_tuples) continue;
      findings.push({
        code: 'table_bloat',
        severity: 'warning',
        message:
          `${t.name} has ${t.n_dead_tup} dead tuples (${round(100 * ratio, 1)}% of its rows, above ${round(100 * a.dead_ratio, 1)}%)` +
          (t.autovacuum_enabled ? '' : '; autovacuum is disabled on it'),
        details: {
          table: t.name,
          n_live_tup: t.n_live_tup,
          n_dead_tup: t.n_dead_tup,
          dead_ratio: round(ratio, 4),
          autovacuum_enabled: t.autovacuum_enabled,
          last_vacuum: t.last_vacuum?.toISOString() ?? null,
          last_autovacuum: t.last_autovacuum?.toISOString() ?? null,
          command: `VACUUM (ANALYZE) ${t.name}`,
        },
      });
    }

    // Where sequential scans happened since the previous snapshot, for the weekly report.
    const scans = previousTables
      ? tables
          .map((t) => {
            const before = previousTables.rows.get(t.name);
            return {
              table: t.name,
              seq_scan: t.seq_scan - (num(before, 'seq_scan') ?? 0),
              idx_scan: t.idx_scan === null ? null : t.idx_scan - (num(before, 'idx_scan') ?? 0),
            };
          })
          .filter((t) => t.seq_scan > 0)
          .sort((x, y) => y.seq_scan - x.seq_scan)
          .slice(0, a.max_listed)
      : [];

    return {
      summary: `${functions.length} functions, ${tables.length} tables${previousFunctions || previousTables ? '' : ' (baseline)'}: ${problemCount(findings)}`,
      findings,
      data: {
        taken_at: takenAt.toISOString(),
        track_functions: trackFunctions,
        previous_run: previousFunctions?.runId ?? previousTables?.runId ?? null,
        functions: functions.length,
        tables: tables.length,
        seq_scans_in_interval: scans,
      },
    };
  },
});
