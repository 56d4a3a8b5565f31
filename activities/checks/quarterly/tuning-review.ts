// Quarterly "performance tuning review": settings read against the workload's own evidence in
// the cumulative statistics (since their last reset), never against rules of thumb alone. Every
// finding names the setting, its value, the evidence and a suggestion.
import { z } from 'zod';
import { defineCheck, type Finding, type Severity } from '../define.ts';
import { formatBytes, problemCount } from '../shared.ts';

interface Tuning {
  code: string;
  severity: Severity;
  setting: string;
  current: string;
  evidence: Record<string, unknown>;
  observed: string;
  suggestion: string;
}

function finding(t: Tuning): Finding {
  return {
    code: t.code,
    severity: t.severity,
    message: `${t.setting} = ${t.current}: ${t.observed}; ${t.suggestion}`,
    details: { setting: t.setting, current: t.current, evidence: t.evidence, suggestion: t.suggestion },
  };
}

export const tuningReview = defineCheck({
  name: 'tuningReview',
  description: 'shared_buffers, work_mem, checkpoints, autovacuum and tracking settings against the statistics of the workload',
  kind: 'check',
  args: z
    .object({
      /** Below this share of block reads served from shared buffers, with enough reads to tell. */
      min_cache_hit_ratio: z.number().min(0).max(1).default(0.99),
      min_blocks_for_hit_ratio: z.number().int().min(0).default(100_000),
      /** Temporary file bytes written since the statistics reset that call for work_mem review. */
      temp_bytes_warning: z.number().int().min(1).default(1024 ** 3),
      /** Share of checkpoints that were requested (WAL filled up, or CHECKPOINT) rather than timed. */
      max_requested_checkpoint_share: z.number().min(0).max(1).default(0.2),
      min_checkpoints: z.number().int().min(1).default(10),
      /** Dead tuples this many times past a table's autovacuum trigger point mean autovacuum is behind. */
      dead_tuple_factor: z.number().min(1).default(2),
      min_dead_tuples: z.number().int().min(0).default(1000),
    })
    .strict(),
  async run(ctx, args) {
    const { rows: settingRows } = await ctx.db.query<{ name: string; value: string }>(`
      SELECT name, current_setting(name) AS value FROM pg_settings
       WHERE name IN ('shared_buffers', 'work_mem', 'max_wal_size', 'checkpoint_timeout', 'autovacuum', 'track_counts',
                      'autovacuum_vacuum_threshold', 'autovacuum_vacuum_scale_factor', 'autovacuum_max_workers',
                      'autovacuum_vacuum_cost_limit', 'track_functions', 'track_io_timing')`);
    const s = Object.fromEntries(settingRows.map((r) => [r.name, r.value]));
    const findings: Finding[] = [];

    // shared_buffers serves the whole cluster, so the evidence is the cluster's.
    const { rows: cacheRows } = await ctx.db.query<{ hit: string; read: string; shared_buffers_bytes: string; databases_bytes: string; temp_files: string; temp_bytes: string; stats_reset: string | null }>(`
      SELECT sum(d.blks_hit)::text AS hit, sum(d.blks_read)::text AS read,
             pg_size_bytes(current_setting('shared_buffers'))::text AS shared_buffers_bytes,
             (SELECT sum(pg_database_size(db.oid)) FROM pg_database db
               WHERE db.datallowconn AND has_database_privilege(db.oid, 'CONNECT'))::text AS databases_bytes,
             sum(d.temp_files)::text AS temp_files, sum(d.temp_bytes)::text AS temp_bytes,
             min(d.stats_reset)::text AS stats_reset
        FROM pg_stat_database d`);
    const c = cacheRows[0]!;
    const hit = Number(c.hit);
    const read = Number(c.read);
    const hitRatio = hit + read > 0 ? hit / (hit + read) : null;
    const sharedBuffersBytes = Number(c.shared_buffers_bytes);
    const databasesBytes = Number(c.databases_bytes);
    const cache = { blks_hit: hit, blks_read: read, hitRatio, sharedBuffersBytes, databasesBytes, statsSince: c.stats_reset ?? 'never reset' };
    if (hitRatio !== null && hit + read >= args.min_blocks_for_hit_ratio && hitRatio < args.min_cache_hit_ratio) {
      const smaller = sharedBuffersBytes < databasesBytes;
      findings.push(
        finding({
          code: 'cache_hit_ratio_low',
          severity: smaller ? 'warning' : 'info',
          setting: 'shared_buffers',
          current: s.shared_buffers!,
          evidence: cache,
          observed: `${(hitRatio * 100).toFixed(2)}% of ${hit + read} block reads were served from shared buffers (below ${args.min_cache_hit_ratio * 100}%); the databases take ${formatBytes(databasesBytes)}`,
          suggestion: smaller
            ? 'raise shared_buffers (commonly about 25% of RAM) if the machine has memory to spare, then compare the ratio next quarter'
            : 'shared_buffers already exceeds the data, so the misses are cold reads after a restart or bulk loads; no change suggested',
        }),
      );
    }

    const tempFiles = Number(c.temp_files);
    const tempBytes = Number(c.temp_bytes);
    if (tempFiles > 0) {
      const big = tempBytes >= args.temp_bytes_warning;
      findings.push(
        finding({
          code: 'temp_files',
          severity: big ? 'warning' : 'info',
          setting: 'work_mem',
          current: s.work_mem!,
          evidence: { temp_files: tempFiles, temp_bytes: tempBytes, averageFileBytes: Math.round(tempBytes / tempFiles), statsSince: cache.statsSince },
          observed: `queries spilled to ${tempFiles} temporary files, ${formatBytes(tempBytes)} in all (${formatBytes(Math.round(tempBytes / tempFiles))} on average)`,
          suggestion: big
            ? 'set log_temp_files to find the queries that spill, then raise work_mem for their role or session (not globally: it is per sort/hash node per connection)'
            : 'spills are small; no change suggested',
        }),
      );
    }

    const { rows: bgwriter } = await ctx.db.query<{ timed: string; requested: string; stats_reset: string | null }>(
      `SELECT checkpoints_timed::text AS timed, checkpoints_req::text AS requested, stats_reset::text FROM pg_stat_bgwriter`,
    );
    const timed = Number(bgwriter[0]!.timed);
    const requested = Number(bgwriter[0]!.requested);
    const checkpoints = { checkpoints_timed: timed, checkpoints_req: requested, checkpoint_timeout: s.checkpoint_timeout, statsSince: bgwriter[0]!.stats_reset ?? 'never reset' };
    if (requested >= args.min_checkpoints && requested / (timed + requested) > args.max_requested_checkpoint_share) {
      findings.push(
        finding({
          code: 'checkpoints_requested',
          severity: 'warning',
          setting: 'max_wal_size',
          current: s.max_wal_size!,
          evidence: checkpoints,
          observed: `${requested} of ${timed + requested} checkpoints were requested rather than timed (more than ${args.max_requested_checkpoint_share * 100}%): WAL fills max_wal_size before checkpoint_timeout (${s.checkpoint_timeout}) passes, or CHECKPOINT is run by hand`,
          suggestion: 'raise max_wal_size until checkpoints are mostly timed (fewer full-page writes and I/O spikes); rule out scripts issuing CHECKPOINT first',
        }),
      );
    }

    if (s.autovacuum !== 'on' || s.track_counts !== 'on') {
      const setting = s.autovacuum !== 'on' ? 'autovacuum' : 'track_counts';
      findings.push(
        finding({
          code: 'autovacuum_off',
          severity: 'warning',
          setting,
          current: s[setting]!,
          evidence: { autovacuum: s.autovacuum, track_counts: s.track_counts },
          observed: 'autovacuum is not running (it needs both autovacuum and track_counts on): dead tuples pile up and transaction ID wraparound is only prevented by emergency vacuums',
          suggestion: `turn ${setting} on`,
        }),
      );
    }

    // The trigger point is autovacuum's own formula (threshold + scale factor x reltuples), with
    // per-table storage parameters where set.
    const { rows: behind } = await ctx.db.query<{ table: string; n_dead_tup: string; n_live_tup: string; trigger_at: string; table_autovacuum_enabled: boolean; last_autovacuum: string | null; last_vacuum: string | null }>(
      `
      WITH t AS (
          SELECT format('%I.%I', st.schemaname, st.relname) AS "table", st.n_dead_tup, st.n_live_tup,
                 st.last_autovacuum::text AS last_autovacuum, st.last_vacuum::text AS last_vacuum,
                 coalesce((SELECT split_part(o, '=', 2) FROM unnest(c.reloptions) o WHERE o LIKE 'autovacuum_enabled=%')::boolean, true) AS table_autovacuum_enabled,
                 coalesce((SELECT split_part(o, '=', 2) FROM unnest(c.reloptions) o WHERE o LIKE 'autovacuum_vacuum_threshold=%')::numeric,
                          current_setting('autovacuum_vacuum_threshold')::numeric)
                 + coalesce((SELECT split_part(o, '=', 2) FROM unnest(c.reloptions) o WHERE o LIKE 'autovacuum_vacuum_scale_factor=%')::numeric,
                            current_setting('autovacuum_vacuum_scale_factor')::numeric) * greatest(c.reltuples, 0) AS trigger_at
            FROM pg_stat_user_tables st JOIN pg_class c ON c.oid = st.relid
      )
      SELECT t."table", t.n_dead_tup::text, t.n_live_tup::text, t.table_autovacuum_enabled, t.last_autovacuum, t.last_vacuum,
             round(t.trigger_at)::text AS trigger_at
        FROM t
       WHERE t.n_dead_tup >= $1 AND t.n_dead_tup > $2 * t.trigger_at
       ORDER BY t.n_dead_tup DESC, 1`,
      [args.min_dead_tuples, args.dead_tuple_factor],
    );
    if (behind.length > 0) {
      const disabled = behind.filter((b) => !b.table_autovacuum_enabled).map((b) => b.table);
      findings.push(
        finding({
          code: 'autovacuum_behind',
          severity: 'warning',
          setting: 'autovacuum_vacuum_scale_factor',
          current: s.autovacuum_vacuum_scale_factor!,
          evidence: { tables: behind, autovacuum_vacuum_threshold: s.autovacuum_vacuum_threshold, autovacuum_max_workers: s.autovacuum_max_workers, autovacuum_vacuum_cost_limit: s.autovacuum_vacuum_cost_limit },
          observed: `${behind.length} table(s) hold over ${args.dead_tuple_factor}x the dead tuples that should have triggered autovacuum: ${behind
            .slice(0, 5)
            .map((b) => `${b.table} (${b.n_dead_tup} dead, trigger ${b.trigger_at})`)
            .join(', ')}${disabled.length ? `; autovacuum is disabled by storage parameter on ${disabled.join(', ')}` : ''}`,
          suggestion: `${disabled.length ? 're-enable autovacuum on those tables; ' : ''}for big tables set a lower autovacuum_vacuum_scale_factor per table, raise autovacuum_vacuum_cost_limit or autovacuum_max_workers if workers are busy, and look for long-open transactions holding cleanup back`,
        }),
      );
    }

    for (const [setting, off, why] of [
      ['track_functions', 'none', 'pggit.function_performance and the performance alerts cannot measure functions'],
      ['track_io_timing', 'off', 'statistics and EXPLAIN (BUFFERS) cannot tell I/O time from CPU time'],
    ] as const) {
      if (s[setting] === off) {
        findings.push(
          finding({
            code: `${setting}_off`,
            severity: 'info',
            setting,
            current: s[setting],
            evidence: {},
            observed: why,
            suggestion: setting === 'track_functions' ? "set track_functions = 'pl' (superuser; little overhead)" : 'set track_io_timing = on after checking the clock is cheap (pg_test_timing)',
          }),
        );
      }
    }

    return {
      summary: `${problemCount(findings)}; cache hit ratio ${hitRatio === null ? 'n/a' : `${(hitRatio * 100).toFixed(2)}%`}, ${tempFiles} temp files, ${requested}/${timed + requested} checkpoints requested, ${behind.length} table(s) behind on vacuum`,
      findings,
      data: { settings: s, cache, tempFiles: { temp_files: tempFiles, temp_bytes: tempBytes }, checkpoints, autovacuumBehind: behind },
    };
  },
});
