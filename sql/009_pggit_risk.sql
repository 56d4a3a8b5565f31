-- CI/CD integration (Operations Guide, "CI/CD Integration"): migration risk assessment for psql
-- users, the record of each analysis, and the generated pipelines.
--
-- pggit.assess_migration_risk(sql) RUNS the migration: call it on a CI or staging database (a copy
-- holding the schema the migration applies to), never on production. It executes the text in a
-- subtransaction that is always rolled back, and reports what actually happened: locks taken on
-- tables that existed before, tables rewritten (relfilenode changed) with their rows, and what the
-- catalogs show changed (dropped/renamed tables and columns, type and NOT NULL changes, validated
-- constraints and index builds on existing tables, char(n) / timestamp columns). It has no SQL
-- parser, unlike `pggit-ops risk` (risk/README.md): no line numbers, no per-statement attribution,
-- and a migration it cannot run in a transaction (CREATE INDEX CONCURRENTLY, VACUUM, BEGIN/COMMIT)
-- is reported as not measured instead of being measured statement by statement.

-- What each finding means; rows generated from risk/rules/ and risk/measure.ts.
CREATE TABLE pggit.risk_rules (
    id          text PRIMARY KEY,
    severity    text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
    lock_mode   text,                 -- pg_locks spelling, e.g. AccessExclusiveLock
    message     text NOT NULL,
    alternative text NOT NULL
);

-- The score: severity weights added up, capped at 100 (risk/score.ts).
CREATE TABLE pggit.risk_severity_weights (
    severity text PRIMARY KEY,
    weight   integer NOT NULL CHECK (weight >= 0)
);

-- BEGIN GENERATED risk rules (npm run risk:sql; do not edit)
INSERT INTO pggit.risk_rules (id, severity, lock_mode, message, alternative) VALUES
    ('adding-field-with-volatile-default', 'high', 'AccessExclusiveLock', 'Adding a column whose default is volatile (or an identity, serial or stored generated column) rewrites the whole table under an ACCESS EXCLUSIVE lock: every read and write of the table waits until the rewrite ends.', 'Add the column without a default (or with a constant one), set the default in a separate ALTER, and backfill existing rows in small batches.'),
    ('setting-not-null', 'high', 'AccessExclusiveLock', 'SET NOT NULL scans the whole table to check for NULLs while holding an ACCESS EXCLUSIVE lock.', 'ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT c (SHARE UPDATE EXCLUSIVE lock, reads and writes continue); SET NOT NULL then uses the valid constraint and skips the scan (PostgreSQL 12+). Drop the check afterwards.'),
    ('changing-column-type', 'high', 'AccessExclusiveLock', 'Changing a column''s type rewrites the table and rebuilds its indexes under an ACCESS EXCLUSIVE lock (except binary-compatible changes such as varchar(n) to text or to a larger n), and breaks clients that expect the old type.', 'Add a new column of the new type, backfill it in batches, switch the application over, then drop the old column.'),
    ('constraint-missing-not-valid', 'high', 'AccessExclusiveLock', 'Adding a CHECK or FOREIGN KEY constraint without NOT VALID checks every existing row while holding the lock (ACCESS EXCLUSIVE for CHECK; SHARE ROW EXCLUSIVE on both tables for a foreign key), blocking writes for the whole scan.', 'Add it with NOT VALID (only new rows are checked, the lock is brief), then VALIDATE CONSTRAINT in a later statement: validation takes only a SHARE UPDATE EXCLUSIVE lock (ROW SHARE on the referenced table).'),
    ('adding-unique-constraint', 'high', 'AccessExclusiveLock', 'Adding a UNIQUE, PRIMARY KEY or EXCLUDE constraint builds its index inside the ALTER TABLE, holding an ACCESS EXCLUSIVE lock for the whole build.', 'CREATE UNIQUE INDEX CONCURRENTLY first (outside a transaction), then ALTER TABLE ... ADD CONSTRAINT name UNIQUE (or PRIMARY KEY) USING INDEX index_name, which only takes the lock briefly.'),
    ('require-concurrent-index-creation', 'high', 'ShareLock', 'CREATE INDEX without CONCURRENTLY holds a SHARE lock on the table for the whole build: every INSERT, UPDATE and DELETE waits.', 'CREATE INDEX CONCURRENTLY (outside a transaction block); if it fails it leaves an INVALID index to drop and retry.'),
    ('require-concurrent-index-deletion', 'high', 'AccessExclusiveLock', 'DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the index''s table: reads and writes wait, and queue behind any long query.', 'DROP INDEX CONCURRENTLY (outside a transaction block, one index per statement).'),
    ('require-concurrent-reindex', 'high', 'AccessExclusiveLock', 'REINDEX without CONCURRENTLY locks out writes to the table (SHARE lock) and takes an ACCESS EXCLUSIVE lock on each index it rebuilds, so queries that would use the index wait too.', 'REINDEX ... CONCURRENTLY (PostgreSQL 12+, outside a transaction block).'),
    ('detach-partition-without-concurrently', 'high', 'AccessExclusiveLock', 'DETACH PARTITION without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the partitioned table: every query on any partition waits.', 'ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+, outside a transaction block; SHARE UPDATE EXCLUSIVE lock).'),
    ('vacuum-full-or-cluster', 'high', 'AccessExclusiveLock', 'VACUUM FULL and CLUSTER rewrite the whole table under an ACCESS EXCLUSIVE lock: nothing can read or write it until they finish.', 'Plain VACUUM (no lock against reads and writes), or an online rebuild with the pg_repack extension.'),
    ('dropping-column', 'critical', 'AccessExclusiveLock', 'Dropping a column loses its data and breaks every running client that still reads or writes it (SELECT col, INSERT naming it).', 'Expand and contract: deploy application code that no longer uses the column, then drop it in a later migration (keep a backup of the data).'),
    ('dropping-table', 'critical', 'AccessExclusiveLock', 'Dropping a table loses its data and breaks every running client that still uses it.', 'Stop using the table in the application first, rename it aside or revoke access for a release, and drop it in a later migration after a backup.'),
    ('dropping-database', 'critical', NULL, 'DROP DATABASE destroys a whole database; it has no place in a schema migration.', 'Drop databases by hand, after a verified backup, outside the migration pipeline.'),
    ('renaming-column', 'high', 'AccessExclusiveLock', 'Renaming a column breaks every running client that uses the old name, from the moment the migration commits.', 'Add the new column, write both and backfill, move readers to the new name, then drop the old column in a later migration.'),
    ('renaming-table', 'high', 'AccessExclusiveLock', 'Renaming a table breaks every running client that uses the old name, from the moment the migration commits.', 'Rename, then create a view with the old name (simple views are updatable) until every client uses the new name; drop the view later.'),
    ('dropping-not-null', 'medium', 'AccessExclusiveLock', 'Dropping NOT NULL lets NULLs in: running clients that assume the column always has a value can fail or misbehave on them.', 'Make every reader handle NULL first, then drop the constraint; or keep NOT NULL with a default.'),
    ('prefer-text-over-char', 'low', NULL, 'char(n) pads values with spaces, compares ignoring them and is no faster than text; widening it later rewrites the table.', 'Use text (or varchar) with a CHECK (length(col) <= n) constraint if the length must be limited.'),
    ('prefer-bigint-primary-key', 'medium', NULL, 'An int or smallint primary key can run out of values; widening it later rewrites the table and every table referencing it.', 'Use bigint (bigint GENERATED ALWAYS AS IDENTITY) for primary keys.'),
    ('prefer-identity', 'low', NULL, 'serial creates a separately owned sequence with looser semantics (its permissions, ownership and dumps are managed apart from the column).', 'Use bigint GENERATED ALWAYS AS IDENTITY (or BY DEFAULT), the SQL-standard form.'),
    ('prefer-timestamptz', 'low', NULL, 'timestamp without time zone stores wall-clock values with no zone: the same instant reads differently per client time zone, and DST changes make values ambiguous.', 'Use timestamptz (timestamp with time zone), which stores an instant in UTC.'),
    ('require-if-exists', 'low', NULL, 'The statement fails when the migration is run again after a partial failure (the object already exists, or is already gone).', 'Write CREATE ... IF NOT EXISTS, DROP ... IF EXISTS, ADD COLUMN IF NOT EXISTS, DROP COLUMN IF EXISTS so a re-run is harmless.'),
    ('concurrently-in-transaction', 'critical', NULL, 'This statement cannot run inside a transaction block: PostgreSQL refuses it with "cannot run inside a transaction block" (SQLSTATE 25001) and the migration fails at this point.', 'Move it out of BEGIN ... COMMIT into its own migration step, run on its own (a migration runner must not wrap it in a transaction).'),
    ('transaction-nesting', 'medium', NULL, 'Transaction control that does not pair up: PostgreSQL has no nested transactions (a second BEGIN only warns, and the next COMMIT ends both), a COMMIT without BEGIN does nothing, and a transaction left open is rolled back when the session ends.', 'One BEGIN and one COMMIT per migration (or none, when the runner wraps each file in a transaction); use SAVEPOINT for partial rollback.'),
    ('require-timeouts', 'medium', NULL, 'A statement that locks an existing table runs without lock_timeout and statement_timeout: while it waits for the lock behind a long query, every other query on the table queues behind it, and a slow statement holds its lock with no bound.', 'SET lock_timeout = ''5s'' and SET statement_timeout = ''5min'' (values to taste) at the top of the migration, and retry on timeout.'),
    ('identifier-too-long', 'medium', NULL, 'The identifier is longer than 63 bytes: PostgreSQL silently truncates it, so the object gets a different name than the migration says, and two long names sharing their first 63 bytes collide.', 'Use names of at most 63 bytes (fewer characters for non-ASCII names: é takes 2 bytes).'),
    ('table-rewrite', 'high', 'AccessExclusiveLock', 'The statement rewrote the table (its data file was replaced) while holding an ACCESS EXCLUSIVE lock; the time grows with the table.', 'See the static findings on this statement for a way that does not rewrite; otherwise run it in a maintenance window.'),
    ('access-exclusive-lock', 'medium', 'AccessExclusiveLock', 'The statement took an ACCESS EXCLUSIVE lock on a table that already existed: every query on it waits until the migration commits.', 'Keep the transaction short, set lock_timeout, and prefer forms with weaker locks (NOT VALID, CONCURRENTLY).'),
    ('migration-fails', 'critical', NULL, 'The migration fails on this database at this statement; deployed as is, it would fail the same way.', 'Fix the statement (the error is quoted) and run the analysis again.'),
    ('not-measured', 'info', NULL, 'Not run by the analysis, so its locks and rewrites are not measured.', 'Review it by hand, or measure it on a staging copy outside a transaction.');
INSERT INTO pggit.risk_severity_weights (severity, weight) VALUES
    ('critical', 60),
    ('high', 20),
    ('medium', 8),
    ('low', 2),
    ('info', 0);
-- END GENERATED risk rules

-- One row per pggit.analyze_migration_with_ai() call: which build asked, about what, and the answer.
CREATE TABLE pggit.migration_analyses (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    build_id         text NOT NULL,
    source           text NOT NULL,          -- the CI system: jenkins, github, ...
    migration_sql    text NOT NULL,
    migration_sha256 text NOT NULL,
    risk_score       integer NOT NULL CHECK (risk_score BETWEEN 0 AND 100),
    findings         jsonb NOT NULL,
    explanation      text NOT NULL,
    analyzed_at      timestamptz NOT NULL DEFAULT now(),
    analyzed_by      name NOT NULL DEFAULT current_user
);
CREATE INDEX migration_analyses_build_idx ON pggit.migration_analyses (build_id, analyzed_at);

-- Rows of a table for a finding: the planner's estimate when it was ever analyzed, else a count.
CREATE FUNCTION pggit.risk_row_count(relation regclass, reltuples real) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF reltuples >= 0 THEN
        RETURN round(reltuples);
    END IF;
    EXECUTE format('SELECT count(*) FROM ONLY %s', relation) INTO n;
    RETURN n;
END
$$;

-- SECURITY INVOKER on purpose: the migration runs with the caller's rights, never pggit's owner's.
CREATE FUNCTION pggit.assess_migration_risk(migration_sql text, lock_wait text DEFAULT '5s')
RETURNS TABLE (risk_score integer, findings jsonb, locks jsonb, rewrites jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    rels         jsonb;             -- user tables before: {oid: {name, relname, relfilenode, reltuples}}
    cols         jsonb;             -- their columns before: {"oid:attnum": {name, type, notnull}}
    -- Constraints and indexes before, by table and name: a rewrite rebuilds them under new OIDs.
    cons         text[];            -- "table oid:constraint name"
    idxs         text[];            -- "table oid:index name"
    idx_oids     oid[];             -- and the indexes' OIDs, for ADD CONSTRAINT ... USING INDEX
    held         text[];            -- relation locks this session held before ("oid:mode")
    raw          jsonb := '[]';     -- findings as {rule, subject, severity?}, in report order
    lock_list    jsonb := '[]';
    rewrite_list jsonb := '[]';
    r            record;
    n            bigint;
    err_state    text;
    err_message  text;
BEGIN
    IF coalesce(btrim(migration_sql), '') = '' THEN
        RETURN QUERY SELECT 0, '[]'::jsonb, '[]'::jsonb, '[]'::jsonb;
        RETURN;
    END IF;

    SELECT coalesce(jsonb_object_agg(c.oid::text, jsonb_build_object(
               'name', c.oid::regclass::text, 'relname', c.relname, 'relfilenode', c.relfilenode::text, 'reltuples', c.reltuples)), '{}')
      INTO rels
      FROM pg_class c
     WHERE c.relkind IN ('r', 'm', 'p') AND c.oid >= 16384;   -- 16384 = FirstNormalObjectId: user relations
    SELECT coalesce(jsonb_object_agg(a.attrelid::text || ':' || a.attnum, jsonb_build_object(
               'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'notnull', a.attnotnull)), '{}')
      INTO cols
      FROM pg_attribute a
     WHERE rels ? a.attrelid::text AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT coalesce(array_agg(k.conrelid::text || ':' || k.conname), '{}') INTO cons FROM pg_constraint k WHERE rels ? k.conrelid::text;
    SELECT coalesce(array_agg(i.indrelid::text || ':' || c.relname), '{}'), coalesce(array_agg(i.indexrelid), '{}') INTO idxs, idx_oids
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE rels ? i.indrelid::text;
    SELECT coalesce(array_agg(l.relation::text || ':' || l.mode), '{}') INTO held
      FROM pg_locks l WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted;

    BEGIN
        -- Bounded lock waits: a busy staging table is reported, not waited for.
        PERFORM set_config('lock_timeout', lock_wait, true);
        EXECUTE migration_sql;

        -- Locks the migration took on tables that existed before.
        SELECT coalesce(jsonb_agg(jsonb_build_object('table', rels -> l.relation::text ->> 'name', 'mode', l.mode)
                                  ORDER BY rels -> l.relation::text ->> 'name', l.mode), '[]')
          INTO lock_list
          FROM pg_locks l
         WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
           AND rels ? l.relation::text AND NOT (l.relation::text || ':' || l.mode) = ANY (held);

        -- Rewrites: the table's data file was replaced.
        FOR r IN
            SELECT c.oid, rels -> c.oid::text AS was
              FROM pg_class c
             WHERE rels ? c.oid::text AND c.relfilenode::text <> rels -> c.oid::text ->> 'relfilenode'
             ORDER BY rels -> c.oid::text ->> 'name'
        LOOP
            n := pggit.risk_row_count(r.oid::regclass, (r.was ->> 'reltuples')::real);
            rewrite_list := rewrite_list || jsonb_build_object('table', r.was ->> 'name', 'rows', n);
            raw := raw || jsonb_build_object('rule', 'table-rewrite', 'subject', format('%s (%s rows)', r.was ->> 'name', n),
                                             'severity', CASE WHEN n >= 1000000 THEN 'critical' WHEN n > 0 THEN 'high' ELSE 'low' END);
        END LOOP;

        raw := raw || coalesce((SELECT jsonb_agg(jsonb_build_object('rule', 'access-exclusive-lock', 'subject', x ->> 'table'))
                                  FROM jsonb_array_elements(lock_list) x WHERE x ->> 'mode' = 'AccessExclusiveLock'), '[]');

        -- Tables dropped or renamed.
        raw := raw || coalesce((
            SELECT jsonb_agg(CASE WHEN c.oid IS NULL
                                  THEN jsonb_build_object('rule', 'dropping-table', 'subject', t.value ->> 'name')
                                  ELSE jsonb_build_object('rule', 'renaming-table', 'subject', format('%s to %s', t.value ->> 'name', c.relname)) END
                             ORDER BY t.value ->> 'name')
              FROM jsonb_each(rels) t
              LEFT JOIN pg_class c ON c.oid = t.key::oid
             WHERE c.oid IS NULL OR c.relname <> t.value ->> 'relname'), '[]');

        -- Columns of surviving tables: dropped, renamed, retyped, NOT NULL set or dropped.
        raw := raw || coalesce((
            SELECT jsonb_agg(f.finding ORDER BY f.table_name, f.attnum, f.rule)
              FROM (
                SELECT rels -> split_part(k.key, ':', 1) ->> 'name' AS table_name, split_part(k.key, ':', 2)::int AS attnum, x.rule,
                       jsonb_build_object('rule', x.rule, 'subject', format('%s.%s%s', rels -> split_part(k.key, ':', 1) ->> 'name', k.value ->> 'name', x.detail)) AS finding
                  FROM jsonb_each(cols) k
                  JOIN pg_class c ON c.oid = split_part(k.key, ':', 1)::oid
                  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = split_part(k.key, ':', 2)::int AND NOT a.attisdropped
                 CROSS JOIN LATERAL (VALUES
                       ('dropping-column', '', a.attnum IS NULL),
                       ('renaming-column', format(' to %s', a.attname), a.attname <> k.value ->> 'name'),
                       ('changing-column-type', format(' (%s to %s)', k.value ->> 'type', format_type(a.atttypid, a.atttypmod)),
                        format_type(a.atttypid, a.atttypmod) <> k.value ->> 'type'),
                       ('setting-not-null', '', a.attnotnull AND NOT (k.value ->> 'notnull')::boolean),
                       ('dropping-not-null', '', NOT a.attnotnull AND (k.value ->> 'notnull')::boolean)
                 ) AS x(rule, detail, fired)
                 WHERE x.fired
              ) f), '[]');

        -- Constraints validated, and indexes built, on existing tables inside the migration's transaction.
        raw := raw || coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'rule', CASE WHEN k.contype IN ('c', 'f') THEN 'constraint-missing-not-valid' ELSE 'adding-unique-constraint' END,
                       'subject', format('%s on %s', k.conname, k.conrelid::regclass)) ORDER BY k.conrelid::regclass::text, k.conname)
              FROM pg_constraint k
             WHERE rels ? k.conrelid::text AND NOT (k.conrelid::text || ':' || k.conname) = ANY (cons)
               AND ((k.contype IN ('c', 'f') AND k.convalidated) OR (k.contype IN ('u', 'p', 'x') AND NOT k.conindid = ANY (idx_oids)))), '[]');
        raw := raw || coalesce((
            SELECT jsonb_agg(jsonb_build_object('rule', 'require-concurrent-index-creation', 'subject', format('%s on %s', i.indexrelid::regclass, i.indrelid::regclass))
                             ORDER BY i.indexrelid::regclass::text)
              FROM pg_index i
              JOIN pg_class ic ON ic.oid = i.indexrelid
             WHERE rels ? i.indrelid::text AND NOT (i.indrelid::text || ':' || ic.relname) = ANY (idxs)
               AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)), '[]');

        -- Risky types in columns the migration created (in new or existing tables).
        raw := raw || coalesce((
            SELECT jsonb_agg(jsonb_build_object('rule', CASE WHEN a.atttypid = 'bpchar'::regtype THEN 'prefer-text-over-char' ELSE 'prefer-timestamptz' END,
                                                'subject', format('%s.%s', c.oid::regclass, a.attname)) ORDER BY c.oid::regclass::text, a.attnum)
              FROM pg_attribute a
              JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relkind IN ('r', 'p') AND c.oid >= 16384 AND a.attnum > 0 AND NOT a.attisdropped
               AND a.atttypid IN ('bpchar'::regtype, 'timestamp'::regtype)
               AND NOT cols ? (a.attrelid::text || ':' || a.attnum)), '[]');

        RAISE EXCEPTION USING ERRCODE = 'PGRSK', MESSAGE = 'pggit: the assessed migration is rolled back';
    EXCEPTION
        WHEN SQLSTATE 'PGRSK' THEN
            NULL;
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT;
            -- 25001: cannot run in a transaction block (CONCURRENTLY, VACUUM); 0A000: BEGIN/COMMIT in
            -- the text; 55P03: a lock wait ran out. Each says nothing about the migration's own risk.
            raw := raw || jsonb_build_object(
                'rule', CASE WHEN err_state IN ('25001', '0A000', '55P03') THEN 'not-measured' ELSE 'migration-fails' END,
                'subject', format('%s (SQLSTATE %s)', err_message, err_state));
    END;

    RETURN QUERY
    WITH listed AS (
        SELECT x.ord, jsonb_build_object(
                   'rule', rr.id,
                   'severity', coalesce(x.value ->> 'severity', rr.severity),
                   'lock', rr.lock_mode,
                   'message', (x.value ->> 'subject') || ': ' || rr.message,
                   'alternative', rr.alternative,
                   'line', NULL, 'column', NULL,       -- no parser in SQL: see `pggit-ops risk`
                   'source', 'measured') AS finding
          FROM jsonb_array_elements(raw) WITH ORDINALITY AS x(value, ord)
          JOIN pggit.risk_rules rr ON rr.id = x.value ->> 'rule'
    )
    SELECT least(100, coalesce(sum(w.weight), 0))::integer,
           coalesce(jsonb_agg(l.finding ORDER BY l.ord), '[]'),
           lock_list,
           rewrite_list
      FROM listed l
      JOIN pggit.risk_severity_weights w ON w.severity = l.finding ->> 'severity';
END
$$;
COMMENT ON FUNCTION pggit.assess_migration_risk(text, text) IS
    'Runs the migration in a subtransaction that is always rolled back and scores what it did (0-100). Use on a CI or staging copy, never on production.';

-- The guide's "AI" analysis. No language model runs here: the explanation is built from
-- assess_migration_risk's findings, deterministically, and says so.
CREATE FUNCTION pggit.analyze_migration_with_ai(build_id text, migration_sql text, source text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    a           record;
    explanation text;
BEGIN
    IF coalesce(btrim(build_id), '') = '' OR coalesce(btrim(source), '') = '' THEN
        RAISE EXCEPTION 'analyze_migration_with_ai: build_id and source are required (got %, %)', quote_nullable(build_id), quote_nullable(source)
            USING ERRCODE = '22023';
    END IF;
    SELECT * INTO a FROM pggit.assess_migration_risk(migration_sql);
    explanation := format(E'Risk score %s/100 (%s finding%s). Deterministic analysis: no language model was used; this text lists the findings of pggit.assess_migration_risk.',
                          a.risk_score, jsonb_array_length(a.findings), CASE WHEN jsonb_array_length(a.findings) = 1 THEN '' ELSE 's' END)
        || coalesce((SELECT string_agg(format(E'\n- [%s] %s: %s Safer: %s', f ->> 'severity', f ->> 'rule', f ->> 'message', f ->> 'alternative'), '' ORDER BY o)
                       FROM jsonb_array_elements(a.findings) WITH ORDINALITY AS x(f, o)), '');
    INSERT INTO pggit.migration_analyses (build_id, source, migration_sql, migration_sha256, risk_score, findings, explanation)
    VALUES (build_id, source, coalesce(migration_sql, ''), encode(sha256(convert_to(coalesce(migration_sql, ''), 'UTF8')), 'hex'),
            a.risk_score, a.findings, explanation);
    RETURN explanation;
END
$$;

-- BEGIN GENERATED pipeline templates (npm run risk:sql; do not edit)
CREATE FUNCTION pggit.cicd_template(platform text) RETURNS text
LANGUAGE sql IMMUTABLE AS $function$
    SELECT CASE platform
        WHEN 'github' THEN $pggit_template$# Generated by pggit-ops cicd generate github (also: SELECT pggit.generate_cicd_config('github'))
name: Migration risk
on:
  push:
    branches: [main]
    paths: ['{{MIGRATIONS_DIR}}/**']
  pull_request:
    paths: ['{{MIGRATIONS_DIR}}/**']
permissions:
  contents: read
jobs:
  migration-risk:
    runs-on: ubuntu-latest
    services:
      postgres:
        image: postgres:15
        env:
          POSTGRES_PASSWORD: postgres
        ports: ['5432:5432']
        options: >-
          --health-cmd pg_isready --health-interval 5s --health-timeout 5s --health-retries 20
    env:
      DATABASE_URL: postgresql://postgres:postgres@localhost:5432/postgres
      MIGRATIONS_DIR: '{{MIGRATIONS_DIR}}'
      MAX_RISK: '{{MAX_RISK}}'
      BASE_SHA: ${{ github.event.pull_request.base.sha || github.event.before }}
      HEAD_SHA: ${{ github.event.pull_request.head.sha || github.sha }}
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-node@v4
        with:
          node-version: '20'
      - run: npm ci
      - name: Install pggit
        run: npx pggit-ops install --database-url "$DATABASE_URL"
      - name: Load the schema from the base commit's migrations
        shell: bash
        run: |
          set -euo pipefail
          empty_tree=$(git hash-object -t tree /dev/null)
          # No usable base (first push, rewritten history): every migration file counts as changed.
          if [ -z "${BASE_SHA:-}" ] || ! git cat-file -e "${BASE_SHA}^{commit}" 2>/dev/null; then BASE_SHA=$empty_tree; fi
          pathspec=":(glob)${MIGRATIONS_DIR}/**/*.sql"
          rm -rf .pggit-base && mkdir .pggit-base
          git diff -z --name-only --diff-filter=d "$empty_tree" "$BASE_SHA" -- "$pathspec" | sort -z > .pggit-base.list
          n=0
          while IFS= read -r -d '' file; do
            n=$((n + 1))
            git show "$BASE_SHA:$file" > ".pggit-base/$(printf '%06d' "$n").sql"
          done < .pggit-base.list
          for f in .pggit-base/*.sql; do
            [ -e "$f" ] || continue
            psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -f "$f"
          done
      - name: Assess the changed migrations
        shell: bash
        run: |
          set -euo pipefail
          empty_tree=$(git hash-object -t tree /dev/null)
          # No usable base (first push, rewritten history): every migration file counts as changed.
          if [ -z "${BASE_SHA:-}" ] || ! git cat-file -e "${BASE_SHA}^{commit}" 2>/dev/null; then BASE_SHA=$empty_tree; fi
          pathspec=":(glob)${MIGRATIONS_DIR}/**/*.sql"
          git diff -z --name-only --diff-filter=d "$BASE_SHA" "$HEAD_SHA" -- "$pathspec" > .pggit-changed.list
          mapfile -d '' changed < .pggit-changed.list
          if [ "${#changed[@]}" -eq 0 ]; then
            echo "no migration files changed under $MIGRATIONS_DIR"
            echo '[]' > migration-risk.json
            exit 0
          fi
          npx pggit-ops risk --max-risk "$MAX_RISK" --database-url "$DATABASE_URL" --report migration-risk.json -- "${changed[@]}"
      - name: Keep the risk report
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: migration-risk
          path: migration-risk.json
          if-no-files-found: ignore
$pggit_template$
        WHEN 'jenkins' THEN $pggit_template$// Generated by pggit-ops cicd generate jenkins (also: SELECT pggit.generate_cicd_config('jenkins'))
// Needs the Docker Pipeline plugin: PostgreSQL runs as a sidecar container next to the build container.
pipeline {
    agent any
    environment {
        MIGRATIONS_DIR = '{{MIGRATIONS_DIR}}'
        MAX_RISK = '{{MAX_RISK}}'
        // The commit before this build: the last successful build's (Git plugin); for a pull request, its target branch.
        BASE_SHA = "${env.CHANGE_TARGET ? 'origin/' + env.CHANGE_TARGET : (env.GIT_PREVIOUS_SUCCESSFUL_COMMIT ?: '')}"
        HEAD_SHA = "${env.GIT_COMMIT ?: 'HEAD'}"
    }
    stages {
        stage('Migration risk') {
            steps {
                script {
                    docker.image('postgres:15').withRun('-e POSTGRES_PASSWORD=postgres') { db ->
                        withEnv(['DATABASE_URL=postgresql://postgres:postgres@db:5432/postgres']) {
                            docker.image('node:20-bookworm').inside("--link ${db.id}:db") {
                                sh '''#!/bin/bash
set -euo pipefail
empty_tree=$(git hash-object -t tree /dev/null)
# No usable base (first push, rewritten history): every migration file counts as changed.
if [ -z "${BASE_SHA:-}" ] || ! git cat-file -e "${BASE_SHA}^{commit}" 2>/dev/null; then BASE_SHA=$empty_tree; fi
pathspec=":(glob)${MIGRATIONS_DIR}/**/*.sql"
rm -rf .pggit-base && mkdir .pggit-base
git diff -z --name-only --diff-filter=d "$empty_tree" "$BASE_SHA" -- "$pathspec" | sort -z > .pggit-base.list
n=0
while IFS= read -r -d '' file; do
  n=$((n + 1))
  git show "$BASE_SHA:$file" > ".pggit-base/$(printf '%06d' "$n").sql"
done < .pggit-base.list
'''
                            }
                            // The postgres image has psql (the node image has not); both see the workspace.
                            docker.image('postgres:15').inside("--link ${db.id}:db") {
                                sh 'until pg_isready -h db -U postgres; do sleep 1; done'
                                sh '''
for f in .pggit-base/*.sql; do
  [ -e "$f" ] || continue
  psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -f "$f"
done
'''
                            }
                            docker.image('node:20-bookworm').inside("--link ${db.id}:db") {
                                sh 'npm ci'
                                sh 'npx pggit-ops install --database-url "$DATABASE_URL"'
                                sh '''#!/bin/bash
set -euo pipefail
empty_tree=$(git hash-object -t tree /dev/null)
# No usable base (first push, rewritten history): every migration file counts as changed.
if [ -z "${BASE_SHA:-}" ] || ! git cat-file -e "${BASE_SHA}^{commit}" 2>/dev/null; then BASE_SHA=$empty_tree; fi
pathspec=":(glob)${MIGRATIONS_DIR}/**/*.sql"
git diff -z --name-only --diff-filter=d "$BASE_SHA" "$HEAD_SHA" -- "$pathspec" > .pggit-changed.list
mapfile -d '' changed < .pggit-changed.list
if [ "${#changed[@]}" -eq 0 ]; then
  echo "no migration files changed under $MIGRATIONS_DIR"
  echo '[]' > migration-risk.json
  exit 0
fi
npx pggit-ops risk --max-risk "$MAX_RISK" --database-url "$DATABASE_URL" --report migration-risk.json -- "${changed[@]}"
'''
                            }
                        }
                    }
                }
            }
        }
    }
    post {
        always {
            archiveArtifacts artifacts: 'migration-risk.json', allowEmptyArchive: true
        }
    }
}
$pggit_template$
    END
$function$;
-- END GENERATED pipeline templates

-- The pipeline `pggit-ops cicd generate` writes, for psql users: the same text.
CREATE FUNCTION pggit.generate_cicd_config(platform text, migrations_dir text DEFAULT 'migrations', max_risk integer DEFAULT 50) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    template text := pggit.cicd_template(lower(platform));
BEGIN
    IF template IS NULL THEN
        RAISE EXCEPTION 'generate_cicd_config: unknown CI platform %: use github or jenkins', quote_nullable(platform) USING ERRCODE = '22023';
    END IF;
    -- The folder lands in YAML, Groovy and shell: the same characters cicd/pipelines.ts allows.
    IF migrations_dir IS NULL OR migrations_dir !~ '^[A-Za-z0-9_][A-Za-z0-9_./-]*$' OR '..' = ANY (string_to_array(migrations_dir, '/')) THEN
        RAISE EXCEPTION 'generate_cicd_config: migrations dir %: use a relative path of letters, digits, _ . / - (no ..)', quote_nullable(migrations_dir)
            USING ERRCODE = '22023';
    END IF;
    IF max_risk IS NULL OR max_risk NOT BETWEEN 0 AND 100 THEN
        RAISE EXCEPTION 'generate_cicd_config: max risk %: must be an integer from 0 to 100', quote_nullable(max_risk) USING ERRCODE = '22023';
    END IF;
    RETURN replace(replace(template, '{{MIGRATIONS_DIR}}', migrations_dir), '{{MAX_RISK}}', max_risk::text);
END
$$;
