-- pggit change tracking: event triggers record every CREATE / ALTER / DROP / RENAME / COMMENT of
-- the objects in tracked schemas into pggit.objects, pggit.history and pggit.dependencies, with the
-- definition before and after each change and a semantic version per object.
--
-- Names are PostgreSQL's own canonical identities (pg_identify_object), which quote every part
-- that needs it, so names with quotes, dots, spaces, upper case or non-ASCII letters round-trip.
-- The entry points (track_event, which the event triggers call, baseline, configure_tracking,
-- track_all_schemas) are SECURITY DEFINER with a fixed search_path, so that roles without rights on pggit
-- can still run DDL and have it recorded, and names resolve the same for everyone. The functions
-- they call run inside that context and carry no settings of their own (switching settings on
-- every call costs more than the work of a small function); none of them is callable by PUBLIC.
-- Small read-only helpers use pg_catalog, which is always searched first, and qualified pggit
-- names, so PostgreSQL can inline them into the queries that call them thousands of times.
-- Tracking runs with plan_cache_mode = force_generic_plan (set by track_event): PL/pgSQL keeps its
-- query plans for the session, but with the arguments folded in a custom plan looks cheaper to
-- the planner, which would then re-plan these large queries on every DDL statement.

-- Which schemas are tracked, from pggit.settings. PL/pgSQL, which keeps its plan: a SQL function
-- that reads tables cannot be inlined and would be planned again at every call.
CREATE FUNCTION pggit.is_tracked_namespace(nsp oid) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT CASE
        WHEN n.nspname IN ('pggit', 'pggit_ops') THEN false              -- never track ourselves
        WHEN n.nspname LIKE 'pg\_toast%' THEN false
        WHEN n.nspname LIKE 'pg\_temp\_%' THEN NOT s.exclude_temp_tables
        WHEN n.nspname IN ('pg_catalog', 'information_schema') THEN s.track_system_objects
        WHEN s.tracked_schemas IS NOT NULL THEN n.nspname = ANY (s.tracked_schemas)
        ELSE true
    END
    FROM pg_namespace n, pggit.settings s
    WHERE n.oid = nsp);
END
$$;

-- What pggit calls an object at a catalog address, or no row if it does not track such a thing.
-- One SQL query (inlined into its callers), not a procedure: it runs for every object a statement
-- touches and every dependency it has.
CREATE FUNCTION pggit.describe(p_classid oid, p_objid oid, p_objsubid integer)
RETURNS TABLE (object_type text, full_name text, schema_name text, parent_name text,
               parent_classid oid, parent_objid oid)
LANGUAGE sql STABLE AS $$
    SELECT k.object_type,
           (pg_identify_object(p_classid, p_objid, p_objsubid)).identity,
           CASE WHEN k.object_type <> 'schema' THEN n.nspname END,
           CASE WHEN k.parent_objid IS NOT NULL THEN (pg_identify_object(k.parent_classid, k.parent_objid, 0)).identity END,
           CASE WHEN k.parent_objid IS NOT NULL THEN k.parent_classid END, k.parent_objid
      FROM (
        SELECT c.relnamespace AS nsp,
               CASE WHEN p_objsubid > 0 THEN
                        -- columns of tables only (a view's columns are part of its definition)
                        CASE WHEN c.relkind IN ('r', 'p', 'f') AND EXISTS (
                                 SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = p_objsubid AND NOT a.attisdropped)
                             THEN 'table column' END
                    WHEN c.relispartition AND c.relkind IN ('r', 'p', 'f') THEN 'partition'
                    -- an identity column's sequence is part of the column
                    WHEN c.relkind = 'S' AND EXISTS (
                        SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i') THEN NULL
                    -- toast tables are not tracked; composite types are tracked as types
                    ELSE CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'f' THEN 'foreign table'
                                        WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                        WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' WHEN 'S' THEN 'sequence' END
               END AS object_type,
               'pg_class'::regclass::oid AS parent_classid,
               CASE WHEN p_objsubid > 0 THEN c.oid
                    WHEN c.relispartition AND c.relkind IN ('r', 'p', 'f') THEN (SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = c.oid)
                    WHEN c.relkind IN ('i', 'I') THEN (SELECT x.indrelid FROM pg_index x WHERE x.indexrelid = c.oid)
               END AS parent_objid
          FROM pg_class c
         WHERE p_classid = 'pg_class'::regclass AND c.oid = p_objid
           -- extension members are the extension's business
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        UNION ALL
        SELECT c.connamespace,
               CASE WHEN c.conrelid <> 0 THEN 'table constraint' ELSE 'domain constraint' END,
               CASE WHEN c.conrelid <> 0 THEN 'pg_class'::regclass ELSE 'pg_type'::regclass END::oid,
               CASE WHEN c.conrelid <> 0 THEN c.conrelid ELSE c.contypid END
          FROM pg_constraint c
         WHERE p_classid = 'pg_constraint'::regclass AND c.oid = p_objid
        UNION ALL
        SELECT c.relnamespace, 'trigger', 'pg_class'::regclass::oid, t.tgrelid
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         WHERE p_classid = 'pg_trigger'::regclass AND t.oid = p_objid AND NOT t.tgisinternal
        UNION ALL
        SELECT p.pronamespace, CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END, NULL, NULL
          FROM pg_proc p
         WHERE p_classid = 'pg_proc'::regclass AND p.oid = p_objid
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
        UNION ALL
        -- domains, enums, ranges and free-standing composite types (not base, array, multirange or row types)
        SELECT t.typnamespace,
               CASE WHEN t.typtype = 'd' THEN 'domain'
                    WHEN t.typtype IN ('e', 'r') THEN 'type'
                    WHEN t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c' THEN 'type' END,
               NULL, NULL
          FROM pg_type t
         WHERE p_classid = 'pg_type'::regclass AND t.oid = p_objid
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
        UNION ALL
        SELECT n.oid, 'schema', NULL, NULL FROM pg_namespace n
         WHERE p_classid = 'pg_namespace'::regclass AND n.oid = p_objid
      ) k
      JOIN pg_namespace n ON n.oid = k.nsp
     WHERE k.object_type IS NOT NULL AND pggit.is_tracked_namespace(k.nsp)
$$;

-- Every live object pggit tracks, one row each.
CREATE FUNCTION pggit.catalog_objects()
RETURNS TABLE (classid oid, objid oid, objsubid integer, object_type text, full_name text, schema_name text,
               parent_name text, parent_classid oid, parent_objid oid)
LANGUAGE sql STABLE SET search_path = pg_catalog, pggit AS $$
    WITH addresses (classid, objid, objsubid) AS (
        SELECT 'pg_namespace'::regclass, n.oid, 0 FROM pg_namespace n
        UNION ALL
        SELECT 'pg_class'::regclass, c.oid, 0 FROM pg_class c WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'i', 'I', 'S')
        UNION ALL
        SELECT 'pg_class'::regclass, a.attrelid, a.attnum::integer
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         WHERE c.relkind IN ('r', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT 'pg_constraint'::regclass, c.oid, 0 FROM pg_constraint c
        UNION ALL
        SELECT 'pg_trigger'::regclass, t.oid, 0 FROM pg_trigger t WHERE NOT t.tgisinternal
        UNION ALL
        SELECT 'pg_proc'::regclass, p.oid, 0 FROM pg_proc p
        UNION ALL
        SELECT 'pg_type'::regclass, t.oid, 0 FROM pg_type t WHERE t.typtype IN ('c', 'd', 'e', 'r')
    ), candidates AS (
        -- Cheap namespace filter first, so system catalogs are not described one by one.
        SELECT a.* FROM addresses a
         WHERE a.classid = 'pg_namespace'::regclass
            OR pggit.is_tracked_namespace(CASE a.classid
                 WHEN 'pg_class'::regclass THEN (SELECT c.relnamespace FROM pg_class c WHERE c.oid = a.objid)
                 WHEN 'pg_constraint'::regclass THEN (SELECT c.connamespace FROM pg_constraint c WHERE c.oid = a.objid)
                 WHEN 'pg_trigger'::regclass THEN (SELECT c.relnamespace FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.oid = a.objid)
                 WHEN 'pg_proc'::regclass THEN (SELECT p.pronamespace FROM pg_proc p WHERE p.oid = a.objid)
                 WHEN 'pg_type'::regclass THEN (SELECT t.typnamespace FROM pg_type t WHERE t.oid = a.objid) END)
    )
    SELECT a.classid, a.objid, a.objsubid, d.*
      FROM candidates a CROSS JOIN LATERAL pggit.describe(a.classid, a.objid, a.objsubid) d
$$;

-- A relation's columns as they would be written in CREATE TABLE, all in one query (a table
-- definition needs every column; reading them one by one dominated the cost of tracking), with
-- each column's signature: its type and nullability, so a type change or a new NOT NULL
-- (breaking) can be told from a new default. `recent`: this transaction wrote the column or its
-- default (age(xmin) <= 0: the row is as new as the current transaction, or newer).
CREATE FUNCTION pggit.columns_sql(p_relid oid) RETURNS TABLE (attnum integer, sql text, signature text, recent boolean)
LANGUAGE sql STABLE AS $$
    SELECT a.attnum::integer,
           format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod))
        || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                THEN ' COLLATE ' || (SELECT format('%I.%I', n.nspname, co.collname) FROM pg_collation co
                                      JOIN pg_namespace n ON n.oid = co.collnamespace WHERE co.oid = a.attcollation)
                ELSE '' END
        || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'
                              WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END
        || CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') STORED'
                WHEN ad.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid)
                ELSE '' END
        || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
           format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
           age(a.xmin) <= 0 OR coalesce(age(ad.xmin) <= 0, false)
      FROM pg_attribute a
      JOIN pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped
$$;

-- A COMMENT statement for an object that has a comment, else ''. Sub-query free and as volatile as
-- format(), so inlined.
CREATE FUNCTION pggit.comment_line(p_kind text, p_name text, p_description text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_description IS NULL THEN '' ELSE E'\n' || format('COMMENT ON %s %s IS %L;', p_kind, p_name, p_description) END
$$;

CREATE FUNCTION pggit.comment_sql(p_classid oid, p_objid oid, p_objsubid integer, p_kind text, p_name text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT pggit.comment_line(p_kind, p_name, d.description)
      FROM (SELECT) one
      LEFT JOIN pg_description d ON d.classoid = p_classid AND d.objoid = p_objid AND d.objsubid = p_objsubid
$$;

CREATE FUNCTION pggit.index_sql(p_indexrelid oid, p_name text, p_description text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT pg_get_indexdef(p_indexrelid) || ';' || pggit.comment_line('INDEX', p_name, p_description)
$$;

CREATE FUNCTION pggit.trigger_sql(p_trigger oid, p_name text, p_description text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT pg_get_triggerdef(p_trigger, true) || ';' || pggit.comment_line('TRIGGER', p_name, p_description)
$$;

-- An object as it is now: what describe() says of it, the DDL that recreates it (its comment
-- included) and, for columns, its signature. Tracking compares these rows with pggit.objects.
CREATE TYPE pggit.observed AS (classid oid, objid oid, objsubid integer, object_type text, full_name text,
                               schema_name text, parent_name text, definition text, signature text);

-- A table (or partition, or foreign table) with its parts: columns, constraints, indexes (a
-- constraint brings its index along unannounced) and triggers, every definition computed in this
-- one query. With p_recent_only, only the parts whose catalog rows (or comment) this transaction
-- wrote, and always the table itself: an ALTER TABLE rewrites the catalog rows of what it changes.
CREATE FUNCTION pggit.table_parts(p_relid oid, p_recent_only boolean DEFAULT false) RETURNS SETOF pggit.observed
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY WITH rel AS MATERIALIZED (
        SELECT c.oid, c.relkind, c.relispartition, c.relpersistence, c.reloptions, c.relpartbound, n.nspname::text AS nspname,
               (pg_identify_object('pg_class'::regclass, c.oid, 0)).identity AS ident,
               (SELECT (pg_identify_object('pg_class'::regclass, i.inhparent, 0)).identity
                  FROM pg_inherits i WHERE c.relispartition AND i.inhrelid = c.oid) AS parent
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid = p_relid AND c.relkind IN ('r', 'p', 'f') AND pggit.is_tracked_namespace(c.relnamespace)
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    ), cols AS MATERIALIZED (
        SELECT col.* FROM rel, pggit.columns_sql(rel.oid) col
    ), cons AS MATERIALIZED (
        SELECT k.oid, k.conname, k.contype, k.conparentid, k.conkey, pg_get_constraintdef(k.oid) AS def,
               (pg_identify_object('pg_constraint'::regclass, k.oid, 0)).identity AS ident, age(k.xmin) <= 0 AS recent
          FROM rel JOIN pg_constraint k ON k.conrelid = rel.oid
    )
    SELECT 'pg_class'::regclass::oid, rel.oid, 0,
           CASE WHEN rel.relispartition THEN 'partition' WHEN rel.relkind = 'f' THEN 'foreign table' ELSE 'table' END,
           rel.ident, rel.nspname, rel.parent,
           CASE WHEN rel.relispartition
                THEN format('CREATE TABLE %s PARTITION OF %s %s', rel.ident, rel.parent, pg_get_expr(rel.relpartbound, rel.oid))
                ELSE format(E'CREATE %sTABLE %s (\n    %s\n)', CASE rel.relpersistence WHEN 'u' THEN 'UNLOGGED ' ELSE '' END, rel.ident,
                            array_to_string(array_cat(
                                array(SELECT c.sql FROM cols c ORDER BY c.attnum),
                                -- constraints inherited from a partitioned parent are the parent's
                                array(SELECT format('CONSTRAINT %I %s', k.conname, k.def) FROM cons k
                                       WHERE k.conparentid = 0 ORDER BY k.contype, k.conname)),
                                E',\n    '))
                     || CASE WHEN rel.relkind = 'p' THEN ' PARTITION BY ' || pg_get_partkeydef(rel.oid) ELSE '' END
           END
           || coalesce(' WITH (' || array_to_string(rel.reloptions, ', ') || ')', '')
           || ';' || pggit.comment_line('TABLE', rel.ident, d.description),
           NULL
      FROM rel LEFT JOIN pg_description d ON d.classoid = 'pg_class'::regclass AND d.objoid = rel.oid AND d.objsubid = 0
    UNION ALL
    SELECT 'pg_class'::regclass::oid, rel.oid, c.attnum, 'table column', p.ident, rel.nspname, rel.ident,
           format('ALTER TABLE %s ADD COLUMN %s;', rel.ident, c.sql) || pggit.comment_line('COLUMN', p.ident, d.description),
           c.signature
      FROM rel CROSS JOIN cols c
      CROSS JOIN LATERAL (SELECT (pg_identify_object('pg_class'::regclass, rel.oid, c.attnum)).identity AS ident) p
      LEFT JOIN pg_description d ON d.classoid = 'pg_class'::regclass AND d.objoid = rel.oid AND d.objsubid = c.attnum
     WHERE NOT p_recent_only OR c.recent OR age(d.xmin) <= 0
    UNION ALL
    SELECT 'pg_constraint'::regclass::oid, k.oid, 0, 'table constraint', k.ident, rel.nspname, rel.ident,
           format('ALTER TABLE %s ADD CONSTRAINT %I %s;', rel.ident, k.conname, k.def) || pggit.comment_line('CONSTRAINT', k.ident, d.description),
           NULL
      FROM rel CROSS JOIN cons k
      LEFT JOIN pg_description d ON d.classoid = 'pg_constraint'::regclass AND d.objoid = k.oid AND d.objsubid = 0
     WHERE NOT p_recent_only OR k.recent OR age(d.xmin) <= 0
        OR EXISTS (SELECT 1 FROM cols c WHERE c.recent AND c.attnum = ANY (k.conkey))   -- prints a changed column
    UNION ALL
    SELECT 'pg_class'::regclass::oid, x.indexrelid, 0, 'index', p.ident, rel.nspname, rel.ident, pggit.index_sql(x.indexrelid, p.ident, d.description), NULL
      FROM rel JOIN pg_index x ON x.indrelid = rel.oid JOIN pg_class i ON i.oid = x.indexrelid
      CROSS JOIN LATERAL (SELECT (pg_identify_object('pg_class'::regclass, x.indexrelid, 0)).identity AS ident) p
      LEFT JOIN pg_description d ON d.classoid = 'pg_class'::regclass AND d.objoid = x.indexrelid AND d.objsubid = 0
     WHERE NOT p_recent_only OR age(x.xmin) <= 0 OR age(i.xmin) <= 0 OR age(d.xmin) <= 0
        OR EXISTS (SELECT 1 FROM cols c WHERE c.recent AND c.attnum = ANY (x.indkey::int2[]))   -- prints a changed column
    UNION ALL
    SELECT 'pg_trigger'::regclass::oid, t.oid, 0, 'trigger', p.ident, rel.nspname, rel.ident, pggit.trigger_sql(t.oid, p.ident, d.description), NULL
      FROM rel JOIN pg_trigger t ON t.tgrelid = rel.oid AND NOT t.tgisinternal
      CROSS JOIN LATERAL (SELECT (pg_identify_object('pg_trigger'::regclass, t.oid, 0)).identity AS ident) p
      LEFT JOIN pg_description d ON d.classoid = 'pg_trigger'::regclass AND d.objoid = t.oid AND d.objsubid = 0
     WHERE NOT p_recent_only OR age(t.xmin) <= 0 OR age(d.xmin) <= 0;
END
$$;

-- A domain with its constraints.
CREATE FUNCTION pggit.domain_parts(p_typid oid) RETURNS SETOF pggit.observed
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY WITH dom AS MATERIALIZED (
        SELECT t.*, n.nspname::text AS nspname, (pg_identify_object('pg_type'::regclass, t.oid, 0)).identity AS ident,
               bt.typcollation AS base_collation
          FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_type bt ON bt.oid = t.typbasetype
         WHERE t.oid = p_typid AND t.typtype = 'd' AND pggit.is_tracked_namespace(t.typnamespace)
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
    ), cons AS MATERIALIZED (
        SELECT k.oid, k.conname, pg_get_constraintdef(k.oid) AS def,
               (pg_identify_object('pg_constraint'::regclass, k.oid, 0)).identity AS ident
          FROM dom JOIN pg_constraint k ON k.contypid = dom.oid
    )
    SELECT 'pg_type'::regclass::oid, dom.oid, 0, 'domain', dom.ident, dom.nspname, NULL,
           format('CREATE DOMAIN %s AS %s', dom.ident, format_type(dom.typbasetype, dom.typtypmod))
           || CASE WHEN dom.typcollation <> 0 AND dom.typcollation <> dom.base_collation
                   THEN ' COLLATE ' || dom.typcollation::regcollation::text ELSE '' END
           || CASE WHEN dom.typdefault IS NOT NULL THEN ' DEFAULT ' || dom.typdefault ELSE '' END
           || CASE WHEN dom.typnotnull THEN ' NOT NULL' ELSE '' END
           || coalesce((SELECT string_agg(format(E'\n    CONSTRAINT %I %s', k.conname, k.def), '' ORDER BY k.conname) FROM cons k), '')
           || ';' || pggit.comment_line('DOMAIN', dom.ident, d.description),
           NULL
      FROM dom LEFT JOIN pg_description d ON d.classoid = 'pg_type'::regclass AND d.objoid = dom.oid AND d.objsubid = 0
    UNION ALL
    SELECT 'pg_constraint'::regclass::oid, k.oid, 0, 'domain constraint', k.ident, dom.nspname, dom.ident,
           format('ALTER DOMAIN %s ADD CONSTRAINT %I %s;', dom.ident, k.conname, k.def) || pggit.comment_line('CONSTRAINT', k.ident, d.description),
           NULL
      FROM dom CROSS JOIN cons k
      LEFT JOIN pg_description d ON d.classoid = 'pg_constraint'::regclass AND d.objoid = k.oid AND d.objsubid = 0;
END
$$;

-- The table or domain an object is recorded with, itself included: objects with parts are
-- always read whole. No row for objects that stand alone (views, functions, sequences, ...).
CREATE FUNCTION pggit.scope_of(p_classid oid, p_objid oid) RETURNS TABLE (classid oid, objid oid)
LANGUAGE sql STABLE AS $$
    SELECT 'pg_class'::regclass::oid, r.oid FROM pg_class r
     WHERE r.relkind IN ('r', 'p', 'f') AND r.oid = CASE p_classid
           WHEN 'pg_class'::regclass THEN (SELECT CASE WHEN c.relkind IN ('i', 'I') THEN (SELECT x.indrelid FROM pg_index x WHERE x.indexrelid = c.oid)
                                                       ELSE c.oid END
                                             FROM pg_class c WHERE c.oid = p_objid)
           WHEN 'pg_constraint'::regclass THEN (SELECT k.conrelid FROM pg_constraint k WHERE k.oid = p_objid)
           WHEN 'pg_trigger'::regclass THEN (SELECT t.tgrelid FROM pg_trigger t WHERE t.oid = p_objid) END
    UNION ALL
    SELECT 'pg_type'::regclass::oid, t.oid FROM pg_type t
     WHERE t.typtype = 'd' AND t.oid = CASE p_classid
           WHEN 'pg_type'::regclass THEN p_objid
           WHEN 'pg_constraint'::regclass THEN (SELECT k.contypid FROM pg_constraint k WHERE k.oid = p_objid) END
$$;

CREATE FUNCTION pggit.scope_objects(p_classid oid, p_objid oid, p_recent_only boolean DEFAULT false) RETURNS SETOF pggit.observed
LANGUAGE sql STABLE AS $$
    SELECT p.* FROM pggit.table_parts(p_objid, p_recent_only) p WHERE p_classid = 'pg_class'::regclass
    UNION ALL
    SELECT p.* FROM pggit.domain_parts(p_objid) p WHERE p_classid = 'pg_type'::regclass
$$;

-- DDL that recreates an object that stands alone (not a table or domain or a part of one).
CREATE FUNCTION pggit.standalone_definition(p_classid oid, p_objid oid, p_object_type text, p_ident text)
RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pggit AS $$
DECLARE
    def text;
BEGIN
    CASE p_object_type
    WHEN 'schema' THEN
        SELECT format('CREATE SCHEMA %I AUTHORIZATION %I;', n.nspname, pg_get_userbyid(n.nspowner))
          INTO def FROM pg_namespace n WHERE n.oid = p_objid;
        RETURN def || pggit.comment_sql(p_classid, p_objid, 0, 'SCHEMA', p_ident);
    WHEN 'index' THEN   -- of a materialized view
        RETURN pggit.index_sql(p_objid, p_ident, (SELECT d.description FROM pg_description d WHERE d.classoid = p_classid AND d.objoid = p_objid AND d.objsubid = 0));
    WHEN 'trigger' THEN   -- on a view
        RETURN pggit.trigger_sql(p_objid, p_ident, (SELECT d.description FROM pg_description d WHERE d.classoid = p_classid AND d.objoid = p_objid AND d.objsubid = 0));
    WHEN 'view' THEN
        SELECT format('CREATE OR REPLACE VIEW %s%s AS%s', p_ident,
                      coalesce(' WITH (' || array_to_string(reloptions, ', ') || ')', ''),
                      E'\n' || rtrim(pg_get_viewdef(p_objid, true), ';'))
          INTO def FROM pg_class WHERE oid = p_objid;
        RETURN def || ';' || pggit.comment_sql(p_classid, p_objid, 0, 'VIEW', p_ident);
    WHEN 'materialized view' THEN
        RETURN format(E'CREATE MATERIALIZED VIEW %s AS\n%s\nWITH DATA;', p_ident, rtrim(pg_get_viewdef(p_objid, true), ';'))
            || pggit.comment_sql(p_classid, p_objid, 0, 'MATERIALIZED VIEW', p_ident);
    WHEN 'sequence' THEN
        SELECT format('CREATE SEQUENCE %s AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s;',
                      p_ident, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache,
                      CASE WHEN s.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END)
            || coalesce((SELECT format(E'\nALTER SEQUENCE %s OWNED BY %s.%I;', p_ident, d.refobjid::regclass, a.attname)
                           FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = p_objid AND d.deptype = 'a'
                            AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0), '')
          INTO def FROM pg_sequence s WHERE s.seqrelid = p_objid;
        RETURN def || pggit.comment_sql(p_classid, p_objid, 0, 'SEQUENCE', p_ident);
    WHEN 'function', 'procedure' THEN
        RETURN rtrim(pg_get_functiondef(p_objid), E'\n') || ';'
            || pggit.comment_sql(p_classid, p_objid, 0, upper(p_object_type), p_ident);
    WHEN 'aggregate' THEN
        SELECT format('CREATE AGGREGATE %s.%I(%s) (SFUNC = %s, STYPE = %s%s%s%s);',
                      quote_ident(n.nspname), p.proname, pg_get_function_identity_arguments(p.oid),
                      a.aggtransfn::regproc, format_type(a.aggtranstype, NULL),
                      CASE WHEN a.aggfinalfn <> 0 THEN ', FINALFUNC = ' || a.aggfinalfn::regproc ELSE '' END,
                      CASE WHEN a.agginitval IS NOT NULL THEN format(', INITCOND = %L', a.agginitval) ELSE '' END,
                      CASE WHEN a.aggsortop <> 0 THEN ', SORTOP = OPERATOR(' || a.aggsortop::regoperator::text || ')' ELSE '' END)
          INTO def
          FROM pg_proc p JOIN pg_aggregate a ON a.aggfnoid = p.oid JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE p.oid = p_objid;
        RETURN def || pggit.comment_sql(p_classid, p_objid, 0, 'AGGREGATE', p_ident);
    WHEN 'type' THEN
        SELECT CASE t.typtype
                 WHEN 'e' THEN format('CREATE TYPE %s AS ENUM (%s);', p_ident,
                                      (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                         FROM pg_enum e WHERE e.enumtypid = t.oid))
                 WHEN 'c' THEN format(E'CREATE TYPE %s AS (\n    %s\n);', p_ident,
                                      (SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), E',\n    ' ORDER BY a.attnum)
                                         FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped))
                 WHEN 'r' THEN format('CREATE TYPE %s AS RANGE (SUBTYPE = %s);', p_ident,
                                      (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid))
               END
          INTO def FROM pg_type t WHERE t.oid = p_objid;
        RETURN def || pggit.comment_sql(p_classid, p_objid, 0, 'TYPE', p_ident);
    ELSE
        RETURN NULL;
    END CASE;
END
$$;

-- The object at a catalog address as it is now, or no row if pggit does not track it.
CREATE FUNCTION pggit.observe(p_classid oid, p_objid oid, p_objsubid integer) RETURNS SETOF pggit.observed
LANGUAGE sql STABLE AS $$
    SELECT p.* FROM pggit.scope_of(p_classid, p_objid) s CROSS JOIN LATERAL pggit.scope_objects(s.classid, s.objid) p
     WHERE p.classid = p_classid AND p.objid = p_objid AND p.objsubid = p_objsubid
    UNION ALL
    SELECT p_classid, p_objid, p_objsubid, d.object_type, d.full_name, d.schema_name, d.parent_name,
           pggit.standalone_definition(p_classid, p_objid, d.object_type, d.full_name), NULL
      FROM pggit.describe(p_classid, p_objid, p_objsubid) d
     WHERE NOT EXISTS (SELECT 1 FROM pggit.scope_of(p_classid, p_objid))
$$;

-- DDL that recreates the object as it is now (its comment included). Type names print qualified
-- unless visible on the search_path, so definitions are always computed with the same one.
CREATE FUNCTION pggit.object_definition(p_classid oid, p_objid oid, p_objsubid integer) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pggit AS $$
    SELECT o.definition FROM pggit.observe(p_classid, p_objid, p_objsubid) o
$$;

-- Every live object pggit tracks as it is now, tables and domains read whole.
CREATE FUNCTION pggit.observe_all() RETURNS SETOF pggit.observed
LANGUAGE sql STABLE SET search_path = pg_catalog, pggit AS $$
    SELECT p.* FROM pg_class c CROSS JOIN LATERAL pggit.table_parts(c.oid) p WHERE c.relkind IN ('r', 'p', 'f')
    UNION ALL
    SELECT p.* FROM pg_type t CROSS JOIN LATERAL pggit.domain_parts(t.oid) p WHERE t.typtype = 'd'
    UNION ALL
    SELECT p.* FROM pggit.catalog_objects() c CROSS JOIN LATERAL pggit.observe(c.classid, c.objid, c.objsubid) p
     WHERE NOT EXISTS (SELECT 1 FROM pggit.scope_of(c.classid, c.objid))
$$;

-- The tracked object a referenced catalog entry belongs to: a rule to its view, a default to its
-- column, an array or row type to its element or table, a view column to the view.
CREATE FUNCTION pggit.owner_of(p_classid oid, p_objid oid, p_objsubid integer)
RETURNS TABLE (full_name text)
LANGUAGE sql STABLE AS $$
    SELECT d.full_name
      FROM (
        SELECT 'pg_class'::regclass::oid AS classid, r.ev_class AS objid, 0 AS objsubid
          FROM pg_rewrite r WHERE p_classid = 'pg_rewrite'::regclass AND r.oid = p_objid
        UNION ALL
        SELECT 'pg_class'::regclass::oid, a.adrelid, a.adnum::integer
          FROM pg_attrdef a WHERE p_classid = 'pg_attrdef'::regclass AND a.oid = p_objid
        UNION ALL
        SELECT CASE WHEN rc.relkind <> 'c' THEN 'pg_class'::regclass ELSE 'pg_type'::regclass END::oid,
               CASE WHEN rc.relkind <> 'c' THEN t.typrelid   -- a table's row type is the table
                    WHEN t.typelem <> 0 AND t.typsubscript = 'array_subscript_handler'::regproc THEN t.typelem
                    ELSE t.oid END,
               0
          FROM pg_type t LEFT JOIN pg_class rc ON t.typtype = 'c' AND rc.oid = t.typrelid
         WHERE p_classid = 'pg_type'::regclass AND t.oid = p_objid
        UNION ALL
        SELECT p_classid, p_objid,
               CASE WHEN p_classid = 'pg_class'::regclass AND p_objsubid > 0
                         AND (SELECT c.relkind FROM pg_class c WHERE c.oid = p_objid) NOT IN ('r', 'p', 'f') THEN 0
                    ELSE p_objsubid END
         WHERE p_classid NOT IN ('pg_rewrite'::regclass, 'pg_attrdef'::regclass, 'pg_type'::regclass)
      ) a
      CROSS JOIN LATERAL pggit.describe(a.classid, a.objid, a.objsubid) d
$$;

CREATE FUNCTION pggit.severity_rank(severity text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE severity WHEN 'MAJOR' THEN 3 WHEN 'MINOR' THEN 2 WHEN 'PATCH' THEN 1 ELSE 0 END
$$;

-- STABLE like its || on integers, so that it is inlined.
CREATE FUNCTION pggit.version_text(major integer, minor integer, patch integer) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT major || '.' || minor || '.' || patch $$;

-- Records what changed among `p_observed` (objects as they are now) against pggit.objects, in a
-- few set-wide statements: new objects, re-created ones, renames (a known catalog address under
-- a new name), changed definitions. Each change bumps the object's version, writes a history row
-- with the definitions before and after, and re-reads the object's dependencies.
--   CREATE: MINOR (a new object starts at 1.0.0); re-created after a drop, RENAME, a column's type
--   change or new NOT NULL: MAJOR; COMMENT: PATCH; other ALTERs: MINOR, or the hint when larger.
--   Unchanged definitions are recorded only with a hint (a part of a table changed) as an ALTER.
-- With a scope (a table or domain and all its parts in p_observed), the hint is the scope
-- object's alone, and its severity is at least the largest of its parts' changes (an index's
-- change is a PATCH to its table). Returns the largest severity recorded as a parent sees it, or
-- NULL when nothing changed.
CREATE FUNCTION pggit.sync(p_observed pggit.observed[], p_command_tag text, p_severity_hint text DEFAULT NULL,
                           p_baseline boolean DEFAULT false, p_scope_classid oid DEFAULT NULL, p_scope_objid oid DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    changed pggit.observed[];
    renamed_from text[];
    renamed_to text[];
    parent_severity text;
BEGIN
    IF coalesce(cardinality(p_observed), 0) = 0 THEN
        RETURN NULL;
    END IF;
    WITH observed AS (
        SELECT DISTINCT ON (x.classid, x.objid, x.objsubid) x.*,
               coalesce(x.classid = p_scope_classid AND x.objid = p_scope_objid AND x.objsubid = 0, false) AS is_scope
          FROM unnest(p_observed) x WHERE x.full_name IS NOT NULL
    ), matched AS (
        -- The live object is known by its catalog address; after a rename only the address still
        -- matches. After a restore the addresses are new, and a dropped object re-created takes up
        -- its old row: both are found by name.
        SELECT x.*, k.id AS known_id, k.full_name AS known_name, k.is_active AS known_active, k.definition AS known_definition,
               k.signature AS known_signature, k.version_major AS ma, k.version_minor AS mi, k.version_patch AS pa,
               k.created_at AS known_created_at,
               (k.classid, k.objid, k.objsubid) IS DISTINCT FROM (x.classid, x.objid, x.objsubid) AS moved
          FROM observed x
          LEFT JOIN LATERAL (
              SELECT o.* FROM (
                  SELECT o.*, 0 AS preference FROM pggit.objects o
                   WHERE o.is_active AND o.classid = x.classid AND o.objid = x.objid AND o.objsubid = x.objsubid
                  UNION ALL
                  (SELECT o.*, 1 FROM pggit.objects o WHERE o.object_type = x.object_type AND o.full_name = x.full_name
                    ORDER BY o.is_active DESC, o.id DESC LIMIT 1)
              ) o ORDER BY o.preference LIMIT 1
          ) k ON true
    ), base AS (
        -- what changed in the object itself (NULL: nothing)
        SELECT m.*, c.base_change, c.base_severity
          FROM matched m CROSS JOIN LATERAL (
              SELECT CASE
                  WHEN m.known_id IS NULL THEN CASE WHEN p_baseline THEN 'BASELINE' ELSE 'CREATE' END
                  WHEN NOT m.known_active THEN 'CREATE'
                  WHEN m.known_name <> m.full_name THEN 'RENAME'
                  WHEN m.known_definition IS NOT DISTINCT FROM m.definition THEN NULL   -- ALTER ... OWNER TO, a repeated baseline
                  WHEN p_command_tag = 'COMMENT' THEN 'COMMENT'
                  ELSE 'ALTER' END AS base_change,
                  CASE
                  WHEN m.known_id IS NULL THEN CASE WHEN p_baseline THEN 'NONE' ELSE 'MINOR' END
                  WHEN NOT m.known_active OR m.known_name <> m.full_name THEN 'MAJOR'
                  WHEN m.known_definition IS NOT DISTINCT FROM m.definition THEN NULL
                  WHEN p_command_tag = 'COMMENT' THEN 'PATCH'
                  -- a column's type changed, or NOT NULL was added: clients break
                  WHEN m.object_type = 'table column' AND m.known_signature IS DISTINCT FROM m.signature
                       AND (split_part(m.known_signature, ' NOT NULL', 1) <> split_part(m.signature, ' NOT NULL', 1)
                            OR (m.signature LIKE '% NOT NULL' AND m.known_signature NOT LIKE '% NOT NULL')) THEN 'MAJOR'
                  ELSE 'MINOR' END AS base_severity
          ) c
    ), parts_severity AS (
        -- the largest change among a scope's parts, as the scope object sees it
        SELECT (array_agg(s.severity ORDER BY pggit.severity_rank(s.severity) DESC))[1] AS severity
          FROM base p CROSS JOIN LATERAL (SELECT CASE WHEN p.object_type = 'index' THEN 'PATCH' ELSE p.base_severity END AS severity) s
         WHERE NOT p.is_scope AND p.base_change IS NOT NULL
    ), hinted AS (
        SELECT b.*,
               CASE WHEN p_scope_objid IS NULL THEN p_severity_hint
                    WHEN NOT b.is_scope THEN NULL
                    -- created in this transaction and unchanged since: it was recorded with its parts
                    WHEN b.base_change IS NULL AND b.known_created_at = now() THEN NULL
                    WHEN pggit.severity_rank(ps.severity) > pggit.severity_rank(p_severity_hint) THEN ps.severity
                    ELSE p_severity_hint
               END AS hint
          FROM base b CROSS JOIN parts_severity ps
    ), decided AS (
        -- an unchanged object is recorded when a hint says a part of it changed
        SELECT h.*,
               CASE WHEN h.base_change IS NULL AND h.hint IS NOT NULL AND NOT p_baseline THEN 'ALTER' ELSE h.base_change END AS change,
               CASE WHEN h.base_change IS NULL THEN CASE WHEN NOT p_baseline THEN h.hint END
                    WHEN h.base_change = 'ALTER' AND pggit.severity_rank(h.hint) > pggit.severity_rank(h.base_severity) THEN h.hint
                    ELSE h.base_severity END AS severity
          FROM hinted h
    ), versioned AS (
        SELECT d.*,
               CASE WHEN d.known_id IS NULL THEN 1 WHEN d.severity = 'MAJOR' THEN d.ma + 1 ELSE d.ma END AS new_major,
               CASE WHEN d.known_id IS NULL OR d.severity = 'MAJOR' THEN 0 WHEN d.severity = 'MINOR' THEN d.mi + 1 ELSE d.mi END AS new_minor,
               CASE WHEN d.known_id IS NULL OR d.severity IN ('MAJOR', 'MINOR') THEN 0 WHEN d.severity = 'PATCH' THEN d.pa + 1 ELSE d.pa END AS new_patch
          FROM decided d
    ), readdressed AS (
        -- unchanged, but at a new address (after a restore): keep the address current
        UPDATE pggit.objects o SET classid = v.classid, objid = v.objid, objsubid = v.objsubid
          FROM versioned v WHERE v.change IS NULL AND v.moved AND o.id = v.known_id
    ), created AS (
        INSERT INTO pggit.objects (object_type, full_name, schema_name, parent_name, definition, signature, classid, objid, objsubid)
        SELECT v.object_type, v.full_name, v.schema_name, v.parent_name, v.definition, v.signature, v.classid, v.objid, v.objsubid
          FROM versioned v WHERE v.known_id IS NULL
        RETURNING id, classid, objid, objsubid
    ), updated AS (
        UPDATE pggit.objects o SET
            object_type = v.object_type, full_name = v.full_name, schema_name = v.schema_name, parent_name = v.parent_name,
            definition = v.definition, signature = v.signature, is_active = true,
            classid = v.classid, objid = v.objid, objsubid = v.objsubid, updated_at = now(),
            version_major = v.new_major, version_minor = v.new_minor, version_patch = v.new_patch
          FROM versioned v WHERE v.change IS NOT NULL AND o.id = v.known_id
    ), written AS (
        INSERT INTO pggit.history (object_id, object_type, full_name, change_type, change_severity, command_tag, statement,
                                   definition_before, definition_after, version_before, version_after, old_full_name)
        SELECT coalesce(v.known_id, c.id), v.object_type, v.full_name, v.change, v.severity, p_command_tag,
               CASE WHEN p_baseline THEN NULL ELSE current_query() END,
               CASE WHEN v.known_active THEN v.known_definition END, v.definition,
               CASE WHEN v.known_id IS NOT NULL THEN pggit.version_text(v.ma, v.mi, v.pa) END,
               pggit.version_text(v.new_major, v.new_minor, v.new_patch),
               CASE WHEN v.change = 'RENAME' THEN v.known_name END
          FROM versioned v LEFT JOIN created c ON (c.classid, c.objid, c.objsubid) = (v.classid, v.objid, v.objsubid)
         WHERE v.change IS NOT NULL
         ORDER BY v.objsubid, v.classid, v.objid
    )
    SELECT array_agg(ROW(v.classid, v.objid, v.objsubid, v.object_type, v.full_name, v.schema_name, v.parent_name,
                         v.definition, v.signature)::pggit.observed),
           array_agg(v.known_name) FILTER (WHERE v.change = 'RENAME'),
           array_agg(v.full_name) FILTER (WHERE v.change = 'RENAME'),
           (array_agg(CASE WHEN v.object_type = 'index' THEN 'PATCH' ELSE v.severity END
                      ORDER BY pggit.severity_rank(CASE WHEN v.object_type = 'index' THEN 'PATCH' ELSE v.severity END) DESC))[1]
      INTO changed, renamed_from, renamed_to, parent_severity
      FROM versioned v WHERE v.change IS NOT NULL;

    IF changed IS NULL THEN
        RETURN NULL;
    END IF;
    IF renamed_from IS NOT NULL THEN
        UPDATE pggit.dependencies d SET dependency_object = r.new_name
          FROM unnest(renamed_from, renamed_to) r(old_name, new_name) WHERE d.dependency_object = r.old_name;
        UPDATE pggit.dependencies d SET dependent_object = r.new_name
          FROM unnest(renamed_from, renamed_to) r(old_name, new_name) WHERE d.dependent_object = r.old_name;
    END IF;
    -- Re-read what the changed objects depend on (pg_depend, normal and automatic dependencies). A
    -- view's query lives in its rewrite rule and a column's default in pg_attrdef, so their
    -- dependencies count as the view's and the column's. Index lookups only, no scan of pg_depend.
    DELETE FROM pggit.dependencies WHERE dependent_object IN (SELECT x.full_name FROM unnest(changed) x);
    WITH x AS (
        SELECT * FROM unnest(changed)
    ), refs AS (
        SELECT x.full_name AS dependent, d.refclassid, d.refobjid, d.refobjsubid, d.deptype
          FROM x JOIN pg_depend d ON d.classid = x.classid AND d.objid = x.objid AND d.objsubid = x.objsubid
        UNION ALL
        SELECT x.full_name, d.refclassid, d.refobjid, d.refobjsubid, d.deptype
          FROM x JOIN pg_rewrite r ON x.classid = 'pg_class'::regclass AND x.objsubid = 0 AND r.ev_class = x.objid
          JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
        UNION ALL
        SELECT x.full_name, d.refclassid, d.refobjid, d.refobjsubid, d.deptype
          FROM x JOIN pg_attrdef a ON x.classid = 'pg_class'::regclass AND x.objsubid > 0 AND a.adrelid = x.objid AND a.adnum = x.objsubid
          JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = a.oid
    )
    INSERT INTO pggit.dependencies (dependent_object, dependency_object, dependency_type)
    SELECT DISTINCT ON (r.dependent, o.full_name) r.dependent, o.full_name, r.deptype
      FROM refs r CROSS JOIN LATERAL pggit.owner_of(r.refclassid, r.refobjid, r.refobjsubid) o
     WHERE r.deptype IN ('n', 'a') AND o.full_name <> r.dependent
     ORDER BY r.dependent, o.full_name, r.deptype DESC
    ON CONFLICT (dependent_object, dependency_object) DO NOTHING;
    RETURN parent_severity;
END
$$;

-- Records one object as it is now (see sync). Returns the severity recorded, or NULL.
CREATE FUNCTION pggit.record_object(p_classid oid, p_objid oid, p_objsubid integer, p_command_tag text,
                                    p_severity_hint text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN pggit.sync(ARRAY(SELECT o FROM pggit.observe(p_classid, p_objid, p_objsubid) o), p_command_tag, p_severity_hint);
END
$$;

-- Records a table or domain with all its parts, in one sync (the object's severity is at least the
-- largest of its parts' changes). Partitions follow their parent when the
-- parent changed (ALTER on the parent reaches every partition) or when their attachment did
-- (ATTACH and DETACH PARTITION are announced on the parent only).
CREATE FUNCTION pggit.record_scope(p_classid oid, p_objid oid, p_command_tag text, p_severity_hint text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    known pggit.objects%ROWTYPE;
    observed pggit.observed[];
    own pggit.observed;
    own_changed boolean;
    severity text;
    partition oid;
BEGIN
    SELECT * INTO known FROM pggit.objects o
     WHERE o.is_active AND o.classid = p_classid AND o.objid = p_objid AND o.objsubid = 0;
    -- Of a known table only the parts this transaction wrote, which is what changed: parts whose
    -- text changes without a write of their own (an index printing a renamed column) are re-read
    -- by record_dependents. Everything when the table is new or renamed (its parts' names change
    -- with it), and for COMMENT (removing a comment writes no row of the part's).
    observed := ARRAY(SELECT p FROM pggit.scope_objects(p_classid, p_objid,
        known.id IS NOT NULL AND p_command_tag <> 'COMMENT'
        AND known.full_name = (pg_identify_object(p_classid, p_objid, 0)).identity) p);
    SELECT * INTO own FROM unnest(observed) x WHERE x.classid = p_classid AND x.objid = p_objid AND x.objsubid = 0;
    IF own.full_name IS NULL THEN
        RETURN NULL;   -- not tracked
    END IF;
    own_changed := known.id IS NULL OR known.full_name <> own.full_name OR known.definition IS DISTINCT FROM own.definition;

    severity := pggit.sync(observed, p_command_tag, p_severity_hint, false, p_classid, p_objid);

    -- Only a partitioned table has partitions to follow (or had: detached ones).
    IF p_classid = 'pg_class'::regclass AND (SELECT c.relkind FROM pg_class c WHERE c.oid = p_objid) = 'p' THEN
        FOR partition IN
            -- attached now: follow the parent's change, or a new attachment
            SELECT i.inhrelid FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              LEFT JOIN pggit.objects o ON o.is_active AND o.classid = 'pg_class'::regclass AND o.objid = i.inhrelid AND o.objsubid = 0
             WHERE i.inhparent = p_objid AND c.relkind IN ('r', 'p', 'f')
               AND (own_changed OR o.id IS NULL OR o.object_type <> 'partition')
            UNION
            -- recorded as this table's partition but no longer attached: detached
            SELECT o.objid FROM pggit.objects o
             WHERE o.is_active AND o.object_type = 'partition' AND o.parent_name = known.full_name
               AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = o.objid AND i.inhparent = p_objid)
        LOOP
            PERFORM pggit.record_scope(p_classid, partition, p_command_tag);
        END LOOP;
    END IF;
    RETURN severity;
END
$$;

-- Objects whose definition prints the name or definition of a changed object (a view names the
-- columns it reads, an index its columns, a foreign key the referenced table) are re-read after
-- the statement: a rename changes their text without any DDL of their own.
CREATE FUNCTION pggit.record_dependents(p_changed text[], p_command_tag text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    dependent record;
    changed_parents text[] := '{}';
BEGIN
    FOR dependent IN
        SELECT DISTINCT o.classid, o.objid, o.objsubid, o.parent_name
          FROM pggit.dependencies d
          JOIN pggit.objects o ON o.is_active AND o.full_name = d.dependent_object
         WHERE d.dependency_object = ANY (p_changed) AND o.full_name <> ALL (p_changed)
    LOOP
        IF pggit.record_object(dependent.classid, dependent.objid, dependent.objsubid, p_command_tag) IS NOT NULL
           AND dependent.parent_name IS NOT NULL THEN
            changed_parents := changed_parents || dependent.parent_name;
        END IF;
    END LOOP;
    -- A table prints its constraints: a foreign key that now names another column changes it too.
    PERFORM pggit.record_object(o.classid, o.objid, 0, p_command_tag)
       FROM pggit.objects o
      WHERE o.is_active AND o.objsubid = 0 AND o.object_type IN ('table', 'partition', 'foreign table', 'domain')
        AND o.full_name = ANY (changed_parents) AND o.full_name <> ALL (p_changed);
END
$$;

-- Tracking must never break a user's DDL: errors are recorded, and re-raised only in strict mode.
CREATE FUNCTION pggit.record_tracking_error(p_command_tag text, p_sqlstate text, p_message text, p_detail text, p_context text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pggit.tracking_errors (command_tag, statement, sqlstate, message, detail, context)
    VALUES (p_command_tag, current_query(), p_sqlstate, p_message, p_detail, p_context);
    IF (SELECT strict_mode FROM pggit.settings) THEN
        RAISE EXCEPTION 'pggit tracking failed (strict mode): %', p_message USING ERRCODE = p_sqlstate, DETAIL = p_detail;
    END IF;
END
$$;

-- Marks the columns of a dropped table as dropped, each with its own history row.
CREATE FUNCTION pggit.drop_columns_of(p_table text) RETURNS void
LANGUAGE sql AS $$
    WITH old AS (
        SELECT * FROM pggit.objects o WHERE o.is_active AND o.parent_name = p_table AND o.object_type = 'table column'
    ), gone AS (
        UPDATE pggit.objects o SET is_active = false, updated_at = now(),
               version_major = o.version_major + 1, version_minor = 0, version_patch = 0
          FROM old WHERE o.id = old.id
    ), deps AS (
        DELETE FROM pggit.dependencies WHERE dependent_object IN (SELECT full_name FROM old)
                                          OR dependency_object IN (SELECT full_name FROM old)
    )
    INSERT INTO pggit.history (object_id, object_type, full_name, change_type, change_severity, command_tag, statement,
                               definition_before, definition_after, version_before, version_after)
    SELECT old.id, old.object_type, old.full_name, 'DROP', 'MAJOR', 'DROP TABLE', current_query(), old.definition, NULL,
           pggit.version_text(old.version_major, old.version_minor, old.version_patch),
           pggit.version_text(old.version_major + 1, 0, 0)
      FROM old;
$$;

-- The sql_drop trigger tells ddl_command_end of the same ALTER TABLE which tables lost a part,
-- through a transaction-local setting, so nothing outlives the statement's transaction.
CREATE FUNCTION pggit.track_dropped_objects(tag text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    obj pggit.objects%ROWTYPE;
    dropped text[] := '{}';
    touched jsonb := '{}';
    parent text;
BEGIN
    FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
        SELECT * INTO obj FROM pggit.objects o
         WHERE o.is_active AND ((o.classid = r.classid AND o.objid = r.objid AND o.objsubid = r.objsubid)
                                OR (o.full_name = r.object_identity AND o.object_type = CASE r.object_type
                                        WHEN 'composite type' THEN 'type' WHEN 'enum type' THEN 'type' ELSE r.object_type END))
         ORDER BY (o.classid = r.classid AND o.objid = r.objid) DESC
         LIMIT 1;
        CONTINUE WHEN NOT FOUND;
        UPDATE pggit.objects SET is_active = false, updated_at = now(),
               version_major = version_major + 1, version_minor = 0, version_patch = 0
         WHERE id = obj.id;
        INSERT INTO pggit.history (object_id, object_type, full_name, change_type, change_severity, command_tag, statement,
                                   definition_before, definition_after, version_before, version_after)
        VALUES (obj.id, obj.object_type, obj.full_name, 'DROP', 'MAJOR', tag, current_query(),
                obj.definition, NULL,
                pggit.version_text(obj.version_major, obj.version_minor, obj.version_patch),
                pggit.version_text(obj.version_major + 1, 0, 0));
        DELETE FROM pggit.dependencies WHERE dependent_object = obj.full_name OR dependency_object = obj.full_name;
        dropped := dropped || obj.full_name;
        IF obj.object_type IN ('table', 'partition', 'foreign table') THEN
            PERFORM pggit.drop_columns_of(obj.full_name);   -- columns are not listed among dropped objects
        END IF;
        IF obj.parent_name IS NOT NULL THEN
            touched := touched || jsonb_build_object(obj.parent_name,
                CASE WHEN obj.object_type = 'index' THEN 'PATCH' ELSE 'MAJOR' END);
        END IF;
    END LOOP;
    -- Parents that survive the statement get a new version for the part they lost. ALTER TABLE
    -- reaches ddl_command_end too, which records the table itself; hand it the severity.
    FOR parent IN SELECT jsonb_object_keys(touched) LOOP
        CONTINUE WHEN parent = ANY (dropped);
        IF tag = 'ALTER TABLE' THEN
            PERFORM set_config('pggit.lost_parts', coalesce(current_setting('pggit.lost_parts', true), '') || parent || E'\n', true);
        ELSE
            PERFORM pggit.record_object(o.classid, o.objid, 0, tag, touched ->> parent)
               FROM pggit.objects o WHERE o.is_active AND o.full_name = parent AND o.objsubid = 0;
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION pggit.track_ddl_commands(tag text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    lost text[] := string_to_array(rtrim(coalesce(current_setting('pggit.lost_parts', true), ''), E'\n'), E'\n');
    history_before bigint := (SELECT coalesce(max(h.id), 0) FROM pggit.history h);
    command record;
    standalone pggit.observed[] := '{}';
    renamed text[];
BEGIN
    PERFORM set_config('pggit.lost_parts', '', true);
    -- Tables and domains are recorded whole, also when the statement named only a part of one
    -- (CREATE INDEX, CREATE TRIGGER, RENAME COLUMN, COMMENT ON COLUMN): the part and its table
    -- both get a version. Objects that stand alone (views, functions, sequences, types, schemas)
    -- are recorded together afterwards.
    FOR command IN
        SELECT c.classid, c.objid, c.objsubid, s.classid AS scope_classid, s.objid AS scope_objid,
               row_number() OVER (PARTITION BY s.classid, s.objid) AS nth
          FROM (SELECT DISTINCT c.classid, c.objid, c.objsubid FROM pg_event_trigger_ddl_commands() c WHERE NOT c.in_extension) c
          LEFT JOIN LATERAL pggit.scope_of(c.classid, c.objid) s ON true
    LOOP
        IF command.scope_objid IS NULL THEN
            standalone := standalone || ARRAY(SELECT o FROM pggit.observe(command.classid, command.objid, command.objsubid) o);
        ELSIF command.nth = 1 THEN
            PERFORM pggit.record_scope(command.scope_classid, command.scope_objid, tag,
                CASE WHEN (pg_identify_object(command.scope_classid, command.scope_objid, 0)).identity = ANY (lost) THEN 'MAJOR' END);
        END IF;
    END LOOP;
    PERFORM pggit.sync(standalone, tag);
    -- Only a rename changes the text of its dependents (a column whose type changes cannot be
    -- used by a view; indexes and foreign keys print names, not types).
    renamed := ARRAY(SELECT DISTINCT h.full_name FROM pggit.history h
                      WHERE h.id > history_before AND h.transaction_id = pg_current_xact_id()
                        AND h.change_type = 'RENAME');
    IF cardinality(renamed) > 0 THEN
        PERFORM pggit.record_dependents(renamed, tag);
    END IF;
END
$$;

-- Records every tracked object not yet known (all of them on a fresh install), as version 1.0.0.
-- Safe to run again: known objects are left as they are. Returns how many it added.
CREATE FUNCTION pggit.baseline() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
DECLARE
    fresh pggit.observed[] := ARRAY(
        SELECT o FROM pggit.observe_all() o
         WHERE NOT EXISTS (SELECT 1 FROM pggit.objects k WHERE k.is_active AND k.object_type = o.object_type AND k.full_name = o.full_name));
BEGIN
    PERFORM pggit.sync(fresh, 'BASELINE', NULL, true);
    RETURN cardinality(fresh);
END
$$;

-- configure_tracking(schemas => ARRAY[...], exclude_temp_tables => true, track_system_objects => false)
-- NULL leaves a setting as it is; pass schemas => '{}'::text[]... to track nothing, or call
-- pggit.track_all_schemas() to go back to every non-system schema. Newly tracked schemas are baselined.
CREATE FUNCTION pggit.configure_tracking(schemas text[] DEFAULT NULL, exclude_temp_tables boolean DEFAULT NULL,
                                         track_system_objects boolean DEFAULT NULL, strict_mode boolean DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
DECLARE
    missing text[];
    s pggit.settings%ROWTYPE;
BEGIN
    IF schemas IS NOT NULL AND array_position(schemas, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'configure_tracking: schemas must not contain NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    missing := ARRAY(SELECT x FROM unnest(schemas) x WHERE NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = x));
    IF cardinality(missing) > 0 THEN
        RAISE NOTICE 'configure_tracking: schemas % do not exist yet; they will be tracked once created', missing;
    END IF;
    UPDATE pggit.settings SET
        tracked_schemas = coalesce(configure_tracking.schemas, settings.tracked_schemas),
        exclude_temp_tables = coalesce(configure_tracking.exclude_temp_tables, settings.exclude_temp_tables),
        track_system_objects = coalesce(configure_tracking.track_system_objects, settings.track_system_objects),
        strict_mode = coalesce(configure_tracking.strict_mode, settings.strict_mode),
        updated_at = now()
    RETURNING * INTO s;
    PERFORM pggit.baseline();
    RETURN jsonb_build_object('schemas', s.tracked_schemas, 'exclude_temp_tables', s.exclude_temp_tables,
                              'track_system_objects', s.track_system_objects, 'strict_mode', s.strict_mode);
END
$$;

CREATE FUNCTION pggit.track_all_schemas() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
BEGIN
    UPDATE pggit.settings SET tracked_schemas = NULL, updated_at = now();
    RETURN pggit.configure_tracking();
END
$$;

-- The canonical identity of whatever `name` denotes to PostgreSQL (with the caller's search_path
-- and quoting rules): a relation, a function with or without its argument list, a type or a schema.
CREATE FUNCTION pggit.resolve_name(name text) RETURNS text
LANGUAGE plpgsql STABLE AS $$   -- no fixed search_path: names resolve as the caller sees them
DECLARE
    kind text;
    identity text;
BEGIN
    FOREACH kind IN ARRAY ARRAY['pg_class', 'pg_proc_args', 'pg_proc', 'pg_type', 'pg_namespace'] LOOP
        BEGIN
            -- The to_reg* functions return NULL for a missing object but raise on malformed
            -- input (e.g. 'a.b.c.d', or a name without parentheses for to_regprocedure).
            identity := CASE kind
                WHEN 'pg_class' THEN (pg_catalog.pg_identify_object('pg_catalog.pg_class'::pg_catalog.regclass, pg_catalog.to_regclass(name), 0)).identity
                WHEN 'pg_proc_args' THEN (pg_catalog.pg_identify_object('pg_catalog.pg_proc'::pg_catalog.regclass, pg_catalog.to_regprocedure(name), 0)).identity
                WHEN 'pg_proc' THEN (pg_catalog.pg_identify_object('pg_catalog.pg_proc'::pg_catalog.regclass, pg_catalog.to_regproc(name), 0)).identity
                WHEN 'pg_type' THEN (pg_catalog.pg_identify_object('pg_catalog.pg_type'::pg_catalog.regclass, pg_catalog.to_regtype(name), 0)).identity
                WHEN 'pg_namespace' THEN (pg_catalog.pg_identify_object('pg_catalog.pg_namespace'::pg_catalog.regclass, pg_catalog.to_regnamespace(name), 0)).identity
            END;
        EXCEPTION WHEN OTHERS THEN
            identity := NULL;
        END;
        IF identity IS NOT NULL THEN RETURN identity; END IF;
    END LOOP;
    RETURN NULL;
END
$$;

-- get_version('public.film'), get_version('film') (resolved through the caller's search_path),
-- get_version('public.film.title'), get_version('public.last_day(timestamp with time zone)').
-- NULL for an object pggit does not track (such as 'pg_class' with track_system_objects off).
CREATE FUNCTION pggit.get_version(object_name text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT pggit.version_text(o.version_major, o.version_minor, o.version_patch)
      FROM pggit.objects o
     WHERE o.is_active AND o.full_name IN (object_name, pggit.resolve_name(object_name))
     ORDER BY o.full_name = object_name DESC, o.objsubid, o.id
     LIMIT 1
$$;

-- The event triggers' entry point runs as the role that issued the DDL: it notes who that is,
-- then hands over to the tracking functions, which run as pggit's owner (so that roles without
-- rights on pggit still have their DDL recorded).
-- Runs the tracking for one event inside a subtransaction: whatever fails is recorded, and the
-- user's statement goes on (strict mode re-raises).
CREATE FUNCTION pggit.track_event(event text, tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    err_state text; err_message text; err_detail text; err_context text;
BEGIN
    IF event = 'sql_drop' THEN
        PERFORM pggit.track_dropped_objects(tag);
    ELSE
        PERFORM pggit.track_ddl_commands(tag);
    END IF;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                            err_detail = PG_EXCEPTION_DETAIL, err_context = PG_EXCEPTION_CONTEXT;
    PERFORM pggit.record_tracking_error(tag, err_state, err_message, err_detail, err_context);
END
$$;

CREATE FUNCTION pggit.on_ddl_event() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pggit AS $$
BEGIN
    PERFORM set_config('pggit.actor', current_user, true);
    PERFORM pggit.track_event(tg_event, tg_tag);
END
$$;

CREATE EVENT TRIGGER pggit_ddl_command_end ON ddl_command_end EXECUTE FUNCTION pggit.on_ddl_event();
CREATE EVENT TRIGGER pggit_sql_drop ON sql_drop EXECUTE FUNCTION pggit.on_ddl_event();

SELECT pggit.baseline();

-- Any role's DDL fires the entry points, which call into pggit: every role needs the schema.
-- Functions that write pggit's records are for pggit itself and its administrators only.
GRANT USAGE ON SCHEMA pggit TO PUBLIC;
REVOKE EXECUTE ON FUNCTION pggit.record_object(oid, oid, integer, text, text),
                           pggit.sync(pggit.observed[], text, text, boolean, oid, oid),
                           pggit.record_scope(oid, oid, text, text),
                           pggit.record_dependents(text[], text),
                           pggit.drop_columns_of(text),
                           pggit.record_tracking_error(text, text, text, text, text),
                           pggit.baseline(),
                           pggit.configure_tracking(text[], boolean, boolean, boolean),
                           pggit.track_all_schemas(),
                           pggit.track_ddl_commands(text),
                           pggit.track_dropped_objects(text)
    FROM PUBLIC;
