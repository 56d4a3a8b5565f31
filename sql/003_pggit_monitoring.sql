-- pggit monitoring: the Operations Guide's dashboard, alert and capacity queries, corrected against
-- the PostgreSQL 15 catalogs (docs/guide-corrections.md lists every correction and why).
--
-- Conventions:
--  * Sizes are summed over pg_class OIDs, never over schemaname||'.'||tablename, which breaks on
--    names that need quoting (dots, quotes, spaces, upper case).
--  * "pggit's event triggers" are those whose function lives in schema pggit or whose name starts
--    with pggit; pggit tracks DDL with event triggers (pg_event_trigger), not table triggers.
--  * Function statistics (pg_stat_user_functions) only exist while track_functions is 'pl' or
--    'all'; every place that reads them says so when it is 'none' instead of showing silence.
--  * Every function fixes its search_path (pg_catalog first) so that objects a caller creates in
--    another schema cannot stand in for the catalog or for pggit's tables.

-- configure_monitoring(alert_threshold_ms => 1000, batch_size => 100, cleanup_interval_hours => 24)
-- The guide writes 'alert_threshold_ms' => 1000, which PostgreSQL rejects (named notation takes an
-- identifier, not a string). NULL keeps a setting as it is. Returns the whole resulting settings row.
CREATE FUNCTION pggit.configure_monitoring(alert_threshold_ms numeric DEFAULT NULL, batch_size integer DEFAULT NULL,
                                           cleanup_interval_hours integer DEFAULT NULL, retention_days integer DEFAULT NULL,
                                           storage_alert_percent numeric DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pggit AS $$
DECLARE
    s pggit.settings%ROWTYPE;
BEGIN
    -- numeric accepts NaN and Infinity, and NaN compares greater than every number: test explicitly.
    IF alert_threshold_ms IS NOT NULL AND (alert_threshold_ms IN ('NaN', 'Infinity') OR alert_threshold_ms <= 0) THEN
        RAISE EXCEPTION 'configure_monitoring: alert_threshold_ms must be a number of milliseconds above 0, got %', alert_threshold_ms
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Each cleanup batch is one transaction holding row locks on what it deletes; beyond 100000 rows
    -- a batch is the long transaction batching exists to avoid.
    IF batch_size IS NOT NULL AND batch_size NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'configure_monitoring: batch_size must be between 1 and 100000 rows, got %', batch_size
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cleanup_interval_hours IS NOT NULL AND cleanup_interval_hours NOT BETWEEN 1 AND 8760 THEN
        RAISE EXCEPTION 'configure_monitoring: cleanup_interval_hours must be between 1 and 8760 (one year), got %', cleanup_interval_hours
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF retention_days IS NOT NULL AND retention_days < 1 THEN
        RAISE EXCEPTION 'configure_monitoring: retention_days must be at least 1, got %', retention_days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF storage_alert_percent IS NOT NULL
       AND (storage_alert_percent IN ('NaN', 'Infinity') OR storage_alert_percent <= 0 OR storage_alert_percent > 100) THEN
        RAISE EXCEPTION 'configure_monitoring: storage_alert_percent must be above 0 and at most 100, got %', storage_alert_percent
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- The row is created by 001; recreate it if someone deleted it rather than update nothing.
    INSERT INTO pggit.settings DEFAULT VALUES ON CONFLICT (singleton) DO NOTHING;
    UPDATE pggit.settings SET
        alert_threshold_ms = coalesce(configure_monitoring.alert_threshold_ms, settings.alert_threshold_ms),
        batch_size = coalesce(configure_monitoring.batch_size, settings.batch_size),
        cleanup_interval_hours = coalesce(configure_monitoring.cleanup_interval_hours, settings.cleanup_interval_hours),
        retention_days = coalesce(configure_monitoring.retention_days, settings.retention_days),
        storage_alert_percent = coalesce(configure_monitoring.storage_alert_percent, settings.storage_alert_percent),
        updated_at = now()
    RETURNING * INTO s;
    RETURN to_jsonb(s) - 'singleton';
END
$$;

-- Bytes used by pggit's tables, their indexes and TOAST, summed by OID so no name is ever parsed.
CREATE FUNCTION pggit.storage_bytes() RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pggit AS $$
    SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'pggit' AND c.relkind IN ('r', 'p', 'm')
$$;

-- 'schema.name(argument types)', always schema-qualified and quoted (regprocedure output drops the
-- schema when it is on the caller's search_path, which would make reports depend on who reads them).
CREATE FUNCTION pggit.function_identity(fn oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pggit AS $$
    SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE p.oid = fn
$$;

-- The guide's "pggit health dashboard". Its version fails outright: ROUND(double precision, 2) does
-- not exist (it cast to FLOAT first), and its size sum parsed schemaname||'.'||tablename.
CREATE VIEW pggit.health_metrics AS
WITH sizes AS (
    SELECT pggit.storage_bytes() AS pggit_bytes, pg_database_size(current_database()) AS database_bytes
)
SELECT 'Objects Tracked'::text AS metric, (SELECT count(*) FROM pggit.objects)::text AS value
UNION ALL
SELECT 'Active Objects', (SELECT count(*) FROM pggit.objects WHERE is_active)::text
UNION ALL
SELECT 'History Records', (SELECT count(*) FROM pggit.history)::text
UNION ALL
SELECT 'Storage Overhead %', round(100.0 * pggit_bytes / nullif(database_bytes, 0), 2)::text FROM sizes
UNION ALL
SELECT 'pggit Storage', pg_size_pretty(pggit_bytes) FROM sizes;

-- pggit's event triggers as PostgreSQL has them, with the time their functions take when
-- track_functions counts them ('pl' or 'all'; event trigger functions are PL/pgSQL).
CREATE VIEW pggit.event_trigger_overhead AS
SELECT e.evtname AS name,
       e.evtevent AS event,
       e.evtenabled <> 'D' AS enabled,
       CASE e.evtenabled WHEN 'O' THEN 'origin and local' WHEN 'R' THEN 'replica' WHEN 'A' THEN 'always' ELSE 'disabled' END AS fires_in,
       pggit.function_identity(e.evtfoid) AS function,
       e.evttags AS tags,
       f.calls,
       f.total_time,
       round((f.total_time / nullif(f.calls, 0))::numeric, 3) AS mean_time,
       count(*) OVER () AS trigger_count,
       count(*) FILTER (WHERE e.evtenabled <> 'D') OVER () AS enabled_count
  FROM pg_event_trigger e
  JOIN pg_proc p ON p.oid = e.evtfoid
  JOIN pg_namespace n ON n.oid = p.pronamespace
  LEFT JOIN pg_stat_user_functions f ON f.funcid = e.evtfoid
 WHERE n.nspname = 'pggit' OR e.evtname LIKE 'pggit%'
 ORDER BY e.evtname;

-- Function timings. pg_stat_user_functions has total_time and self_time (milliseconds) but no
-- mean_time: it is computed. With track_functions = 'none' nothing is counted, so a notice row says
-- so (and the notice column marks any rows left from when it was on as stale).
CREATE VIEW pggit.function_performance AS
SELECT f.funcid,
       pggit.function_identity(f.funcid) AS function,
       f.funcname,
       f.calls,
       f.total_time,
       f.self_time,
       round((f.total_time / nullif(f.calls, 0))::numeric, 3) AS mean_time,
       CASE WHEN current_setting('track_functions') = 'none'
            THEN 'track_functions is none: these counts are from before it was turned off' END AS notice
  FROM pg_stat_user_functions f
 WHERE f.schemaname = 'pggit'
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       'track_functions is none: PostgreSQL is not timing functions, so no pggit function appears here; '
       || 'a superuser can run ALTER DATABASE ' || quote_ident(current_database()) || ' SET track_functions = ''pl'''
 WHERE current_setting('track_functions') = 'none'
ORDER BY total_time DESC NULLS LAST;

-- The guide's index usage query: pg_stat_user_indexes names the table relname and the index
-- indexrelname (it has no tablename or indexname columns).
CREATE VIEW pggit.index_usage AS
SELECT s.schemaname,
       s.relname,
       s.indexrelname,
       s.idx_scan,
       s.idx_tup_read,
       s.idx_tup_fetch,
       pg_size_pretty(pg_relation_size(s.indexrelid)) AS size,
       pg_relation_size(s.indexrelid) AS size_bytes
  FROM pg_stat_user_indexes s
 WHERE s.schemaname = 'pggit'
 ORDER BY s.idx_scan DESC, s.indexrelname;

-- The guide's "missing statistics" query: pg_stat_user_tables names the table relname.
CREATE VIEW pggit.table_statistics AS
SELECT s.schemaname,
       s.relname,
       s.n_live_tup,
       s.n_dead_tup,
       round(s.n_dead_tup::numeric / nullif(s.n_live_tup + s.n_dead_tup, 0), 4) AS dead_ratio,
       s.n_mod_since_analyze,
       s.last_analyze,
       s.last_autoanalyze,
       s.last_vacuum,
       s.last_autovacuum
  FROM pg_stat_user_tables s
 WHERE s.schemaname = 'pggit'
 ORDER BY s.relname;

-- Daily changes over the last 30 calendar days (today included, so today is a partial day). The
-- guide grouped history by day, which leaves out days without a change and so overstates the
-- average and understates the variability; here every day of the window counts, empty ones as 0.
CREATE VIEW pggit.growth_trend AS
WITH window_days AS (
    SELECT day
      FROM generate_series(date_trunc('day', now()) - interval '29 days', date_trunc('day', now()), interval '1 day') AS day
), per_day AS (
    SELECT date_trunc('day', h.change_timestamp) AS day, count(*) AS changes
      FROM pggit.history h
     WHERE h.change_timestamp >= date_trunc('day', now()) - interval '29 days'
     GROUP BY 1
), filled AS (
    SELECT d.day, coalesce(p.changes, 0) AS changes
      FROM window_days d LEFT JOIN per_day p USING (day)
)
SELECT min(day) AS window_start,
       count(*) AS days,
       count(*) FILTER (WHERE changes > 0) AS active_days,
       sum(changes)::bigint AS total_changes,
       round(avg(changes), 2) AS avg_daily_changes,
       max(changes) AS peak_daily_changes,
       round(stddev_samp(changes), 2) AS change_variability
  FROM filled;

-- Size samples for the storage projection. pggit.snapshot_storage() adds one (the daily checklist
-- calls it); the projection fits a line through them.
CREATE TABLE pggit.storage_snapshots (
    taken_at     timestamptz PRIMARY KEY DEFAULT now(),
    total_bytes  bigint NOT NULL CHECK (total_bytes >= 0),
    history_rows bigint NOT NULL CHECK (history_rows >= 0)
);

CREATE FUNCTION pggit.snapshot_storage() RETURNS pggit.storage_snapshots
LANGUAGE sql SET search_path = pg_catalog, pggit AS $$
    -- Two calls in one transaction share now(): the later measurement wins.
    INSERT INTO pggit.storage_snapshots (taken_at, total_bytes, history_rows)
    VALUES (now(), pggit.storage_bytes(), (SELECT count(*) FROM pggit.history))
    ON CONFLICT (taken_at) DO UPDATE SET total_bytes = excluded.total_bytes, history_rows = excluded.history_rows
    RETURNING *
$$;

-- Storage in 6 and 12 months, from the growth actually observed (the guide multiplied today's size
-- by a fixed 2 and 4). With at least 3 snapshots over the last 180 days: a least-squares line
-- through them (bytes per day = regr_slope), confidence from their number and the fit's r².
-- With fewer: history rows per day (BASELINE rows excluded: they are a one-off at install) times
-- the bytes one history row takes today, indexes included, and confidence 'low'. Projections start
-- from the size measured now; a shrinking trend is projected flat, not as a shrink.
CREATE VIEW pggit.storage_projection AS
WITH current_size AS (
    SELECT pggit.storage_bytes() AS bytes
), fit AS (
    SELECT count(*) AS snapshots,
           regr_slope(s.total_bytes::float8, extract(epoch FROM s.taken_at) / 86400) AS slope,
           regr_r2(s.total_bytes::float8, extract(epoch FROM s.taken_at) / 86400) AS r2
      FROM pggit.storage_snapshots s
     WHERE s.taken_at > now() - interval '180 days'
), history_growth AS (
    SELECT (SELECT count(*) FROM pggit.history h
             WHERE h.change_timestamp > now() - interval '30 days' AND h.change_type <> 'BASELINE') AS recent_rows,
           -- Days observed: since the first history row, capped at the 30-day window, at least one.
           greatest(1, least(30, extract(epoch FROM now() - (SELECT min(h.change_timestamp) FROM pggit.history h)) / 86400)) AS days,
           pg_total_relation_size('pggit.history'::regclass)::numeric
             / nullif((SELECT count(*) FROM pggit.history), 0) AS bytes_per_row
), rate AS (
    SELECT f.snapshots,
           round(f.r2::numeric, 4) AS r2,
           f.snapshots >= 3 AND f.slope IS NOT NULL AS fitted,
           CASE WHEN f.snapshots >= 3 AND f.slope IS NOT NULL THEN f.slope::numeric
                ELSE coalesce(g.recent_rows / g.days * g.bytes_per_row, 0) END AS bytes_per_day,
           g.recent_rows / g.days AS rows_per_day,
           g.bytes_per_row
      FROM fit f, history_growth g
)
SELECT c.bytes AS current_bytes,
       pg_size_pretty(c.bytes) AS current_size,
       (c.bytes + greatest(r.bytes_per_day, 0) * 182.5)::bigint AS projected_6_months_bytes,
       pg_size_pretty((c.bytes + greatest(r.bytes_per_day, 0) * 182.5)::bigint) AS projected_6_months,
       (c.bytes + greatest(r.bytes_per_day, 0) * 365)::bigint AS projected_1_year_bytes,
       pg_size_pretty((c.bytes + greatest(r.bytes_per_day, 0) * 365)::bigint) AS projected_1_year,
       round(r.bytes_per_day, 1) AS growth_bytes_per_day,
       r.snapshots,
       r.r2,
       CASE WHEN NOT r.fitted THEN 'low'
            WHEN r.snapshots >= 14 AND r.r2 >= 0.9 THEN 'high'
            WHEN r.snapshots >= 7 AND r.r2 >= 0.7 THEN 'medium'
            ELSE 'low' END AS confidence,
       CASE
           WHEN r.fitted THEN
               format('least-squares line through %s storage snapshots of the last 180 days: %s bytes/day (r² %s)',
                      r.snapshots, round(r.bytes_per_day, 1), coalesce(r.r2::text, 'n/a'))
               || CASE WHEN r.bytes_per_day < 0 THEN '; storage shrank over the period, projected flat' ELSE '' END
           WHEN r.bytes_per_row IS NULL THEN
               format('too few snapshots (%s of the 3 needed; pggit.snapshot_storage() adds one) and no history rows yet: '
                      || 'no growth observed, projected flat', r.snapshots)
           ELSE
               format('too few snapshots (%s of the 3 needed; pggit.snapshot_storage() adds one): estimated from history '
                      || 'growth instead, %s rows/day over the last 30 days × %s bytes per history row',
                      r.snapshots, round(r.rows_per_day, 1), round(r.bytes_per_row))
       END AS basis
  FROM current_size c, rate r;

-- The guide's scaling bottlenecks, on real load figures. Its "Event Triggers" row counted
-- pg_trigger rows (table triggers, which pggit does not use) against thresholds of 500 and 1000;
-- pggit has a handful of event triggers, so their number is a presence check and the load they put
-- on DDL is their time per call, plus the DDL rate itself.
CREATE VIEW pggit.scaling_bottlenecks AS
WITH settings AS (
    SELECT coalesce(max(s.alert_threshold_ms), 1000) AS threshold_ms,
           coalesce(max(s.retention_days), 90) AS retention_days,
           coalesce(max(s.storage_alert_percent), 10) AS storage_alert_percent
      FROM pggit.settings s
), triggers AS (
    SELECT count(*) FILTER (WHERE t.enabled) AS enabled,
           sum(t.total_time) / nullif(sum(t.calls), 0) AS mean_ms
      FROM pggit.event_trigger_overhead t
), dead AS (
    SELECT coalesce(sum(s.n_dead_tup), 0) AS dead, coalesce(sum(s.n_live_tup), 0) AS live
      FROM pg_stat_user_tables s WHERE s.schemaname = 'pggit'
), history AS (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE h.change_timestamp > now() - interval '24 hours') AS last_24h,
           count(*) FILTER (WHERE h.change_timestamp < now() - make_interval(days => (SELECT retention_days FROM settings))) AS expired
      FROM pggit.history h
)
SELECT 'Event Triggers'::text AS component,
       t.enabled::numeric AS current_load,
       CASE WHEN t.enabled = 0 THEN 'No enabled pggit event trigger: DDL is not being recorded (see pggit.enterprise_health_check())'
            ELSE 'OK' END AS recommendation
  FROM triggers t
UNION ALL
SELECT 'Event Trigger Mean Time (ms)',
       round(t.mean_ms::numeric, 3),
       CASE WHEN current_setting('track_functions') = 'none' THEN 'Unknown: track_functions is none, so event trigger time is not measured'
            WHEN t.mean_ms IS NULL THEN 'OK (no timed DDL yet)'
            WHEN t.mean_ms > s.threshold_ms THEN 'Consider selective tracking: pggit.configure_tracking(schemas => ARRAY[...])'
            WHEN t.mean_ms > s.threshold_ms / 2 THEN 'Monitor performance'
            ELSE 'OK' END
  FROM triggers t, settings s
UNION ALL
-- The guide's two-level thresholds: the DDL rate (its 500 / 1000, meant for trigger load) and the
-- history size (its 50 000 / 100 000 rows).
SELECT v.component,
       v.load,
       CASE WHEN v.load > v.high THEN v.high_advice WHEN v.load > v.low THEN v.low_advice ELSE 'OK' END
  FROM history h,
       LATERAL (VALUES ('DDL Changes (24h)', h.last_24h, 1000, 'Consider selective tracking: pggit.configure_tracking(schemas => ARRAY[...])',
                        500, 'Monitor performance'),
                       ('History Table', h.total, 100000, 'Implement partitioning', 50000, 'Schedule regular cleanup'))
           AS v(component, load, high, high_advice, low, low_advice)
UNION ALL
SELECT 'History Beyond Retention',
       h.expired,
       CASE WHEN h.expired > 0 THEN format('CALL pggit.cleanup_history() (retention %s days)', s.retention_days)
            ELSE 'OK' END
  FROM history h, settings s
UNION ALL
SELECT 'Dead Tuples (pggit tables)',
       d.dead,
       CASE WHEN d.dead > 1000 AND d.dead > 0.2 * d.live THEN 'VACUUM (ANALYZE) the pggit tables: see pggit.maintenance_recommendations()'
            ELSE 'OK' END
  FROM dead d
UNION ALL
SELECT 'Storage Overhead %',
       round(100.0 * pggit.storage_bytes() / nullif(pg_database_size(current_database()), 0), 2),
       CASE WHEN 100.0 * pggit.storage_bytes() / nullif(pg_database_size(current_database()), 0) > s.storage_alert_percent
            THEN format('Above storage_alert_percent (%s%%): clean history, review retention_days', s.storage_alert_percent)
            ELSE 'OK' END
  FROM settings s;

-- The guide's alert function, corrected: mean = total_time / calls (there is no mean_time column),
-- thresholds from pggit.settings (CRITICAL above alert_threshold_ms, WARNING above half, INFO above
-- a tenth, the guide's 1000/500/100 ratios), storage WARNING above storage_alert_percent, and an INFO
-- row when track_functions = 'none' makes function alerts impossible. TRACKING alerts: no enabled
-- event trigger (nothing is recorded), disabled ones, and tracking errors of the last 24 hours.
CREATE FUNCTION pggit.check_performance_alerts()
RETURNS TABLE(alert_type text, message text, severity text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pggit AS $$
DECLARE
    threshold numeric;
    storage_limit numeric;
    pggit_bytes bigint := pggit.storage_bytes();
    database_bytes bigint := pg_database_size(current_database());
    pct numeric;
    enabled_triggers bigint;
    disabled_triggers text;
    error_count bigint;
    latest_error text;
BEGIN
    SELECT coalesce(max(s.alert_threshold_ms), 1000), coalesce(max(s.storage_alert_percent), 10)
      INTO threshold, storage_limit FROM pggit.settings s;

    IF current_setting('track_functions') = 'none' THEN
        RETURN QUERY SELECT 'PERFORMANCE'::text,
            'track_functions is none: PostgreSQL does not time functions, so no function alert can fire; '
            || 'a superuser can run ALTER DATABASE ' || quote_ident(current_database()) || ' SET track_functions = ''pl''',
            'INFO'::text;
    END IF;

    RETURN QUERY
    SELECT 'PERFORMANCE'::text,
           format('Function %s averaging %s ms over %s calls (alert threshold %s ms)',
                  pggit.function_identity(f.funcid), round(f.mean_ms::numeric, 2), f.calls, threshold),
           CASE WHEN f.mean_ms > threshold THEN 'CRITICAL'
                WHEN f.mean_ms > threshold / 2 THEN 'WARNING'
                ELSE 'INFO' END
      FROM (SELECT u.funcid, u.calls, u.total_time / u.calls AS mean_ms
              FROM pg_stat_user_functions u
             WHERE u.schemaname = 'pggit' AND u.calls > 0) f
     WHERE f.mean_ms > threshold / 10
     ORDER BY f.mean_ms DESC;

    pct := round(100.0 * pggit_bytes / nullif(database_bytes, 0), 2);
    RETURN QUERY SELECT 'STORAGE'::text,
        format('pggit using %s%% of database (%s of %s)', pct, pg_size_pretty(pggit_bytes), pg_size_pretty(database_bytes)),
        CASE WHEN pct > storage_limit THEN 'WARNING' ELSE 'INFO' END;

    SELECT count(*) FILTER (WHERE t.enabled), string_agg(t.name, ', ' ORDER BY t.name) FILTER (WHERE NOT t.enabled)
      INTO enabled_triggers, disabled_triggers FROM pggit.event_trigger_overhead t;
    IF enabled_triggers = 0 THEN
        RETURN QUERY SELECT 'TRACKING'::text, 'No enabled pggit event trigger: DDL changes are not being recorded'::text, 'CRITICAL'::text;
    END IF;
    IF disabled_triggers IS NOT NULL THEN
        RETURN QUERY SELECT 'TRACKING'::text, format('Disabled pggit event triggers: %s', disabled_triggers), 'WARNING'::text;
    END IF;

    SELECT count(*), (array_agg(e.message ORDER BY e.occurred_at DESC))[1]
      INTO error_count, latest_error
      FROM pggit.tracking_errors e WHERE e.occurred_at > now() - interval '24 hours';
    IF error_count > 0 THEN
        RETURN QUERY SELECT 'TRACKING'::text,
            format('%s tracking errors in the last 24 hours (see pggit.tracking_errors); latest: %s', error_count, pggit.redact_secrets(latest_error)),
            'WARNING'::text;
    END IF;
END
$$;

-- Grafana endpoint. "timestamp" is timestamp without time zone as in the guide, in UTC (Grafana
-- reads such values as UTC). The guide's version could not be created or run: an unquoted column
-- named timestamp in RETURNS TABLE is a syntax error; quoted, RETURN QUERY of now() (timestamptz)
-- into a timestamp column fails; and its size sum broke on names needing quotes.
CREATE FUNCTION pggit.metrics_for_grafana()
RETURNS TABLE(metric_name text, metric_value numeric, "timestamp" timestamp)
LANGUAGE sql STABLE SET search_path = pg_catalog, pggit AS $$
    SELECT m.name, m.value, (now() AT TIME ZONE 'UTC')::timestamp
      FROM (VALUES
        ('pggit_objects_tracked', (SELECT count(*) FROM pggit.objects)::numeric),
        ('pggit_objects_active', (SELECT count(*) FROM pggit.objects o WHERE o.is_active)::numeric),
        ('pggit_history_records', (SELECT count(*) FROM pggit.history)::numeric),
        ('pggit_storage_mb', round(pggit.storage_bytes() / 1048576.0, 2)),
        ('pggit_storage_bytes', pggit.storage_bytes()::numeric),
        ('pggit_storage_percent', round(100.0 * pggit.storage_bytes() / nullif(pg_database_size(current_database()), 0), 2)),
        ('pggit_history_records_24h', (SELECT count(*) FROM pggit.history h WHERE h.change_timestamp > now() - interval '24 hours')::numeric),
        ('pggit_tracking_errors_24h', (SELECT count(*) FROM pggit.tracking_errors e WHERE e.occurred_at > now() - interval '24 hours')::numeric),
        ('pggit_event_triggers_enabled', (SELECT count(*) FROM pggit.event_trigger_overhead t WHERE t.enabled)::numeric),
        ('pggit_dead_tuples', (SELECT coalesce(sum(s.n_dead_tup), 0) FROM pg_stat_user_tables s WHERE s.schemaname = 'pggit')::numeric)
      ) AS m(name, value)
$$;

-- Masks what looks like a credential in free text (error messages): URL user-info and the value
-- after password/secret/token-like keys. Defence in depth for the support bundle.
CREATE FUNCTION pggit.redact_secrets(txt text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pggit AS $$
    SELECT regexp_replace(
               regexp_replace(txt, '([a-z][a-z0-9+.-]*://)[^/@\s]*@', '\1[REDACTED]@', 'gi'),
               '(password|passwd|pwd|secret|token|api[_-]?key)(\s*[=:]\s*|\s+)(''[^'']*''|"[^"]*"|\S+)', '\1\2[REDACTED]', 'gi')
$$;

-- Whether a server setting is in effect, without returning its value (archive_command and friends
-- often carry credentials). archive_command reads '(disabled)' while archive_mode is off. NULL when
-- this role may not read the setting.
CREATE FUNCTION pggit.setting_is_set(setting_name text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pggit AS $$
BEGIN
    RETURN coalesce(current_setting(setting_name, true), '') NOT IN ('', '(disabled)');
EXCEPTION WHEN insufficient_privilege THEN
    RETURN NULL;
END
$$;

-- The guide calls this after loading six "enterprise modules" (sql/040..052) that pggit-ops does
-- not ship. It checks what really exists and lists those modules as NOT INSTALLED.
-- status: OK, WARNING, ERROR or NOT INSTALLED.
CREATE FUNCTION pggit.enterprise_health_check()
RETURNS TABLE(component text, status text, details text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pggit AS $$
DECLARE
    t text;
    trig record;
    n bigint;
    latest text;
BEGIN
    RETURN QUERY SELECT 'schema pggit'::text, 'OK'::text,
        format('owner %s', (SELECT pg_get_userbyid(ns.nspowner) FROM pg_namespace ns WHERE ns.nspname = 'pggit'));

    FOREACH t IN ARRAY ARRAY['objects', 'history', 'dependencies', 'tracking_errors', 'settings', 'storage_snapshots'] LOOP
        IF to_regclass(format('pggit.%I', t)) IS NULL THEN
            RETURN QUERY SELECT format('table pggit.%s', t), 'ERROR'::text, 'missing: reinstall pggit-ops migrations'::text;
        ELSE
            RETURN QUERY SELECT format('table pggit.%s', t), 'OK'::text,
                format('present, %s with indexes', pg_size_pretty(pg_total_relation_size(to_regclass(format('pggit.%I', t)))));
        END IF;
    END LOOP;

    n := 0;
    FOR trig IN SELECT * FROM pggit.event_trigger_overhead LOOP
        n := n + 1;
        RETURN QUERY SELECT format('event trigger %s', quote_ident(trig.name)),
            CASE WHEN trig.enabled THEN 'OK' ELSE 'ERROR' END,
            format('on %s, runs %s, %s', trig.event, trig.function,
                   CASE WHEN trig.enabled THEN 'fires in ' || trig.fires_in ELSE 'DISABLED: DDL it handles is not recorded' END);
    END LOOP;
    IF n = 0 THEN
        RETURN QUERY SELECT 'event triggers'::text, 'ERROR'::text,
            'no pggit event trigger exists: DDL is not being recorded (sql/002_pggit_tracking.sql creates them)'::text;
    END IF;

    -- A missing table was reported above; the checks that read it are skipped rather than failing
    -- the whole health check.
    IF to_regclass('pggit.settings') IS NOT NULL THEN
        SELECT count(*) INTO n FROM pggit.settings;
        RETURN QUERY SELECT 'settings'::text,
            CASE n WHEN 1 THEN 'OK' ELSE 'ERROR' END,
            CASE n WHEN 1 THEN (SELECT format('retention %s days, batch %s, alert threshold %s ms, storage alert %s%%',
                                              s.retention_days, s.batch_size, s.alert_threshold_ms, s.storage_alert_percent)
                                  FROM pggit.settings s)
                   ELSE 'no settings row: SELECT pggit.configure_monitoring() recreates it with defaults' END;
    END IF;

    IF to_regclass('pggit.tracking_errors') IS NOT NULL THEN
        SELECT count(*), (array_agg(e.message ORDER BY e.occurred_at DESC))[1] INTO n, latest
          FROM pggit.tracking_errors e WHERE e.occurred_at > now() - interval '24 hours';
        RETURN QUERY SELECT 'tracking errors (24h)'::text,
            CASE WHEN n = 0 THEN 'OK' ELSE 'WARNING' END,
            CASE WHEN n = 0 THEN 'none' ELSE format('%s; latest: %s', n, pggit.redact_secrets(latest)) END;
    END IF;

    RETURN QUERY SELECT 'track_functions'::text,
        CASE WHEN current_setting('track_functions') = 'none' THEN 'WARNING' ELSE 'OK' END,
        CASE WHEN current_setting('track_functions') = 'none'
             THEN 'none: function performance is not measured and function alerts cannot fire'
             ELSE current_setting('track_functions') END;

    -- The guide's enterprise modules: there is nothing of them here to check, and saying OK would lie.
    FOREACH t IN ARRAY ARRAY['040_enterprise_impact_analysis', '041_zero_downtime_deployment', '042_cost_optimization_dashboard',
                             '050_cicd_integration', '051_enterprise_auth_rbac', '052_compliance_reporting'] LOOP
        RETURN QUERY SELECT format('enterprise module %s', t), 'NOT INSTALLED'::text,
            'named by the Operations Guide; not part of pggit-ops, nothing of it exists in this database'::text;
    END LOOP;
END
$$;

-- A support bundle (the guide: "use pggit.generate_contribution_metrics() for support cases").
-- Counts and configuration only. Never included: history statements or definitions (DDL such as
-- CREATE USER MAPPING ... OPTIONS (password ...) can carry secrets), tracking error statements,
-- details and contexts, archive_command / restore_command / primary_conninfo contents (only whether
-- they are set), role passwords, connection strings. Tracking error messages pass redact_secrets().
CREATE FUNCTION pggit.generate_contribution_metrics() RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pggit AS $$
DECLARE
    migrations jsonb;
    bundle jsonb;
BEGIN
    -- Older installs predate the migration ledger; its columns beyond these three are not needed.
    IF to_regclass('pggit_ops.schema_migrations') IS NULL THEN
        migrations := jsonb_build_object('available', false, 'note', 'pggit_ops.schema_migrations does not exist (installed before the migration ledger)');
    ELSE
        EXECUTE $q$SELECT coalesce(jsonb_agg(jsonb_build_object('name', m.j->'name', 'checksum', m.j->'checksum', 'applied_at', m.j->'applied_at')
                                              ORDER BY m.j->>'name'), '[]'::jsonb)
                     FROM (SELECT to_jsonb(sm) AS j FROM pggit_ops.schema_migrations sm) m$q$
           INTO migrations;
        migrations := jsonb_build_object('available', true, 'applied', migrations);
    END IF;

    bundle := jsonb_build_object(
        'generated_at', now(),
        'postgresql', jsonb_build_object('version', version(), 'server_version_num', current_setting('server_version_num')::int),
        'pggit_ops_migrations', migrations,
        'settings', (SELECT to_jsonb(s) - 'singleton' FROM pggit.settings s),
        'objects_by_type', (SELECT coalesce(jsonb_object_agg(x.object_type, jsonb_build_object('active', x.active, 'dropped', x.dropped)), '{}'::jsonb)
                              FROM (SELECT o.object_type, count(*) FILTER (WHERE o.is_active) AS active, count(*) FILTER (WHERE NOT o.is_active) AS dropped
                                      FROM pggit.objects o GROUP BY o.object_type) x),
        'history', (SELECT jsonb_build_object(
                        'total', count(*),
                        'last_24h', count(*) FILTER (WHERE h.change_timestamp > now() - interval '24 hours'),
                        'last_7d', count(*) FILTER (WHERE h.change_timestamp > now() - interval '7 days'),
                        'last_30d', count(*) FILTER (WHERE h.change_timestamp > now() - interval '30 days'),
                        'oldest', min(h.change_timestamp),
                        'newest', max(h.change_timestamp))
                      FROM pggit.history h),
        'history_by_change_type', (SELECT coalesce(jsonb_object_agg(x.change_type, x.n), '{}'::jsonb)
                                     FROM (SELECT h.change_type, count(*) AS n FROM pggit.history h GROUP BY h.change_type) x),
        'tracking_errors', jsonb_build_object(
            'total', (SELECT count(*) FROM pggit.tracking_errors),
            'last_24h', (SELECT count(*) FROM pggit.tracking_errors e WHERE e.occurred_at > now() - interval '24 hours'),
            'recent', (SELECT coalesce(jsonb_agg(jsonb_build_object('occurred_at', x.occurred_at, 'sqlstate', x.sqlstate,
                                                                    'message', pggit.redact_secrets(x.message)) ORDER BY x.occurred_at DESC), '[]'::jsonb)
                         FROM (SELECT e.occurred_at, e.sqlstate, e.message FROM pggit.tracking_errors e
                                ORDER BY e.occurred_at DESC, e.id DESC LIMIT 20) x)),
        'event_triggers', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', t.name, 'event', t.event, 'enabled', t.enabled,
                                                                        'function', t.function, 'calls', t.calls, 'mean_time_ms', t.mean_time)), '[]'::jsonb)
                             FROM pggit.event_trigger_overhead t),
        'storage', jsonb_build_object('pggit_bytes', pggit.storage_bytes(), 'database_bytes', pg_database_size(current_database())),
        -- An allowlist: settings that describe the server without exposing anything secret.
        'server_settings', (SELECT jsonb_object_agg(ps.name, current_setting(ps.name))
                              FROM pg_settings ps
                             WHERE ps.name IN ('server_version', 'track_functions', 'track_counts', 'track_activities', 'track_io_timing',
                                               'wal_level', 'archive_mode', 'archive_timeout', 'max_wal_senders', 'max_connections',
                                               'shared_buffers', 'work_mem', 'maintenance_work_mem', 'effective_cache_size',
                                               'autovacuum', 'autovacuum_naptime', 'autovacuum_vacuum_scale_factor',
                                               'autovacuum_analyze_scale_factor', 'max_wal_size', 'checkpoint_timeout',
                                               'statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout',
                                               'max_locks_per_transaction', 'session_replication_role', 'server_encoding',
                                               'lc_collate', 'TimeZone', 'block_size', 'data_checksums', 'fsync', 'synchronous_commit')),
        'server_settings_presence', jsonb_build_object(
            'archive_command_set', pggit.setting_is_set('archive_command'),
            'archive_library_set', pggit.setting_is_set('archive_library'),
            'restore_command_set', pggit.setting_is_set('restore_command'),
            'primary_conninfo_set', pggit.setting_is_set('primary_conninfo')),
        'health_check', (SELECT jsonb_agg(to_jsonb(hc)) FROM pggit.enterprise_health_check() hc),
        'alerts', (SELECT coalesce(jsonb_agg(to_jsonb(a)), '[]'::jsonb) FROM pggit.check_performance_alerts() a));
    RETURN bundle;
END
$$;

COMMENT ON FUNCTION pggit.configure_monitoring(numeric, integer, integer, integer, numeric) IS
    'Monitoring/maintenance settings; NULL keeps a value. Named notation: alert_threshold_ms => 1000 (no quotes).';
COMMENT ON FUNCTION pggit.snapshot_storage() IS 'Records pggit''s size now in pggit.storage_snapshots (daily checklist).';
COMMENT ON VIEW pggit.storage_projection IS 'Storage in 6 and 12 months from observed growth; see the basis and confidence columns.';
COMMENT ON FUNCTION pggit.generate_contribution_metrics() IS 'Support bundle: versions, settings, counts, redacted recent errors; no secrets.';
