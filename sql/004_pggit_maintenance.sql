-- pggit maintenance: history cleanup in short batches, and the list of VACUUM / ANALYZE / REINDEX
-- commands the pggit tables need. Those commands cannot run inside a function (VACUUM and
-- REINDEX CONCURRENTLY refuse a transaction block), so the database only says what to run and
-- the caller (a pggit-ops activity, or an operator in psql) runs it.

-- Deletes one batch of history older than the retention and returns how many rows it deleted.
-- For callers that drive the loop themselves, one transaction per call. NULL arguments take
-- pggit.settings (retention_days, default 90; batch_size, default 1000).
-- The guide's single DELETE ... WHERE change_timestamp < now() - 90 days removes everything in one
-- transaction: on a large history that is a long transaction, one huge WAL burst and row locks on
-- every deleted row until it ends. Here: at most batch_size rows, the oldest first, picked through
-- the change_timestamp index (ordering by id would walk the whole primary key once no old row is
-- left, which makes the last, empty batch the slowest: bench/history-cleanup.ts measured 1.3 s).
CREATE FUNCTION pggit.cleanup_history_batch(retention_days integer DEFAULT NULL, batch_size integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pggit AS $$
DECLARE
    keep_days integer;
    batch integer;
    deleted bigint;
BEGIN
    SELECT coalesce(cleanup_history_batch.retention_days, max(s.retention_days), 90),
           coalesce(cleanup_history_batch.batch_size, max(s.batch_size), 1000)
      INTO keep_days, batch
      FROM pggit.settings s;
    IF keep_days < 1 THEN
        RAISE EXCEPTION 'cleanup_history: retention_days must be at least 1, got %', keep_days USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'cleanup_history: batch_size must be between 1 and 100000 rows, got %', batch USING ERRCODE = 'invalid_parameter_value';
    END IF;

    DELETE FROM pggit.history
     WHERE id IN (SELECT h.id FROM pggit.history h
                   WHERE h.change_timestamp < now() - make_interval(days => keep_days)
                   ORDER BY h.change_timestamp
                   LIMIT batch);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$$;

-- CALL pggit.cleanup_history();                                  -- settings' retention and batch size
-- CALL pggit.cleanup_history(retention_days => 30, batch_size => 500);
-- Deletes history older than the retention in batches, committing after each batch so every batch
-- is its own short transaction; rows_deleted returns the total.
-- Must be CALLed outside an explicit transaction block (not after BEGIN, not from a function, not as
-- one of several statements in one simple-query string): there, COMMIT is impossible and
-- PostgreSQL raises "invalid transaction termination". Such callers use cleanup_history_batch().
-- No SET search_path clause here: PostgreSQL forbids COMMIT in a procedure that has one. Instead
-- every name in the body is schema-qualified, and the work itself happens in
-- cleanup_history_batch(), which does fix its search_path.
CREATE PROCEDURE pggit.cleanup_history(retention_days integer DEFAULT NULL, batch_size integer DEFAULT NULL,
                                       INOUT rows_deleted bigint DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
    batch integer;
    n bigint;
BEGIN
    rows_deleted := 0;
    batch := coalesce(cleanup_history.batch_size, (SELECT max(s.batch_size) FROM pggit.settings s), 1000);
    LOOP
        n := pggit.cleanup_history_batch(cleanup_history.retention_days, batch);
        rows_deleted := rows_deleted + n;
        COMMIT;
        EXIT WHEN n < batch;
    END LOOP;
END
$$;

-- What maintenance the pggit tables need now, as exact commands (identifiers quoted with %I) for
-- the caller to run outside a transaction block, most urgent first (priority 1). Rows with a NULL
-- command are notes to review, never to run automatically. Other schemas can be checked too:
-- maintenance_recommendations(ARRAY['pggit', 'public']).
--  * VACUUM (ANALYZE): at least 1000 dead tuples that are also at least 20% of the live rows
--    (priority 1 once dead >= live), or at least 1000 rows never analyzed (the planner is guessing;
--    below that its guesses cost little).
--  * ANALYZE: analyzed before, but at least 1000 rows and 10% of the table modified since.
--  * REINDEX INDEX CONCURRENTLY: a B-tree of at least 16 pages whose size is over twice what its
--    rows need, estimated from pg_class (relpages, reltuples) and the columns' average width in
--    pg_stats (so only once the table has been analyzed). B-tree deduplication only makes an index
--    smaller than the estimate, so it does not cause false alarms. Invalid indexes left by a failed
--    CREATE INDEX CONCURRENTLY are rebuilt; _ccnew/_ccold leftovers of a failed REINDEX CONCURRENTLY
--    are dropped, as the PostgreSQL docs advise.
--  * Note (NULL command): an index that is not unique and has never been scanned since the
--    statistics were last reset.
CREATE FUNCTION pggit.maintenance_recommendations(target_schemas text[] DEFAULT ARRAY['pggit'])
RETURNS TABLE(command text, reason text, priority int)
LANGUAGE sql STABLE SET search_path = pg_catalog, pggit AS $$
WITH tables AS (
    SELECT c.oid, n.nspname, c.relname, greatest(c.reltuples, 0) AS reltuples, st.n_live_tup, st.n_dead_tup,
           st.n_mod_since_analyze, coalesce(st.last_analyze, st.last_autoanalyze) IS NOT NULL AS analyzed
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_stat_user_tables st ON st.relid = c.oid
     WHERE n.nspname::text = ANY (target_schemas) AND c.relkind IN ('r', 'm')
), to_vacuum AS (
    SELECT t.oid,
           format('VACUUM (ANALYZE) %I.%I', t.nspname, t.relname) AS command,
           CASE WHEN t.n_dead_tup >= 1000 AND t.n_dead_tup >= 0.2 * t.n_live_tup
                THEN format('%s dead tuples (%s%% of the table): space is not reused and scans read them',
                            t.n_dead_tup, round(100.0 * t.n_dead_tup / (t.n_live_tup + t.n_dead_tup)))
                ELSE format('never analyzed: the planner has no statistics for its %s rows', t.n_live_tup) END AS reason,
           CASE WHEN t.n_dead_tup >= 1000 AND t.n_dead_tup >= t.n_live_tup THEN 1 ELSE 2 END AS priority
      FROM tables t
     WHERE (t.n_dead_tup >= 1000 AND t.n_dead_tup >= 0.2 * t.n_live_tup)
        OR (NOT t.analyzed AND t.n_live_tup >= 1000)
), to_analyze AS (
    SELECT format('ANALYZE %I.%I', t.nspname, t.relname) AS command,
           format('%s rows modified since the last analyze (%s rows in the table): statistics are stale',
                  t.n_mod_since_analyze, greatest(t.n_live_tup, t.reltuples::bigint)) AS reason,
           3 AS priority
      FROM tables t
     WHERE t.analyzed AND t.oid NOT IN (SELECT v.oid FROM to_vacuum v)
       AND t.n_mod_since_analyze >= 1000 AND t.n_mod_since_analyze >= 0.1 * greatest(t.n_live_tup, t.reltuples)
), indexes AS (
    SELECT i.indexrelid, i.indrelid, i.indkey::int2[] AS indkey, i.indisunique, i.indisvalid, n.nspname, ic.relname AS indexname, ic.relpages,
           ic.reltuples, am.amname, coalesce(su.idx_scan, 0) AS idx_scan, t.relname AS tablename,
           coalesce((SELECT substring(o FROM 'fillfactor=(\d+)')::int FROM unnest(ic.reloptions) o WHERE o LIKE 'fillfactor=%'), 90) AS fillfactor
      FROM tables t
      JOIN pg_index i ON i.indrelid = t.oid
      JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_namespace n ON n.oid = ic.relnamespace
      JOIN pg_am am ON am.oid = ic.relam
      LEFT JOIN pg_stat_user_indexes su ON su.indexrelid = i.indexrelid
     WHERE ic.relkind = 'i'
), btree_estimate AS (
    -- Leaf tuple = 8-byte header + key columns, MAXALIGNed to 8, + a 4-byte line pointer; a page
    -- holds block_size - 40 bytes of tuples (page header + B-tree special space), filled to fillfactor.
    SELECT ix.*,
           ceil(ix.reltuples * (ceil((8 + w.key_width) / 8.0) * 8 + 4)
                / ((current_setting('block_size')::int - 40) * ix.fillfactor / 100.0)) + 1 AS expected_pages
      FROM indexes ix
      CROSS JOIN LATERAL (
          -- The width is only trustworthy when every key column has statistics (expression
          -- columns, attnum 0, have none here: such indexes are not estimated).
          SELECT sum(ps.avg_width) AS key_width, bool_and(ps.avg_width IS NOT NULL) AS has_stats
            FROM unnest(ix.indkey) AS k(attnum)
            LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum
            LEFT JOIN pg_stats ps ON ps.schemaname = ix.nspname AND ps.tablename = ix.tablename AND ps.attname = a.attname
      ) w
     WHERE ix.amname = 'btree' AND ix.indisvalid AND ix.reltuples >= 0 AND w.has_stats
), to_reindex AS (
    SELECT format('REINDEX INDEX CONCURRENTLY %I.%I', b.nspname, b.indexname) AS command,
           format('estimated %s%% bloat: %s pages on disk where its %s entries need about %s',
                  round(100 * (1 - b.expected_pages / b.relpages)), b.relpages, b.reltuples::bigint, b.expected_pages) AS reason,
           3 AS priority
      FROM btree_estimate b
     WHERE b.relpages >= 16 AND b.relpages > 2 * b.expected_pages
), broken AS (
    SELECT CASE WHEN ix.indexname ~ '_cc(new|old)[0-9]*$'
                THEN format('DROP INDEX CONCURRENTLY %I.%I', ix.nspname, ix.indexname)
                ELSE format('REINDEX INDEX CONCURRENTLY %I.%I', ix.nspname, ix.indexname) END AS command,
           CASE WHEN ix.indexname ~ '_cc(new|old)[0-9]*$'
                THEN 'invalid index left by a failed REINDEX CONCURRENTLY: it slows writes and is never used'
                ELSE 'invalid index (a CREATE INDEX CONCURRENTLY failed): it slows writes and is never used' END AS reason,
           1 AS priority
      FROM indexes ix
     WHERE NOT ix.indisvalid
), unused AS (
    SELECT NULL::text AS command,
           format('note: index %I.%I on %I (%s) has not been scanned since statistics were reset (%s); '
                  || 'if that covers a representative period, it only costs writes and space',
                  ix.nspname, ix.indexname, ix.tablename, pg_size_pretty(pg_relation_size(ix.indexrelid)),
                  coalesce((SELECT d.stats_reset::text FROM pg_stat_database d WHERE d.datname = current_database()), 'never')) AS reason,
           4 AS priority
      FROM indexes ix
     WHERE ix.idx_scan = 0 AND NOT ix.indisunique AND ix.indisvalid
       AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid)
)
SELECT r.command, r.reason, r.priority
  FROM (SELECT v.command, v.reason, v.priority FROM to_vacuum v
        UNION ALL SELECT a.command, a.reason, a.priority FROM to_analyze a
        UNION ALL SELECT b.command, b.reason, b.priority FROM broken b
        UNION ALL SELECT x.command, x.reason, x.priority FROM to_reindex x
        UNION ALL SELECT u.command, u.reason, u.priority FROM unused u) r
 ORDER BY r.priority, r.command NULLS LAST, r.reason
$$;

COMMENT ON PROCEDURE pggit.cleanup_history(integer, integer, bigint) IS
    'Deletes history older than retention_days in batches, one transaction each. CALL it outside a transaction block.';
COMMENT ON FUNCTION pggit.cleanup_history_batch(integer, integer) IS
    'Deletes one batch of history older than retention_days; returns the rows deleted (0 = done).';
COMMENT ON FUNCTION pggit.maintenance_recommendations(text[]) IS
    'VACUUM/ANALYZE/REINDEX commands the pggit tables need (run them outside a transaction); NULL command = a note.';
