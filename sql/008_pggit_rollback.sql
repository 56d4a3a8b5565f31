-- Staged rollback: the inverse DDL that takes tracked objects back to their recorded state at a
-- point in time (or one object back to a version), built from pggit.history's definitions.
--
--   SELECT * FROM pggit.preview_rollback('2024-06-15 10:00:00');          -- the plan, changes nothing
--   SELECT * FROM pggit.preview_rollback_object('public.users', '1.2.0');
--   SELECT pggit.rollback_to_timestamp('2024-06-15 10:00:00');            -- applies it, one transaction
--   SELECT pggit.rollback_object('public.users', '1.2.0');
--   SELECT * FROM pggit.verify_rollback('2024-06-15 10:00:00');            -- what still differs (nothing once done)
--
-- The state of an object at a point is its last history row at or before it (definition_after;
-- none, or a DROP, means it did not exist). Only objects with history after the point can differ.
-- Tables are rolled back column by column (ADD/DROP COLUMN, ALTER COLUMN TYPE, SET/DROP DEFAULT,
-- SET/DROP NOT NULL, constraints and indexes dropped and added), so rows and surviving columns
-- stay. A plan is ordered in fixed stages (see rollback_stage_name), each a dependency layer:
-- dependents leave before what they use changes and come back after it; whatever loses data
-- (dropping columns and tables created after the point) is the last stage, so that a failure
-- before it can be undone without data. Views, triggers, foreign keys and matview indexes that
-- block a change but did not change themselves are dropped and re-created as they are now.
-- The rollback's own DDL is tracked like any other: afterwards the same preview is empty.
-- Nothing here is SECURITY DEFINER: the statements run with the caller's rights.

-- One statement of a plan. Inside a stage, ord orders kinds of statement and seq the statements
-- of a kind: the history row whose definition the statement re-creates (creation order: what an
-- object uses was recorded first), negated for drops that go in reverse creation order; for views
-- and triggers, their place in today's dependencies (rollback_plan).
CREATE TYPE pggit.rollback_step AS (
    stage               integer,
    ord                 integer,
    seq                 bigint,
    object_type         text,
    object_name         text,
    action              text,     -- drop | drop to recreate | create | recreate | alter | alter type | rename | comment | unsupported
    sql                 text,     -- NULL for unsupported changes, which block the plan
    locks               text,
    loses_data          boolean,
    needs_backup_data   boolean,
    touches             text[],
    note                text,
    -- what the object must look like once the step's stage has committed; NULL: gone for a drop,
    -- otherwise not final yet (a later stage of the same object carries it)
    expected_definition text
);

-- A plan as previews return it: steps numbered in order, stages numbered from 1 (empty layers skipped).
CREATE TYPE pggit.rollback_plan_row AS (
    step                integer,
    stage               integer,
    stage_name          text,
    object_type         text,
    object_name         text,
    action              text,
    sql                 text,
    locks               text,
    loses_data          boolean,
    needs_backup_data   boolean,
    touches             text[],
    note                text,
    expected_definition text
);

-- What rollback_states reports per object: its state now and at the target point.
CREATE TYPE pggit.rollback_object_state AS (
    object_id   bigint,
    object_type text,
    full_name   text,         -- now (or when it was dropped)
    target_name text,         -- at the target point
    parent_name text,
    parent_type text,
    target_def  text,         -- NULL: did not exist at the target point
    current_def text,         -- NULL: does not exist now
    target_seq  bigint,       -- history row of target_def
    current_seq bigint,       -- last history row
    dropped_at  timestamptz,  -- when it was dropped, for objects that do not exist now
    fate        text          -- remove | create | change
);

CREATE FUNCTION pggit.rollback_stage_name(stage integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT (ARRAY['drop dependent views and triggers', 'drop constraints and indexes',
                  'schemas, types, sequences and functions', 'tables and columns',
                  'constraints and indexes', 'views, triggers and materialized views',
                  'remove objects created after the target'])[stage]
$$;

-- The word COMMENT ON uses for an object type, as pggit writes it into definitions.
CREATE FUNCTION pggit.comment_kind(object_type text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE object_type
        WHEN 'partition' THEN 'TABLE' WHEN 'foreign table' THEN 'TABLE' WHEN 'table column' THEN 'COLUMN'
        WHEN 'table constraint' THEN 'CONSTRAINT' WHEN 'domain constraint' THEN 'CONSTRAINT'
        ELSE upper(object_type) END
$$;

-- A definition split into the DDL and the COMMENT statement pggit appends to it (NULL: none).
-- The marker names the object itself, so a function body mentioning COMMENT ON is not mistaken.
CREATE FUNCTION pggit.split_comment(p_object_type text, p_name text, p_definition text,
                                    OUT body text, OUT comment_sql text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p = 0 THEN p_definition ELSE left(p_definition, p - 1) END,
           CASE WHEN p > 0 THEN substr(p_definition, p + 1) END
      FROM (SELECT strpos(p_definition, E'\nCOMMENT ON ' || pggit.comment_kind(p_object_type) || ' ' || p_name || ' IS ') AS p) m
$$;

-- The COMMENT statement that takes an object's comment from `current` to `target` (NULL: none needed).
CREATE FUNCTION pggit.comment_change(p_object_type text, p_name text, p_target text, p_current text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN t.comment_sql IS NOT DISTINCT FROM c.comment_sql THEN NULL
                ELSE coalesce(t.comment_sql, format('COMMENT ON %s %s IS NULL;', pggit.comment_kind(p_object_type), p_name)) END
      FROM pggit.split_comment(p_object_type, p_name, p_target) t, pggit.split_comment(p_object_type, p_name, p_current) c
$$;

-- A definition in the form rollback compares: a table's column and constraint lines sorted, since
-- a column re-added by a rollback comes back last (the catalog has no way to put it back in place).
CREATE FUNCTION pggit.comparable_definition(p_object_type text, p_definition text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    -- open_at: the ' (' before the first line; close_at: the newline before the last ')'
    SELECT CASE WHEN p_object_type IN ('table', 'partition', 'foreign table') AND open_at > 0 AND close_at > open_at + 7 THEN
                    left(p_definition, open_at + 6)
                    || (SELECT string_agg(line, E',\n    ' ORDER BY line COLLATE "C")
                          FROM unnest(string_to_array(substr(p_definition, open_at + 7, close_at - open_at - 7), E',\n    ')) line)
                    || substr(p_definition, close_at)
                ELSE p_definition END
      FROM (SELECT strpos(p_definition, E' (\n    ') AS open_at,
                   length(p_definition) - strpos(reverse(p_definition), E')\n') AS close_at) b
$$;

-- A column definition as pggit records it ('ALTER TABLE t ADD COLUMN c type [COLLATE x]
-- [GENERATED ... AS IDENTITY] [GENERATED ALWAYS AS (e) STORED | DEFAULT e] [NOT NULL];' and maybe a
-- comment), taken apart. `p_column` is the quoted column name.
CREATE FUNCTION pggit.column_parts(p_table text, p_column text, p_full_name text, p_definition text,
    OUT column_type text, OUT collation_name text, OUT identity text, OUT generated text, OUT default_expr text,
    OUT not_null boolean, OUT comment_sql text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    rest text;
    head text;
    tail text;
    cut integer;
BEGIN
    SELECT s.body, s.comment_sql INTO rest, comment_sql FROM pggit.split_comment('table column', p_full_name, p_definition) s;
    rest := substr(rest, length(format('ALTER TABLE %s ADD COLUMN %s ', p_table, p_column)) + 1);
    rest := left(rest, -1);   -- the statement's ';'
    not_null := rest LIKE '% NOT NULL';
    IF not_null THEN rest := left(rest, -length(' NOT NULL')); END IF;
    -- The type and collation end where a DEFAULT or GENERATED clause starts (names with spaces in
    -- them are quoted, so these words cannot appear inside one).
    cut := least(nullif(strpos(rest, ' DEFAULT '), 0), nullif(strpos(rest, ' GENERATED '), 0));
    head := CASE WHEN cut IS NULL THEN rest ELSE left(rest, cut - 1) END;
    tail := CASE WHEN cut IS NULL THEN '' ELSE substr(rest, cut) END;
    IF strpos(head, ' COLLATE ') > 0 THEN
        column_type := left(head, strpos(head, ' COLLATE ') - 1);
        collation_name := substr(head, strpos(head, ' COLLATE ') + length(' COLLATE '));
    ELSE
        column_type := head;
    END IF;
    IF tail LIKE ' GENERATED ALWAYS AS IDENTITY%' THEN
        identity := 'ALWAYS';
    ELSIF tail LIKE ' GENERATED BY DEFAULT AS IDENTITY%' THEN
        identity := 'BY DEFAULT';
    ELSIF tail LIKE ' GENERATED ALWAYS AS (%' THEN
        generated := substr(tail, length(' GENERATED ALWAYS AS ') + 1);
    ELSIF tail LIKE ' DEFAULT %' THEN
        default_expr := substr(tail, length(' DEFAULT ') + 1);
    END IF;
END
$$;

-- A step with no dependents touched yet (rollback_plan adds them).
CREATE FUNCTION pggit.rollback_make_step(p_stage integer, p_ord integer, p_seq bigint, p_object_type text, p_object_name text,
    p_action text, p_sql text, p_locks text, p_expected text, p_note text DEFAULT NULL,
    p_loses_data boolean DEFAULT false, p_needs_backup_data boolean DEFAULT false)
RETURNS pggit.rollback_step
LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_stage, p_ord, p_seq, p_object_type, p_object_name, p_action, p_sql, p_locks,
               p_loses_data, p_needs_backup_data, '{}'::text[], p_note, p_expected)::pggit.rollback_step
$$;

-- The constraint itself in a recorded constraint definition: 'ALTER TABLE t ADD CONSTRAINT c <body>;'.
CREATE FUNCTION pggit.constraint_body(p_object_type text, p_parent text, p_full_name text, p_definition text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT left(substr(split_part(p_definition, E'\n', 1),
                       length(format('ALTER %s %s ADD CONSTRAINT %s ', CASE WHEN p_object_type = 'domain constraint' THEN 'DOMAIN' ELSE 'TABLE' END,
                                     p_parent, left(p_full_name, -length(' on ' || p_parent)))) + 1), -1)
$$;

-- Every tracked object whose state at p_cutoff differs from its state now, with both states.
-- p_scope limits it to the objects named and their parts. Refuses (naming the object) when the
-- state at the cutoff cannot be known: history cleaned up, or not yet tracked then; and renames
-- other than of a column, whose dependents' recorded names rollback cannot follow.
CREATE FUNCTION pggit.rollback_states(p_cutoff timestamptz, p_scope text[] DEFAULT NULL)
RETURNS SETOF pggit.rollback_object_state
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pggit AS $$
DECLARE
    r record;
    fate text;
BEGIN
    IF p_cutoff IS NULL THEN
        RAISE EXCEPTION 'rollback: the target point in time must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_cutoff > now() THEN
        RAISE EXCEPTION 'rollback: the target point % is in the future', p_cutoff USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_cutoff < (SELECT min(h.change_timestamp) FROM pggit.history h) THEN
        RAISE EXCEPTION 'rollback: the target point % is before the oldest change pggit has kept (%), so the state then is unknown',
            p_cutoff, (SELECT min(h.change_timestamp) FROM pggit.history h)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN
        WITH changed AS (
            SELECT DISTINCT h.object_id FROM pggit.history h WHERE h.change_timestamp > p_cutoff
        )
        SELECT o.id, o.object_type, o.full_name, o.parent_name, o.is_active, o.definition,
               (SELECT p.object_type FROM pggit.objects p WHERE p.full_name = o.parent_name
                 ORDER BY p.is_active DESC, p.id DESC LIMIT 1) AS parent_type,
               t.id AS target_seq, t.full_name AS target_name, t.definition_after AS target_def,
               f.change_type AS first_change, f.version_before AS first_version_before, f.change_timestamp AS first_at,
               l.id AS last_seq, l.change_timestamp AS last_at
          FROM changed c JOIN pggit.objects o ON o.id = c.object_id
          LEFT JOIN LATERAL (SELECT h.* FROM pggit.history h WHERE h.object_id = o.id AND h.change_timestamp <= p_cutoff
                              ORDER BY h.id DESC LIMIT 1) t ON true
          CROSS JOIN LATERAL (SELECT h.* FROM pggit.history h WHERE h.object_id = o.id AND h.change_timestamp > p_cutoff
                               ORDER BY h.id LIMIT 1) f
          CROSS JOIN LATERAL (SELECT h.* FROM pggit.history h WHERE h.object_id = o.id ORDER BY h.id DESC LIMIT 1) l
         WHERE p_scope IS NULL OR o.full_name = ANY (p_scope) OR o.parent_name = ANY (p_scope)
    LOOP
        IF r.target_seq IS NULL AND NOT (r.first_change = 'CREATE' AND r.first_version_before IS NULL) THEN
            IF r.first_change = 'BASELINE' THEN
                RAISE EXCEPTION 'rollback: % % was not tracked at % (pggit first recorded it at %, when its schema was added to tracking)',
                    r.object_type, r.full_name, p_cutoff, r.first_at
                    USING ERRCODE = 'invalid_parameter_value', HINT = format('Roll back to %s or later.', r.first_at);
            END IF;
            RAISE EXCEPTION 'rollback: the history of % % before % has been cleaned up (its oldest kept change is at %), so its state then is unknown',
                r.object_type, r.full_name, p_cutoff, r.first_at
                USING ERRCODE = 'invalid_parameter_value', HINT = format('Roll back to %s or later.', r.first_at);
        END IF;
        fate := CASE
            WHEN r.target_def IS NULL AND r.is_active THEN 'remove'
            WHEN r.target_def IS NOT NULL AND NOT r.is_active THEN 'create'
            WHEN r.target_def IS NOT NULL AND r.is_active AND (r.target_name <> r.full_name
                 OR pggit.comparable_definition(r.object_type, r.target_def) <> pggit.comparable_definition(r.object_type, r.definition)) THEN 'change'
        END;
        CONTINUE WHEN fate IS NULL;
        IF fate = 'change' AND r.target_name <> r.full_name
           AND NOT (r.object_type = 'table column' AND left(r.target_name, length(r.parent_name) + 1) = r.parent_name || '.') THEN
            RAISE EXCEPTION 'rollback: % % was renamed after % (it was %); rollback renames columns back, nothing else',
                r.object_type, r.full_name, p_cutoff, r.target_name
                USING ERRCODE = 'feature_not_supported', HINT = 'Rename it back by hand first, then roll back.';
        END IF;
        RETURN NEXT ROW(r.id, r.object_type, r.full_name, r.target_name, r.parent_name, r.parent_type, r.target_def,
                        CASE WHEN r.is_active THEN r.definition END, r.target_seq, r.last_seq,
                        CASE WHEN NOT r.is_active THEN r.last_at END, fate)::pggit.rollback_object_state;
    END LOOP;
END
$$;

-- The stage in which an object of this type is created or changed in place.
CREATE FUNCTION pggit.rollback_alter_stage(object_type text, parent_type text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN object_type IN ('schema', 'type', 'domain', 'sequence', 'function', 'procedure', 'aggregate') THEN 3
        WHEN object_type IN ('table', 'partition', 'foreign table', 'table column') THEN 4
        WHEN object_type = 'index' AND parent_type IN ('view', 'materialized view') THEN 6
        WHEN object_type IN ('table constraint', 'domain constraint', 'index') THEN 5
        ELSE 6 END
$$;

-- The statements that take one object from its state now to its state at the target point.
-- p_parent_fate: what the plan does to the table, view or domain it belongs to (NULL: nothing).
-- p_foreign_keys: for a table the plan re-creates, its foreign keys as they appear in its
-- definition; they are left out of CREATE TABLE and added in stage 5, once every table they
-- reference is back.
CREATE FUNCTION pggit.rollback_object_steps(s pggit.rollback_object_state, p_parent_fate text, p_foreign_keys text[])
RETURNS SETOF pggit.rollback_step
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pggit AS $$
DECLARE
    -- the quoted name of a part: a column is '<table>.<name>', a constraint or trigger '<name> on <table>'
    part text := CASE
        WHEN s.object_type = 'table column' THEN substr(s.full_name, length(s.parent_name) + 2)
        WHEN s.object_type IN ('table constraint', 'domain constraint', 'trigger') THEN left(s.full_name, -length(' on ' || s.parent_name)) END;
    removed boolean := s.fate IN ('remove', 'change');
    added boolean := s.fate IN ('create', 'change');
    dropping text := CASE s.fate WHEN 'remove' THEN 'drop' ELSE 'drop to recreate' END;
    on_parent text := 'ACCESS EXCLUSIVE on ' || s.parent_name;
    on_self text := 'ACCESS EXCLUSIVE on ' || s.full_name;
    target_body text := (pggit.split_comment(s.object_type, s.target_name, s.target_def)).body;
    current_body text := (pggit.split_comment(s.object_type, s.full_name, s.current_def)).body;
    stmt text;
    col text;
    t record;
    c record;
    fk boolean;
BEGIN
    -- Parts of what is dropped go with it (partitions are dropped each, so that the rows each
    -- holds show as lost); parts written into a re-created object's definition come back with it.
    IF p_parent_fate = 'remove' AND s.object_type <> 'partition' THEN
        RETURN;
    END IF;
    IF p_parent_fate = 'create' AND (s.object_type IN ('table column', 'domain constraint')
        OR (s.object_type = 'table constraint' AND pggit.constraint_body(s.object_type, s.parent_name, s.target_name, s.target_def) NOT LIKE 'FOREIGN KEY%')) THEN
        RETURN;
    END IF;
    IF s.object_type = 'table column' AND s.parent_type = 'partition' THEN
        RETURN;   -- a partition's columns are its parent's, and follow them
    END IF;
    IF s.fate = 'change' AND s.target_name = s.full_name AND target_body = current_body THEN
        RETURN NEXT pggit.rollback_make_step(pggit.rollback_alter_stage(s.object_type, s.parent_type), 90, s.target_seq,
            s.object_type, s.full_name, 'comment', pggit.comment_change(s.object_type, s.full_name, s.target_def, s.current_def),
            'SHARE UPDATE EXCLUSIVE on ' || coalesce(s.parent_name, s.full_name), s.target_def);
        RETURN;
    END IF;

    CASE
    WHEN s.object_type IN ('table', 'partition', 'foreign table') THEN
        IF s.fate = 'remove' THEN
            RETURN NEXT pggit.rollback_make_step(7, 20, -s.current_seq, s.object_type, s.full_name, 'drop',
                format('DROP %s IF EXISTS %s;', CASE WHEN s.object_type = 'foreign table' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, s.full_name),
                on_self, NULL, 'created after the target point: dropped with its rows', s.object_type <> 'foreign table');
        ELSIF s.fate = 'create' THEN
            stmt := s.target_def;
            FOREACH col IN ARRAY coalesce(p_foreign_keys, '{}') LOOP
                stmt := replace(stmt, E',\n    ' || col, '');
            END LOOP;
            RETURN NEXT pggit.rollback_make_step(4, 10, s.target_seq, s.object_type, s.full_name, 'create', stmt, 'none (new table)', stmt,
                CASE WHEN s.target_def LIKE '% PARTITION BY %' OR s.object_type = 'foreign table'
                     THEN format('dropped at %s; holds no rows of its own', s.dropped_at)
                     ELSE format('dropped at %s: comes back empty; its rows are only in a backup taken before then', s.dropped_at) END,
                false, s.target_def NOT LIKE '% PARTITION BY %' AND s.object_type <> 'foreign table');
        ELSE
            -- Columns and constraints have steps of their own; what is left of the table's text is
            -- UNLOGGED, PARTITION BY, WITH (...) and its comment.
            IF regexp_replace(target_body, E' \\(\\n.*\\n\\)', '') IS DISTINCT FROM regexp_replace(current_body, E' \\(\\n.*\\n\\)', '') THEN
                RETURN NEXT pggit.rollback_make_step(4, 40, s.target_seq, s.object_type, s.full_name, 'unsupported', NULL, NULL, NULL,
                    'its storage, options or partitioning changed after the target point; rollback does not change those');
            END IF;
            stmt := pggit.comment_change(s.object_type, s.full_name, s.target_def, s.current_def);
            IF stmt IS NOT NULL THEN
                RETURN NEXT pggit.rollback_make_step(4, 90, s.target_seq, s.object_type, s.full_name, 'comment', stmt,
                    'SHARE UPDATE EXCLUSIVE on ' || s.full_name, NULL);
            END IF;
        END IF;

    WHEN s.object_type = 'table column' THEN
        IF s.fate = 'remove' THEN
            RETURN NEXT pggit.rollback_make_step(7, 10, -s.current_seq, s.object_type, s.full_name, 'drop',
                format('ALTER TABLE %s DROP COLUMN IF EXISTS %s;', s.parent_name, part), on_parent, NULL,
                'added after the target point: its values are lost', true);
        ELSIF s.fate = 'create' THEN
            SELECT * INTO t FROM pggit.column_parts(s.parent_name, part, s.target_name, s.target_def);
            RETURN NEXT pggit.rollback_make_step(4, 20, s.target_seq, s.object_type, s.full_name, 'create', s.target_def, on_parent, s.target_def,
                format('dropped at %s: comes back as the last column holding %s, not its old values%s', s.dropped_at,
                       coalesce('its default ' || t.default_expr, 'values computed by ' || t.generated, 'NULL'),
                       CASE WHEN t.not_null AND t.default_expr IS NULL AND t.identity IS NULL AND t.generated IS NULL
                            THEN '; it is NOT NULL without a default, so this fails if the table has rows' ELSE '' END));
        ELSE
            col := substr(s.target_name, length(s.parent_name) + 2);
            SELECT * INTO t FROM pggit.column_parts(s.parent_name, col, s.target_name, s.target_def);
            SELECT * INTO c FROM pggit.column_parts(s.parent_name, part, s.full_name, s.current_def);
            IF col <> part THEN
                RETURN NEXT pggit.rollback_make_step(4, 15, s.target_seq, s.object_type, s.full_name, 'rename',
                    format('ALTER TABLE %s RENAME COLUMN %s TO %s;', s.parent_name, part, col), on_parent, s.target_def);
            END IF;
            IF t.generated IS DISTINCT FROM c.generated THEN
                IF t.generated IS NULL OR c.generated IS NULL THEN
                    RETURN NEXT pggit.rollback_make_step(4, 30, s.target_seq, s.object_type, s.full_name, 'unsupported', NULL, NULL, NULL,
                        'it became or stopped being a generated column after the target point; rollback does not change that');
                ELSE
                    -- A generated column's values are computed: re-creating it loses nothing.
                    RETURN NEXT pggit.rollback_make_step(4, 30, s.target_seq, s.object_type, s.full_name, 'alter',
                        format('ALTER TABLE %s DROP COLUMN %s;', s.parent_name, col) || E'\n' || s.target_def,
                        on_parent || ' (rewrites the table)', s.target_def,
                        'its generation expression changed: re-created with the old one, as the last column');
                END IF;
                RETURN;
            END IF;
            IF c.identity IS NOT NULL AND t.identity IS NULL THEN
                RETURN NEXT pggit.rollback_make_step(4, 30, s.target_seq, s.object_type, s.full_name, 'alter',
                    format('ALTER TABLE %s ALTER COLUMN %s DROP IDENTITY;', s.parent_name, col), on_parent, s.target_def);
            END IF;
            IF (t.column_type, t.collation_name) IS DISTINCT FROM (c.column_type, c.collation_name) THEN
                IF c.default_expr IS NOT NULL THEN   -- the old default may not cast to the old type
                    RETURN NEXT pggit.rollback_make_step(4, 31, s.target_seq, s.object_type, s.full_name, 'alter',
                        format('ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT;', s.parent_name, col), on_parent, s.target_def);
                    c.default_expr := NULL;
                END IF;
                RETURN NEXT pggit.rollback_make_step(4, 32, s.target_seq, s.object_type, s.full_name, 'alter type',
                    format('ALTER TABLE %s ALTER COLUMN %s TYPE %s%s USING %s::%s;', s.parent_name, col, t.column_type,
                           coalesce(' COLLATE ' || t.collation_name, ''), col, t.column_type),
                    on_parent || ' (rewrites the table and its indexes)', s.target_def,
                    format('back from %s to %s: fails if a value does not convert', c.column_type, t.column_type));
            END IF;
            IF t.default_expr IS DISTINCT FROM c.default_expr THEN
                RETURN NEXT pggit.rollback_make_step(4, 33, s.target_seq, s.object_type, s.full_name, 'alter',
                    format('ALTER TABLE %s ALTER COLUMN %s %s;', s.parent_name, col,
                           coalesce('SET DEFAULT ' || t.default_expr, 'DROP DEFAULT')), on_parent, s.target_def);
            END IF;
            IF t.not_null <> c.not_null AND t.identity IS NULL THEN
                RETURN NEXT pggit.rollback_make_step(4, 34, s.target_seq, s.object_type, s.full_name, 'alter',
                    format('ALTER TABLE %s ALTER COLUMN %s %s NOT NULL;', s.parent_name, col, CASE WHEN t.not_null THEN 'SET' ELSE 'DROP' END),
                    on_parent || CASE WHEN t.not_null THEN ' (reads every row)' ELSE '' END, s.target_def,
                    CASE WHEN t.not_null THEN 'fails if the column holds NULLs' END);
            END IF;
            IF t.identity IS NOT NULL AND t.identity IS DISTINCT FROM c.identity THEN
                RETURN NEXT pggit.rollback_make_step(4, 35, s.target_seq, s.object_type, s.full_name, 'alter',
                    CASE WHEN c.identity IS NULL
                         THEN format('ALTER TABLE %s ALTER COLUMN %s SET NOT NULL, ALTER COLUMN %s ADD GENERATED %s AS IDENTITY;',
                                     s.parent_name, col, col, t.identity)
                         ELSE format('ALTER TABLE %s ALTER COLUMN %s SET GENERATED %s;', s.parent_name, col, t.identity) END,
                    on_parent, s.target_def);
            END IF;
            -- (a renamed column's COMMENT statement names it by its current name)
            IF t.comment_sql IS DISTINCT FROM replace(c.comment_sql, format('COMMENT ON COLUMN %s IS ', s.full_name),
                                                      format('COMMENT ON COLUMN %s IS ', s.target_name)) THEN
                RETURN NEXT pggit.rollback_make_step(4, 36, s.target_seq, s.object_type, s.full_name, 'comment',
                    coalesce(t.comment_sql, format('COMMENT ON COLUMN %s IS NULL;', s.target_name)),
                    'SHARE UPDATE EXCLUSIVE on ' || s.parent_name, s.target_def);
            END IF;
        END IF;

    WHEN s.object_type IN ('table constraint', 'domain constraint') THEN
        fk := coalesce(pggit.constraint_body(s.object_type, s.parent_name, s.target_name, s.target_def),
                       pggit.constraint_body(s.object_type, s.parent_name, s.full_name, s.current_def)) LIKE 'FOREIGN KEY%';
        IF removed THEN
            RETURN NEXT pggit.rollback_make_step(2, CASE WHEN fk THEN 10 ELSE 20 END, s.current_seq, s.object_type, s.full_name, dropping,
                format('ALTER %s %s DROP CONSTRAINT IF EXISTS %s;', CASE WHEN s.object_type = 'domain constraint' THEN 'DOMAIN' ELSE 'TABLE' END,
                       s.parent_name, part),
                CASE WHEN s.object_type = 'domain constraint' THEN 'none (domain)' ELSE on_parent END
                    || CASE WHEN fk THEN ' and the table it references' ELSE '' END, NULL);
        END IF;
        IF added THEN
            RETURN NEXT pggit.rollback_make_step(5, CASE WHEN fk THEN 30 ELSE 10 END, s.target_seq, s.object_type, s.full_name, 'create',
                s.target_def,
                CASE WHEN s.object_type = 'domain constraint' THEN 'ACCESS SHARE on every table using the domain (checks their rows)'
                     WHEN fk THEN 'SHARE ROW EXCLUSIVE on ' || s.parent_name || ' and the table it references (checks every row)'
                     ELSE on_parent || ' (checks every row)' END,
                s.target_def);
        END IF;

    WHEN s.object_type = 'index' THEN
        IF removed THEN
            RETURN NEXT pggit.rollback_make_step(2, 30, s.current_seq, s.object_type, s.full_name, dropping,
                format('DROP INDEX IF EXISTS %s;', s.full_name), on_parent, NULL);
        END IF;
        IF added THEN
            -- IF NOT EXISTS: a partitioned table's index brings its partitions' indexes along
            RETURN NEXT pggit.rollback_make_step(pggit.rollback_alter_stage(s.object_type, s.parent_type), 20, s.target_seq,
                s.object_type, s.full_name, 'create',
                regexp_replace(s.target_def, '^CREATE (UNIQUE )?INDEX ', 'CREATE \1INDEX IF NOT EXISTS '),
                'SHARE on ' || s.parent_name || ' (blocks writes while it builds)', s.target_def);
        END IF;

    WHEN s.object_type = 'trigger' THEN
        IF removed THEN
            RETURN NEXT pggit.rollback_make_step(1, 10, -s.current_seq, s.object_type, s.full_name, dropping,
                format('DROP TRIGGER IF EXISTS %s ON %s;', part, s.parent_name), on_parent, NULL);
        END IF;
        IF added THEN
            RETURN NEXT pggit.rollback_make_step(6, 30, s.target_seq, s.object_type, s.full_name, 'create', s.target_def,
                'SHARE ROW EXCLUSIVE on ' || s.parent_name, s.target_def);
        END IF;

    WHEN s.object_type IN ('view', 'materialized view') THEN
        IF removed THEN
            RETURN NEXT pggit.rollback_make_step(1, 20, -s.current_seq, s.object_type, s.full_name, dropping,
                format('DROP %s %s;', upper(s.object_type), s.full_name), on_self, NULL);
        END IF;
        IF added THEN
            RETURN NEXT pggit.rollback_make_step(6, 10, s.target_seq, s.object_type, s.full_name, 'create', s.target_def,
                CASE WHEN s.object_type = 'view' THEN 'none (new view)' ELSE 'ACCESS SHARE on the tables it reads' END, s.target_def,
                CASE WHEN s.object_type = 'materialized view' THEN 'its rows are computed from the tables as they are when it runs' END);
        END IF;

    WHEN s.object_type IN ('function', 'procedure', 'aggregate') THEN
        IF s.fate = 'remove' THEN
            RETURN NEXT pggit.rollback_make_step(7, 30, -s.current_seq, s.object_type, s.full_name, 'drop',
                format('DROP %s IF EXISTS %s;', upper(s.object_type), s.full_name), 'none (no table)', NULL);
        ELSE
            RETURN NEXT pggit.rollback_make_step(3, 40, s.target_seq, s.object_type, s.full_name, CASE s.fate WHEN 'create' THEN 'create' ELSE 'alter' END,
                regexp_replace(s.target_def, '^CREATE AGGREGATE ', 'CREATE OR REPLACE AGGREGATE ')
                    -- re-running a definition without a comment leaves the current comment in place
                    || coalesce(E'\n' || CASE WHEN s.fate = 'change' THEN pggit.comment_change(s.object_type, s.full_name, s.target_def, s.current_def) END, ''),
                'none (no table)', s.target_def,
                CASE WHEN s.fate = 'change' THEN 'replaced in place: fails if its return type changed' END);
        END IF;

    WHEN s.object_type = 'sequence' THEN
        IF s.fate = 'remove' THEN
            RETURN NEXT pggit.rollback_make_step(7, 40, -s.current_seq, s.object_type, s.full_name, 'drop',
                format('DROP SEQUENCE IF EXISTS %s;', s.full_name), on_self, NULL);
        ELSE
            -- 'CREATE SEQUENCE ...;' then maybe 'ALTER SEQUENCE ... OWNED BY t.c;': the owning
            -- column may only come back in stage 4. Until then the sequence is not yet as recorded.
            SELECT split_part(target_body, E'\n', 1) AS settings, nullif(split_part(target_body, E'\n', 2), '') AS owned INTO t;
            SELECT split_part(current_body, E'\n', 1) AS settings, nullif(split_part(current_body, E'\n', 2), '') AS owned INTO c;
            IF s.fate = 'create' THEN
                RETURN NEXT pggit.rollback_make_step(3, 30, s.target_seq, s.object_type, s.full_name, 'create',
                    t.settings || coalesce(E'\n' || (pggit.split_comment(s.object_type, s.target_name, s.target_def)).comment_sql, ''),
                    'none (new sequence)', CASE WHEN t.owned IS NULL THEN s.target_def END, 'starts again at its START value');
            ELSE
                stmt := concat_ws(E'\n', CASE WHEN t.settings <> c.settings THEN 'ALTER' || substr(t.settings, length('CREATE') + 1) END,
                                  pggit.comment_change(s.object_type, s.full_name, s.target_def, s.current_def));
                IF stmt <> '' THEN
                    RETURN NEXT pggit.rollback_make_step(3, 30, s.target_seq, s.object_type, s.full_name, 'alter', stmt,
                        'SHARE ROW EXCLUSIVE on ' || s.full_name, CASE WHEN t.owned IS NOT DISTINCT FROM c.owned THEN s.target_def END);
                END IF;
            END IF;
            IF t.owned IS DISTINCT FROM c.owned THEN
                RETURN NEXT pggit.rollback_make_step(4, 50, s.target_seq, s.object_type, s.full_name, 'alter',
                    coalesce(t.owned, format('ALTER SEQUENCE %s OWNED BY NONE;', s.full_name)), 'SHARE ROW EXCLUSIVE on ' || s.full_name, s.target_def);
            END IF;
        END IF;

    WHEN s.object_type IN ('type', 'domain', 'schema') THEN
        IF s.fate = 'remove' THEN
            RETURN NEXT pggit.rollback_make_step(7, CASE WHEN s.object_type = 'schema' THEN 60 ELSE 50 END, -s.current_seq, s.object_type, s.full_name,
                'drop', format('DROP %s IF EXISTS %s;', upper(s.object_type), s.full_name), 'none (no table)', NULL);
        ELSIF s.fate = 'create' THEN
            RETURN NEXT pggit.rollback_make_step(3, CASE WHEN s.object_type = 'schema' THEN 10 ELSE 20 END, s.target_seq, s.object_type, s.full_name,
                'create', s.target_def, 'none', s.target_def);
        ELSIF s.object_type = 'schema' AND split_part(target_body, ' AUTHORIZATION ', 1) = split_part(current_body, ' AUTHORIZATION ', 1) THEN
            RETURN NEXT pggit.rollback_make_step(3, 10, s.target_seq, s.object_type, s.full_name, 'alter',
                format('ALTER SCHEMA %s OWNER TO %s', s.full_name, left(split_part(target_body, ' AUTHORIZATION ', 2), -1))
                    || coalesce(E';\n' || pggit.comment_change(s.object_type, s.full_name, s.target_def, s.current_def), ';'),
                'none', s.target_def);
        ELSIF s.object_type = 'domain' AND split_part(target_body, E'\n    CONSTRAINT ', 1) = split_part(current_body, E'\n    CONSTRAINT ', 1) THEN
            -- only its constraints changed (they have steps of their own), and maybe its comment
            stmt := pggit.comment_change(s.object_type, s.full_name, s.target_def, s.current_def);
            IF stmt IS NOT NULL THEN
                RETURN NEXT pggit.rollback_make_step(3, 90, s.target_seq, s.object_type, s.full_name, 'comment', stmt, 'none', NULL);
            END IF;
        ELSE
            RETURN NEXT pggit.rollback_make_step(3, 20, s.target_seq, s.object_type, s.full_name, 'unsupported', NULL, NULL, NULL,
                format('its definition changed after the target point (%s); rollback does not change a %s in place',
                       CASE s.object_type WHEN 'type' THEN 'labels or attributes' WHEN 'domain' THEN 'base type, default or NOT NULL' ELSE 'owner' END,
                       s.object_type));
        END IF;

    ELSE
        RETURN NEXT pggit.rollback_make_step(pggit.rollback_alter_stage(s.object_type, s.parent_type), 20, coalesce(s.target_seq, s.current_seq),
            s.object_type, s.full_name, 'unsupported', NULL, NULL, NULL, format('rollback does not handle objects of type %s', s.object_type));
    END CASE;
END
$$;

-- The plan: every object's steps, less the indexes that come and go with their constraint, plus
-- the live objects that block a step without having changed themselves (views and triggers on
-- what is dropped or changes type, foreign keys on a dropped index, matview indexes): those are
-- dropped and re-created as they are now, or only dropped when what they use is removed for
-- good. Views leave in the order of their dependencies now (dependents first) and come back the
-- other way round; objects that do not exist now come back in the order they were recorded.
CREATE FUNCTION pggit.rollback_plan(p_cutoff timestamptz, p_scope text[] DEFAULT NULL)
RETURNS SETOF pggit.rollback_plan_row
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pggit AS $$
DECLARE
    states pggit.rollback_object_state[] := ARRAY(SELECT s FROM pggit.rollback_states(p_cutoff, p_scope) s);
    steps pggit.rollback_step[];
    planned text[];
    removed text[];
    constraint_indexes text[];
    gone text[];
BEGIN
    steps := ARRAY(
        SELECT st
          FROM unnest(states) s
          LEFT JOIN LATERAL (SELECT p.fate FROM unnest(states) p
                              WHERE p.full_name = s.parent_name AND p.object_type IN ('table', 'partition', 'foreign table', 'view', 'materialized view', 'domain')
                              LIMIT 1) parent ON true
          CROSS JOIN LATERAL pggit.rollback_object_steps(s, parent.fate,
              CASE WHEN s.fate = 'create' AND s.object_type IN ('table', 'partition') THEN ARRAY(
                  SELECT 'CONSTRAINT ' || left(k.target_name, -length(' on ' || k.parent_name)) || ' ' || b.body
                    FROM unnest(states) k
                   CROSS JOIN LATERAL (SELECT pggit.constraint_body(k.object_type, k.parent_name, k.target_name, k.target_def) AS body) b
                   WHERE k.object_type = 'table constraint' AND k.parent_name = s.full_name AND k.fate = 'create' AND b.body LIKE 'FOREIGN KEY%')
              END) st);

    planned := ARRAY(SELECT s.full_name FROM unnest(states) s);
    removed := ARRAY(SELECT s.full_name FROM unnest(states) s WHERE s.fate = 'remove');
    -- A primary key, unique or exclusion constraint creates and drops its index itself.
    constraint_indexes := ARRAY(
        SELECT quote_ident((parse_ident(s.parent_name))[1]) || '.' || left(s.full_name, -length(' on ' || s.parent_name))
          FROM unnest(states) s
         WHERE s.object_type = 'table constraint'
           AND coalesce(pggit.constraint_body(s.object_type, s.parent_name, s.target_name, s.target_def),
                        pggit.constraint_body(s.object_type, s.parent_name, s.full_name, s.current_def)) ~ '^(PRIMARY KEY|UNIQUE|EXCLUDE)');
    steps := ARRAY(SELECT st FROM unnest(steps) st
                    WHERE NOT (st.object_type = 'index' AND st.object_name = ANY (constraint_indexes) AND st.action IN ('create', 'drop', 'drop to recreate')));

    -- Live objects in the way, reached through pggit.dependencies from what the plan drops or
    -- retypes; `doomed` when what they depend on does not come back.
    WITH RECURSIVE roots AS (
        SELECT st.object_name AS name, st.object_type AS type, bool_or(st.action = 'drop') AS doomed
          FROM unnest(steps) st WHERE st.action IN ('drop', 'drop to recreate', 'alter type')
         GROUP BY 1, 2
    ), reach (root, name, type, doomed) AS (
        SELECT r.name, r.name, r.type, r.doomed FROM roots r
        UNION
        SELECT reach.root, o.full_name, o.object_type, reach.doomed
          FROM reach
          JOIN pggit.dependencies d ON d.dependency_object = reach.name
          JOIN pggit.objects o ON o.is_active AND o.full_name = d.dependent_object
         WHERE o.full_name <> ALL (planned) AND NOT coalesce(o.parent_name = ANY (removed), false)
           AND (o.object_type IN ('view', 'materialized view', 'trigger')
                OR (o.object_type = 'table constraint' AND o.definition LIKE '% FOREIGN KEY (%'
                    AND (reach.doomed OR reach.type IN ('index', 'table constraint')))
                OR (o.object_type = 'index' AND EXISTS (SELECT 1 FROM pggit.objects v WHERE v.is_active AND v.full_name = o.parent_name
                                                           AND v.object_type IN ('view', 'materialized view'))))
    ), touched AS (
        SELECT r.name, bool_or(r.doomed) AS doomed, array_agg(DISTINCT r.root ORDER BY r.root) AS roots
          FROM reach r WHERE r.name <> r.root GROUP BY r.name
    ), touched_objects AS (
        SELECT t.*, o.object_type, o.parent_name, o.definition,
               (SELECT max(h.id) FROM pggit.history h WHERE h.object_id = o.id) AS seq,
               CASE WHEN t.doomed THEN 'depends on ' || array_to_string(t.roots, ', ') || ', which the rollback removes: dropped'
                    ELSE 'in the way of ' || array_to_string(t.roots, ', ') || ': dropped and re-created as it is now' END AS note
          FROM touched t JOIN pggit.objects o ON o.is_active AND o.full_name = t.name
    ), touched_steps AS (
        SELECT pggit.rollback_make_step(CASE WHEN x.object_type = 'table constraint' THEN 2 ELSE 1 END,
                   CASE x.object_type WHEN 'trigger' THEN 10 WHEN 'table constraint' THEN 10 ELSE 20 END, -x.seq,
                   x.object_type, x.name, CASE WHEN x.doomed THEN 'drop' ELSE 'drop to recreate' END,
                   CASE x.object_type
                       WHEN 'trigger' THEN format('DROP TRIGGER IF EXISTS %s ON %s;', left(x.name, -length(' on ' || x.parent_name)), x.parent_name)
                       WHEN 'table constraint' THEN format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s;', x.parent_name, left(x.name, -length(' on ' || x.parent_name)))
                       ELSE format('DROP %s IF EXISTS %s;', upper(x.object_type), x.name) END,
                   'ACCESS EXCLUSIVE on ' || coalesce(x.parent_name, x.name), NULL, x.note) AS st
          FROM touched_objects x WHERE x.object_type <> 'index'
        UNION ALL
        SELECT pggit.rollback_make_step(CASE WHEN x.object_type = 'table constraint' THEN 5 ELSE 6 END,
                   CASE x.object_type WHEN 'trigger' THEN 30 WHEN 'table constraint' THEN 30 WHEN 'index' THEN 20 ELSE 10 END, x.seq,
                   x.object_type, x.name, 'recreate', x.definition,
                   CASE x.object_type WHEN 'table constraint' THEN 'SHARE ROW EXCLUSIVE on ' || x.parent_name || ' and the table it references (checks every row)'
                                      WHEN 'index' THEN 'SHARE on ' || x.parent_name
                                      WHEN 'trigger' THEN 'SHARE ROW EXCLUSIVE on ' || x.parent_name
                                      WHEN 'materialized view' THEN 'ACCESS SHARE on the tables it reads'
                                      ELSE 'none (new view)' END,
                   x.definition, x.note)
          FROM touched_objects x WHERE NOT x.doomed
    )
    SELECT ARRAY(
        SELECT ROW(st.stage, st.ord, st.seq, st.object_type, st.object_name, st.action, st.sql, st.locks, st.loses_data,
                   st.needs_backup_data, coalesce((SELECT array_agg(x.name ORDER BY x.name) FROM touched_objects x WHERE st.object_name = ANY (x.roots)), '{}'),
                   st.note, st.expected_definition)::pggit.rollback_step
          FROM unnest(steps) st
        UNION ALL
        SELECT t.st FROM touched_steps t)
      INTO steps;

    -- Views and triggers dropped in stage 1 go dependents first, by their dependencies now; those
    -- that exist now come back in the opposite order, before objects that come back from history.
    gone := ARRAY(SELECT st.object_name FROM unnest(steps) st WHERE st.stage = 1);
    WITH RECURSIVE up (start, name, depth) AS (
        SELECT g, g, 0 FROM unnest(gone) g
        UNION
        SELECT up.start, d.dependent_object, up.depth + 1
          FROM up JOIN pggit.dependencies d ON d.dependency_object = up.name
         WHERE d.dependent_object = ANY (gone)
    ), height AS (
        SELECT up.start AS name, max(up.depth) AS height FROM up GROUP BY up.start
    )
    SELECT ARRAY(
        SELECT ROW(st.stage, st.ord,
                   CASE WHEN st.stage = 1 THEN h.height
                        WHEN st.stage = 6 AND h.height IS NOT NULL THEN -1 - h.height
                        ELSE st.seq END,
                   st.object_type, st.object_name, st.action, st.sql, st.locks, st.loses_data, st.needs_backup_data,
                   st.touches, st.note, st.expected_definition)::pggit.rollback_step
          FROM unnest(steps) st LEFT JOIN height h ON h.name = st.object_name)
      INTO steps;

    RETURN QUERY
        SELECT (row_number() OVER w)::integer, (dense_rank() OVER (ORDER BY st.stage))::integer, pggit.rollback_stage_name(st.stage),
               st.object_type, st.object_name, st.action, st.sql, st.locks, st.loses_data, st.needs_backup_data, st.touches,
               st.note, st.expected_definition
          FROM unnest(steps) st
        WINDOW w AS (ORDER BY st.stage, st.ord, st.seq, st.object_name, st.sql)
         ORDER BY st.stage, st.ord, st.seq, st.object_name, st.sql;
END
$$;

-- An object's definition as the catalog has it now: the live object of that name, else the object
-- that last had the name, wherever a rename took it (a plan names objects as they were called
-- before its own renames); NULL when that object is gone or pggit never knew the name.
CREATE FUNCTION pggit.live_definition(p_object_type text, p_full_name text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pggit AS $$
    SELECT d.definition
      FROM pggit.objects o CROSS JOIN LATERAL pggit.observe(o.classid, o.objid, o.objsubid) d
     WHERE o.is_active AND o.id = coalesce(
               (SELECT l.id FROM pggit.objects l WHERE l.is_active AND l.object_type = p_object_type AND l.full_name = p_full_name),
               (SELECT h.object_id FROM pggit.history h WHERE h.object_type = p_object_type AND h.full_name = p_full_name ORDER BY h.id DESC LIMIT 1))
$$;

-- Objects whose live definition is not the one recorded at p_cutoff (expected NULL: it should not
-- exist; actual NULL: it does not). Empty once a rollback to p_cutoff is complete.
CREATE FUNCTION pggit.rollback_mismatches(p_cutoff timestamptz, p_scope text[] DEFAULT NULL)
RETURNS TABLE (object_type text, object_name text, expected text, actual text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pggit AS $$
    WITH changed AS (
        SELECT DISTINCT h.object_id FROM pggit.history h WHERE h.change_timestamp > p_cutoff
    ), compared AS (
        SELECT o.object_type, coalesce(t.full_name, o.full_name) AS object_name, t.definition_after AS expected,
               CASE WHEN o.is_active THEN pggit.live_definition(o.object_type, o.full_name) END AS actual,
               o.full_name AS live_name, o.is_active
          FROM changed c JOIN pggit.objects o ON o.id = c.object_id
          LEFT JOIN LATERAL (SELECT h.full_name, h.definition_after FROM pggit.history h
                              WHERE h.object_id = o.id AND h.change_timestamp <= p_cutoff ORDER BY h.id DESC LIMIT 1) t ON true
         WHERE p_scope IS NULL OR o.full_name = ANY (p_scope) OR o.parent_name = ANY (p_scope)
    )
    SELECT c.object_type, c.object_name, c.expected, c.actual
      FROM compared c
     WHERE pggit.comparable_definition(c.object_type, c.expected) IS DISTINCT FROM pggit.comparable_definition(c.object_type, c.actual)
        OR (c.expected IS NOT NULL AND c.is_active AND c.live_name <> c.object_name)
$$;

-- The point and scope of "object `name` back to version `version`": the moment that version was
-- recorded, the object and its parts. `name` as pggit records it, or as the caller's search_path
-- resolves it (so no fixed search_path here).
CREATE FUNCTION pggit.rollback_object_point(p_name text, p_version text, OUT full_name text, OUT point timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    obj_id bigint;
    versions text;
BEGIN
    SELECT o.id, o.full_name INTO obj_id, full_name FROM pggit.objects o
     WHERE o.full_name IN (p_name, pggit.resolve_name(p_name))
     ORDER BY o.full_name = p_name DESC, o.is_active DESC, o.id DESC LIMIT 1;
    IF obj_id IS NULL THEN
        RAISE EXCEPTION 'rollback_object: unknown object %: pggit has never recorded it', p_name
            USING ERRCODE = 'undefined_object', HINT = 'Use the name as pggit.objects.full_name has it, e.g. public.film or public.film.title.';
    END IF;
    SELECT h.change_timestamp INTO point FROM pggit.history h
     WHERE h.object_id = obj_id AND h.version_after = p_version ORDER BY h.id DESC LIMIT 1;
    IF point IS NULL THEN
        SELECT string_agg(v.version_after, ', ' ORDER BY v.id) INTO versions
          FROM (SELECT h.version_after, min(h.id) AS id FROM pggit.history h
                 WHERE h.object_id = obj_id GROUP BY h.version_after) v;
        RAISE EXCEPTION 'rollback_object: version % of % was never recorded (recorded versions: %)', p_version, full_name, versions
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

CREATE FUNCTION pggit.preview_rollback(ts timestamptz) RETURNS SETOF pggit.rollback_plan_row
LANGUAGE sql STABLE AS $$
    SELECT * FROM pggit.rollback_plan(ts)
$$;

CREATE FUNCTION pggit.preview_rollback_object(name text, version text) RETURNS SETOF pggit.rollback_plan_row
LANGUAGE sql STABLE AS $$
    SELECT p.* FROM pggit.rollback_object_point(name, version) o CROSS JOIN LATERAL pggit.rollback_plan(o.point, ARRAY[o.full_name]) p
$$;

CREATE FUNCTION pggit.verify_rollback(ts timestamptz)
RETURNS TABLE (object_type text, object_name text, expected text, actual text)
LANGUAGE sql STABLE AS $$
    SELECT * FROM pggit.rollback_mismatches(ts)
$$;

-- Runs a plan in the caller's transaction: refuses unsupported steps, and steps that lose data
-- unless allowed; every statement under lock_timeout (a rollback must not queue behind a long
-- transaction while holding locks everyone else then queues behind); checks the result against
-- the recorded definitions. Any failure raises, so nothing of the plan stays.
CREATE FUNCTION pggit.apply_rollback(p_caller text, p_cutoff timestamptz, p_scope text[], p_lock_timeout text, p_allow_data_loss boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    plan pggit.rollback_plan_row[] := ARRAY(SELECT p FROM pggit.rollback_plan(p_cutoff, p_scope) p ORDER BY p.step);
    step pggit.rollback_plan_row;
    previous_timeout text := current_setting('lock_timeout');
    problem text;
    lossy text[] := ARRAY(SELECT DISTINCT p.object_name FROM unnest(plan) p WHERE p.loses_data ORDER BY 1);
    err_message text;
BEGIN
    problem := (SELECT string_agg(format('%s %s (%s)', p.object_type, p.object_name, p.note), '; ') FROM unnest(plan) p WHERE p.sql IS NULL);
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%: nothing done: the plan has changes rollback cannot undo: %', p_caller, problem USING ERRCODE = 'feature_not_supported';
    END IF;
    IF cardinality(lossy) > 0 AND NOT coalesce(p_allow_data_loss, false) THEN
        RAISE EXCEPTION '%: nothing done: the rollback would drop % with their data (created after %)', p_caller, array_to_string(lossy, ', '), p_cutoff
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Look at the plan (pggit.preview_rollback), keep a backup, then pass allow_data_loss => true.';
    END IF;
    BEGIN
        PERFORM set_config('lock_timeout', p_lock_timeout, true);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION '%: lock_timeout % is not a valid duration (e.g. ''5s'', ''500ms'')', p_caller, quote_literal(p_lock_timeout)
            USING ERRCODE = 'invalid_parameter_value';
    END;
    FOREACH step IN ARRAY plan LOOP
        BEGIN
            EXECUTE step.sql;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS err_message = MESSAGE_TEXT;
            RAISE EXCEPTION '%: nothing done: step % (stage %, % %) failed: %', p_caller, step.step, step.stage, step.action, step.object_name, err_message
                USING ERRCODE = SQLSTATE, DETAIL = step.sql;
        END;
    END LOOP;
    PERFORM set_config('lock_timeout', previous_timeout, true);
    problem := (SELECT string_agg(format('%s %s', m.object_type, m.object_name), ', ') FROM pggit.rollback_mismatches(p_cutoff, p_scope) m);
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%: nothing done: after the plan these objects still differ from their recorded definitions: %', p_caller, problem
            USING ERRCODE = 'internal_error';
    END IF;
    RETURN jsonb_build_object(
        'target', p_cutoff,
        'statements', cardinality(plan),
        'stages', coalesce((SELECT max(p.stage) FROM unnest(plan) p), 0),
        'data_lost', to_jsonb(lossy),
        'recreated_without_data', to_jsonb(ARRAY(SELECT p.object_name FROM unnest(plan) p WHERE p.needs_backup_data ORDER BY p.step)));
END
$$;

-- The guide's calls: SELECT pggit.rollback_to_timestamp('2024-06-15 10:00:00');
--                    SELECT pggit.rollback_object('public.users', '1.2.0');
CREATE FUNCTION pggit.rollback_to_timestamp(ts timestamptz, lock_timeout text DEFAULT '5s', allow_data_loss boolean DEFAULT false)
RETURNS jsonb
LANGUAGE sql AS $$
    SELECT pggit.apply_rollback('rollback_to_timestamp', ts, NULL, lock_timeout, allow_data_loss)
$$;

CREATE FUNCTION pggit.rollback_object(name text, version text, lock_timeout text DEFAULT '5s', allow_data_loss boolean DEFAULT false)
RETURNS jsonb
LANGUAGE sql AS $$
    SELECT pggit.apply_rollback('rollback_object', o.point, ARRAY[o.full_name], lock_timeout, allow_data_loss) || jsonb_build_object('object', o.full_name)
      FROM pggit.rollback_object_point(name, version) o
$$;
